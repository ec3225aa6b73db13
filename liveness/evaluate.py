"""Per-clip evaluation on a labelled manifest: ISO/IEC 30107-3 metrics, DET plot, calibration.

The manifest is a CSV shaped like ``../shared/data/clips/manifest.csv``: columns ``file``,
``label`` (``live`` or ``attack``), ``attack_type`` (empty for live clips) and ``subject``, paths
relative to the CSV. Each clip is checked once through the chosen backend; every cue's evidence
(``liveness.cues.ClipEvidence``) is kept, so any threshold or decision can be applied afterwards
without checking again.

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

from liveness.config import LivenessConfig
from liveness.cues import CUES, ClipEvidence, decide
from liveness.results import Verdict

#: The config field that calibration tunes for each decision (motion's thresholds are set by
#: principle, docs/decisions.md; ``fused`` tunes the cue that can say live).
CALIBRATED = {"chi_square": ("chi_square", "threshold"), "texture": ("texture", "texture_threshold"),
              "fused": ("texture", "texture_threshold")}

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
    """What checking one clip gave; the cue evidence is kept for re-thresholding."""

    file: str
    label: str
    attack_type: str
    subject: str
    face_reason: str | None
    """``no_face``, ``multiple_faces`` or ``too_few_pairs`` when no pair had a face to check."""
    evidence: ClipEvidence = field(repr=False, default=ClipEvidence(0))

    def cue_score(self, cue: str, cfg: LivenessConfig) -> float | None:
        """The clip statistic of ``cue`` (None without evidence or without a face)."""
        return None if self.face_reason else CUES[cue](self.evidence, cfg).score

    def outcome(self, cfg: LivenessConfig) -> tuple[Verdict, str | None]:
        """The clip's verdict and undecided reason under ``cfg`` (its thresholds and decision)."""
        if self.face_reason:
            return Verdict.UNDECIDED, self.face_reason
        verdict, reason, _opinions = decide(self.evidence, cfg)
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
    from liveness.clip import ClipChecker, clip_evidence, face_outcome
    from liveness.video import read_video

    checker = ClipChecker(cfg, scorer=make_scorer(backend, cfg, model_dir))
    records = []
    for row in tqdm(rows, desc=f"checking ({backend})", unit="clip", disable=quiet):
        verdict = checker.check(read_video(row.file), source=str(row.file)).verdict
        missing = face_outcome(list(verdict.pairs))
        records.append(ClipRecord(row.file.name, row.label, row.attack_type, row.subject,
                                  None if missing is None else missing.value,
                                  clip_evidence(list(verdict.pairs), list(verdict.texture))))
    return records


def metrics(records: list[ClipRecord], cfg: LivenessConfig) -> Metrics:
    """APCER (per type and worst), BPCER, ACER and undecided rates under ``cfg``."""
    return rates([(r, r.verdict(cfg)) for r in records], calibrated_threshold(cfg))


def calibrated_threshold(cfg: LivenessConfig) -> float:
    """The value of the threshold that calibration tunes for ``cfg.decision`` (NaN for motion)."""
    if cfg.decision not in CALIBRATED:
        return float("nan")
    return float(getattr(cfg, CALIBRATED[cfg.decision][1]))


def with_threshold(cfg: LivenessConfig, threshold: float) -> LivenessConfig:
    """``cfg`` with the threshold of its decision's calibrated cue set to ``threshold``."""
    if cfg.decision not in CALIBRATED:
        return cfg
    return cfg.replace(**{CALIBRATED[cfg.decision][1]: float(threshold)})


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


def candidate_thresholds(records: list[ClipRecord], cfg: LivenessConfig) -> np.ndarray:
    """The distinct clip statistics of the calibrated cue (a clip at exactly the threshold is
    rejected), just below each, the midpoints between consecutive ones, and the ends of the
    range: so a tied range of thresholds is represented by both of its edges."""
    cue, _field = CALIBRATED[cfg.decision]
    top = 200.0 if cue == "chi_square" else 1.0
    scores = np.unique([s for r in records if (s := r.cue_score(cue, cfg)) is not None])
    middle = (scores[1:] + scores[:-1]) / 2 if len(scores) > 1 else np.array([])
    return np.unique(np.concatenate([[0.0, top], scores, middle,
                                     np.clip(scores - 1e-6 * top, 0, top)]))


