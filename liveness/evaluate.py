"""Per-clip evaluation on a labelled manifest: ISO/IEC 30107-3 metrics, DET plot, calibration.

The manifest is a CSV shaped like ``../shared/data/clips/manifest.csv``: columns ``file``,
``label`` (``live`` or ``attack``), ``attack_type`` (empty for live clips) and ``subject``, paths
relative to the CSV. Each clip is checked once through the chosen backend; its pair scores and
planarity values are kept, so any threshold can be applied afterwards without checking again.

Metrics (SPEC §6), per clip: APCER of an attack type = its attacks accepted as live / its decided
attacks; APCER = the worst type's; BPCER = live clips rejected as spoof / decided live clips;
ACER = (APCER + BPCER) / 2. ``undecided`` clips are neither accepted nor rejected: they are left
out of APCER and BPCER and reported as the undecided rate beside them (per label).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from liveness.clip import clip_decision
from liveness.config import LivenessConfig
from liveness.results import PairStatus, Reason, Verdict

BACKENDS = ("opencv", "graph", "tflite")


@dataclass(frozen=True)
class ManifestRow:
    """One labelled clip."""

    file: Path
    label: str
    attack_type: str
    subject: str


@dataclass(frozen=True)
class ClipRecord:
    """What checking one clip gave; pair values kept for re-thresholding."""

    file: str
    label: str
    attack_type: str
    subject: str
    face_reason: str | None
    """``no_face`` or ``multiple_faces`` when no pair had a face to check (a clip without enough
    pairs is undecided by the cues themselves: ``too_few_pairs``)."""
    pair_scores: tuple[float, ...] = field(repr=False)
    """Chi-square scores of the pairs that have one."""
    pair_planarity: tuple[float, ...] = field(repr=False, default=())
    """Residual ratios of the pairs moving enough to judge planarity."""
    pairs_with_face: int = 0

    def score(self) -> float | None:
        """Median chi-square score (None without any scored pair or without a face)."""
        return None if self.face_reason or not self.pair_scores else float(np.median(self.pair_scores))

    def planarity(self) -> float | None:
        """Median residual ratio (None without any judged pair or without a face)."""
        return (None if self.face_reason or not self.pair_planarity
                else float(np.median(self.pair_planarity)))

    def outcome(self, cfg: LivenessConfig) -> tuple[Verdict, str | None]:
        """The clip's verdict and undecided reason under ``cfg`` (its thresholds and decision)."""
        if self.face_reason:
            return Verdict.UNDECIDED, self.face_reason
        verdict, reason = clip_decision(np.array(self.pair_scores), np.array(self.pair_planarity),
                                        self.pairs_with_face, cfg)
        return verdict, None if reason is None else reason.value

    def verdict(self, cfg: LivenessConfig) -> Verdict:
        """The clip's verdict under ``cfg``."""
        return self.outcome(cfg)[0]


@dataclass(frozen=True)
class Metrics:
    """Per-clip error rates at one threshold (fractions in [0, 1]; NaN when a class is empty)."""

    threshold: float
    apcer: float
    apcer_per_type: dict[str, float]
    bpcer: float
    acer: float
    undecided_rate: float
    undecided_live_rate: float
    clips: int


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows of a manifest CSV; ``ValueError`` naming what is missing or wrong."""
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found")
    with path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        needed = {"file", "label", "attack_type", "subject"}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)} (expected file, label, "
                             "attack_type, subject, ...)")
        rows = []
        for number, row in enumerate(reader, start=2):
            label = row["label"].strip()
            if label not in ("live", "attack"):
                raise ValueError(f"{path}:{number}: label must be 'live' or 'attack', got {label!r}")
            rows.append(ManifestRow(path.parent / row["file"].strip(), label,
                                    row["attack_type"].strip() or ("" if label == "live" else "attack"),
                                    row["subject"].strip()))
    if not rows:
        raise ValueError(f"{path}: no clips listed")
    return rows


def make_scorer(backend: str, cfg: LivenessConfig, model_dir: Path | None):
    """The pair scorer of a backend: the OpenCV reference, the TF graph, or the exported TFLite."""
    if backend == "opencv":
        from liveness.reference import check_pair

        return check_pair
    if backend == "graph":
        from liveness.scorers import GraphScorer

        return GraphScorer(cfg)
    if backend == "tflite":
        if model_dir is None:
            raise ValueError("--backend tflite needs --model-dir (a folder from `liveness export`)")
        from mobile_demo.lite_check import LiteScorer, load_manifest

        return LiteScorer(model_dir, load_manifest(model_dir))
    raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")


def check_clips(rows: list[ManifestRow], cfg: LivenessConfig, backend: str = "opencv",
                model_dir: Path | None = None, quiet: bool = False) -> list[ClipRecord]:
    """Check every clip once; the records keep what any threshold needs."""
    from liveness.clip import ClipChecker
    from liveness.video import read_video

    checker = ClipChecker(cfg, scorer=make_scorer(backend, cfg, model_dir))
    records = []
    for row in tqdm(rows, desc=f"checking ({backend})", unit="clip", disable=quiet):
        verdict = checker.check(read_video(row.file), source=str(row.file)).verdict
        with_face = [p for p in verdict.pairs
                     if p.status in (PairStatus.SCORED, PairStatus.INSUFFICIENT_MOTION)]
        face_missing = verdict.reason in (Reason.NO_FACE, Reason.MULTIPLE_FACES)
        reason = verdict.reason.value if face_missing else None
        records.append(ClipRecord(
            row.file.name, row.label, row.attack_type, row.subject, reason,
            pair_scores=tuple(p.score for p in with_face if p.score is not None),
            pair_planarity=tuple(p.planarity for p in with_face if p.planarity is not None),
            pairs_with_face=len(with_face)))
    return records


def metrics(records: list[ClipRecord], cfg: LivenessConfig) -> Metrics:
    """APCER (per type and worst), BPCER, ACER and undecided rates under ``cfg``."""
    return rates([(r, r.verdict(cfg)) for r in records], cfg.threshold)


def rates(verdicts: list[tuple[ClipRecord, Verdict]], threshold: float) -> Metrics:
    """The metrics of given per-clip verdicts (``threshold`` is only recorded)."""
    decided = [(r, v) for r, v in verdicts if v is not Verdict.UNDECIDED]
    per_type = {}
    for kind in sorted({r.attack_type for r, _v in verdicts if r.label == "attack"}):
        attacks = [v for r, v in decided if r.label == "attack" and r.attack_type == kind]
        per_type[kind] = _share(attacks, Verdict.LIVE)
    known = [a for a in per_type.values() if not np.isnan(a)]
    apcer = max(known) if known else float("nan")
    bpcer = _share([v for r, v in decided if r.label == "live"], Verdict.SPOOF)
    return Metrics(
        threshold=threshold, apcer=apcer, apcer_per_type=per_type, bpcer=bpcer,
        acer=(apcer + bpcer) / 2,
        undecided_rate=_share([v for _r, v in verdicts], Verdict.UNDECIDED),
        undecided_live_rate=_share([v for r, v in verdicts if r.label == "live"], Verdict.UNDECIDED),
        clips=len(verdicts))


def _share(verdicts: list[Verdict], which: Verdict) -> float:
    return float(np.mean([v is which for v in verdicts])) if verdicts else float("nan")


def candidate_thresholds(records: list[ClipRecord]) -> np.ndarray:
    """Midpoints between consecutive distinct clip scores, plus the ends of [0, 200]."""
    scores = np.unique([s for r in records if (s := r.score()) is not None])
    middle = (scores[1:] + scores[:-1]) / 2 if len(scores) > 1 else np.array([])
    return np.unique(np.concatenate([[0.0, 200.0], middle, np.clip(scores - 1e-3, 0, 200)]))


def calibrate(records: list[ClipRecord], cfg: LivenessConfig,
              target_apcer: float | None = None) -> float:
    """A chi-square threshold from ``records`` (the rest of ``cfg`` fixed): the equal-error point
    (smallest |APCER - BPCER|, then smallest ACER), or the lowest BPCER with APCER <=
    ``target_apcer``. Among thresholds that tie, the middle of their range (equal error; the
    middle tied candidate when the range's middle does not tie) or the highest (target APCER).
    The planarity threshold is not tuned (docs/decisions.md)."""
    def key(threshold: float) -> tuple | None:
        m = metrics(records, cfg.replace(threshold=threshold))
        if np.isnan(m.apcer) or np.isnan(m.bpcer):
            return None
        if target_apcer is None:
            return abs(m.apcer - m.bpcer), m.acer
        return (m.bpcer,) if m.apcer <= target_apcer else None

    keyed = [(k, float(t)) for t in candidate_thresholds(records) if (k := key(float(t))) is not None]
    if not keyed:
        return cfg.threshold
    best = min(k for k, _t in keyed)
    ties = sorted(t for k, t in keyed if k == best)
    if target_apcer is not None:
        return ties[-1]
    middle = (ties[0] + ties[-1]) / 2
    return middle if key(middle) == best else ties[len(ties) // 2]


def leave_one_subject_out(records: list[ClipRecord], cfg: LivenessConfig,
                          target_apcer: float | None = None) -> tuple[Metrics, dict[str, float]]:
    """Metrics when each subject's clips are judged at a threshold calibrated on the others only.

    Returns the pooled metrics (``threshold`` is NaN: there is one per subject) and the
    per-subject thresholds.
    """
    thresholds = {}
    judged = []
    for subject in sorted({r.subject for r in records}):
        others = [r for r in records if r.subject != subject]
        thresholds[subject] = calibrate(others, cfg, target_apcer)
        judged += [(r, thresholds[subject]) for r in records if r.subject == subject]
    pooled = rates([(r, r.verdict(cfg.replace(threshold=t))) for r, t in judged], float("nan"))
    return pooled, thresholds


def det_plot(records: list[ClipRecord], cfg: LivenessConfig, path: Path) -> None:
    """APCER and BPCER against the chi-square threshold (at ``cfg.threshold`` marked), and the
    DET-style trade-off, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0, 200, 401)
    threshold = cfg.threshold
    curve = [metrics(records, cfg.replace(threshold=float(t))) for t in grid]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(grid, [100 * m.apcer for m in curve], label="APCER (worst attack type)")
    left.plot(grid, [100 * m.bpcer for m in curve], label="BPCER")
    left.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.1f}")
    left.set_xlabel("threshold on the clip score k")
    left.set_ylabel("% of decided clips")
    left.legend()
    right.plot([100 * m.apcer for m in curve], [100 * m.bpcer for m in curve], ".-")
    chosen = metrics(records, cfg)
    right.plot([100 * chosen.apcer], [100 * chosen.bpcer], "o", color="black",
               label="chosen threshold")
    right.set_xlabel("APCER %")
    right.set_ylabel("BPCER %")
    right.set_title("trade-off over thresholds (per clip)")
    right.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_outputs(out_dir: Path, records: list[ClipRecord], cfg: LivenessConfig, backend: str,
                  threshold: float, manifest: Path) -> dict:
    """``clips.csv``, ``summary.json`` and ``det.png`` in ``out_dir``; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = cfg.replace(threshold=threshold)
    m = metrics(records, cfg)
    loso, per_subject = leave_one_subject_out(records, cfg)
    clips = []
    for r in records:
        score, planarity = r.score(), r.planarity()
        verdict, reason = r.outcome(cfg)
        clips.append({"file": r.file, "label": r.label, "attack_type": r.attack_type,
                      "subject": r.subject, "score": None if score is None else round(score, 4),
                      "planarity": None if planarity is None else round(planarity, 4),
                      "verdict": verdict.value, "reason": reason,
                      "pairs_scored": len(r.pair_scores),
                      "pairs_planarity": len(r.pair_planarity)})
    with (out_dir / "clips.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(clips[0]))
        writer.writeheader()
        writer.writerows(clips)
    summary = {**{k: v for k, v in asdict(m).items()}, "backend": backend, "preset": cfg.preset,
               "aggregation": cfg.aggregation, "decision": cfg.decision,
               "planarity_threshold": cfg.planarity_threshold, "manifest": str(manifest),
               "clips": clips,
               "leave_one_subject_out": {**asdict(loso), "thresholds": per_subject}}
    (out_dir / "summary.json").write_text(json.dumps(_no_nan(summary), indent=1) + "\n")
    det_plot(records, cfg, out_dir / "det.png")
    return summary


def _no_nan(value):
    """NaN (an empty class) as JSON null."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value