def calibrate(records: list[ClipRecord], cfg: LivenessConfig,
              target_apcer: float | None = None) -> float:
    """The threshold of the decision's calibrated cue (:data:`CALIBRATED`) from ``records``, the
    rest of ``cfg`` fixed: the equal-error point (smallest |APCER - BPCER|, then smallest ACER),
    or the lowest BPCER with APCER <= ``target_apcer``. Among thresholds that tie, the middle of
    their range (equal error; the middle tied candidate when the range's middle does not tie) or
    the highest (target APCER). ``motion`` has nothing to calibrate: its threshold comes back."""
    if cfg.decision not in CALIBRATED:
        return calibrated_threshold(cfg)

    def key(threshold: float) -> tuple | None:
        m = metrics(records, with_threshold(cfg, threshold))
        if np.isnan(m.apcer) or np.isnan(m.bpcer):
            return None
        if target_apcer is None:
            return abs(m.apcer - m.bpcer), m.acer
        return (m.bpcer,) if m.apcer <= target_apcer else None

    keyed = [(k, float(t)) for t in candidate_thresholds(records, cfg)
             if (k := key(float(t))) is not None]
    if not keyed:
        return calibrated_threshold(cfg)
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
    pooled = rates([(r, r.verdict(with_threshold(cfg, t))) for r, t in judged], float("nan"))
    return pooled, thresholds


def det_plot(records: list[ClipRecord], cfg: LivenessConfig, path: Path) -> None:
    """One DET-style curve (BPCER against APCER over the cue's threshold) per cue that has a
    threshold to sweep (chi-square, texture), the fused check's and the motion cue's operating
    points, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 5))
    for cue, field_name, top in (("chi_square", "threshold", 200.0),
                                 ("texture", "texture_threshold", 1.0)):
        alone = cfg.replace(decision=cue)
        curve = [metrics(records, alone.replace(**{field_name: float(t)}))
                 for t in np.linspace(0, top, 201)]
        axes.plot([100 * m.apcer for m in curve], [100 * m.bpcer for m in curve], ".-",
                  markersize=3, label=f"{cue} alone (threshold swept)")
        chosen = metrics(records, alone)
        axes.plot([100 * chosen.apcer], [100 * chosen.bpcer], "o", color="black")
    for decision, marker in (("motion", "s"), ("fused", "*")):
        point = metrics(records, cfg.replace(decision=decision))
        axes.plot([100 * point.apcer], [100 * point.bpcer], marker, markersize=11,
                  label=f"{decision} at the config's thresholds")
    axes.set_xlabel("APCER % (worst attack type, decided clips)")
    axes.set_ylabel("BPCER % (decided live clips)")
    axes.set_title("per-clip error trade-off per cue (black dots: the config's thresholds)",
                   fontsize=9)
    axes.set_xlim(-3, 103)
    axes.set_ylim(-3, 103)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_outputs(out_dir: Path, records: list[ClipRecord], cfg: LivenessConfig, backend: str,
                  threshold: float, manifest: Path) -> dict:
    """``clips.csv``, ``summary.json`` and ``det.png`` in ``out_dir``; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = with_threshold(cfg, threshold)
    m = metrics(records, cfg)
    loso, per_subject = leave_one_subject_out(records, cfg)
    clips = []
    for r in records:
        verdict, reason = r.outcome(cfg)
        row = {"file": r.file, "label": r.label, "attack_type": r.attack_type,
               "subject": r.subject, "verdict": verdict.value, "reason": reason}
        for cue in CUES:
            score = r.cue_score(cue, cfg)
            row[cue] = None if score is None else round(score, 4)
            row[f"{cue}_verdict"] = r.outcome(cfg.replace(decision=cue))[0].value
        clips.append(row)
    with (out_dir / "clips.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(clips[0]))
        writer.writeheader()
        writer.writerows(clips)
    summary = {**{k: v for k, v in asdict(m).items()}, "backend": backend, "preset": cfg.preset,
               "aggregation": cfg.aggregation, "decision": cfg.decision,
               "calibrated_field": CALIBRATED.get(cfg.decision, (None, None))[1],
               "manifest": str(manifest),
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
