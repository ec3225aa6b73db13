"""Parity of the TensorFlow graph with the OpenCV reference on the same crops and landmarks.

``liveness parity`` collects face-crop pairs exactly as the clip pipeline scores them (from the
real clips when present, plus the synthetic clips), runs both paths on them and writes
``docs/parity.md``. The targets are the issue's; a missed one is reported, not hidden.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from liveness import reference
from liveness.config import LivenessConfig
from liveness.conventions import direction_bin

Pair = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Target:
    """One parity figure: what was measured, the bound, and whether it is met (None: reported
    without a bound)."""

    name: str
    value: float
    bound: str
    met: bool | None

    @property
    def shown(self) -> str:
        """The value as the page and the command print it (NaN: nothing was measured)."""
        return "nothing to measure" if np.isnan(self.value) else f"{self.value:.4g}"


@dataclass
class PairComparison:
    """Per-pair and per-vector differences accumulated over a set of pairs."""

    landmark_epe: list[float] = field(default_factory=list)
    eye_epe: list[float] = field(default_factory=list)
    same_bin: list[bool] = field(default_factory=list)
    score_diff: list[float] = field(default_factory=list)
    same_decision: list[bool] = field(default_factory=list)
    same_valid: list[bool] = field(default_factory=list)
    status_agree: list[bool] = field(default_factory=list)
    sigma_ratio: list[float] = field(default_factory=list)
    """|sigma_graph / sigma_opencv - 1| where both measured σ."""
    residual_diff: list[float] = field(default_factory=list)
    """|residual_graph - residual_opencv| (σ units) where both judged the pair."""
    same_judged: list[bool] = field(default_factory=list)
    same_planar: list[bool] = field(default_factory=list)


def collect_pairs(videos: list[Path], cfg: LivenessConfig, per_clip: int,
                  quiet: bool = False) -> dict[str, list[Pair]]:
    """Crop pairs of each clip (real files and ``synthetic:*``) as the pipeline makes them,
    thinned evenly to at most ``per_clip`` pairs per clip."""
    from liveness.clip import ClipChecker
    from liveness.synthetic import synthetic_clip
    from liveness.video import read_video

    checker = ClipChecker(cfg)
    pairs: dict[str, list[Pair]] = {}
    for video in tqdm(videos, desc="collecting pairs", unit="clip", disable=quiet):
        name = str(video)
        frames = (synthetic_clip(name.split(":", 1)[1]) if name.startswith("synthetic:")
                  else read_video(video))
        record: list[Pair] = []
        checker.check(frames, source=name, record=record)
        keep = np.unique(np.linspace(0, len(record) - 1, min(per_clip, len(record))).astype(int))
        pairs[Path(name).name] = [record[i] for i in keep] if record else []
    return pairs


TENSORFLOW, XLA, TFLITE = "TensorFlow graph", "XLA graph", "TFLite files' graph"


@dataclass(frozen=True)
class Graphs:
    """The graphs parity runs: ``LivenessCheck``s by name (the one TensorFlow runs, the one XLA
    compiles and the one the TFLite files are converted from, each reading LK's windows its own
    way) and the ``eye_flow`` stage, which does not depend on how LK reads its windows."""

    modules: dict
    eye_stage: object

    @classmethod
    def of(cls, cfg: LivenessConfig) -> "Graphs":
        import tensorflow as tf

        from export.exporter import tflite_module
        from model_graph.flow import eye_flow
        from model_graph.module import LivenessCheck

        return cls({TENSORFLOW: LivenessCheck(cfg), XLA: LivenessCheck(cfg, jit_compile=True),
                    TFLITE: tflite_module(cfg)},
                   tf.function(lambda a, b, boxes: eye_flow(a, b, boxes, cfg)))


def compare(pairs: list[Pair], cfg: LivenessConfig, graphs: Graphs,
            batch: int = 32) -> dict[str, PairComparison]:
    """Run each graph of ``graphs`` and, once, the reference on ``pairs``: a comparison per graph.
    Every call gets ``batch`` pairs (the last padded with copies of its first), so that XLA
    compiles one batch size."""
    import tensorflow as tf

    results = {name: PairComparison() for name in graphs.modules}
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        padded = chunk + chunk[:1] * (batch - len(chunk))
        prev = np.stack([p[0] for p in padded])
        next = np.stack([p[1] for p in padded])
        marks = np.stack([p[2] for p in padded]).astype(np.float32)
        outs = {name: {k: v.numpy() for k, v in module(prev, next, marks).items()}
                for name, module in graphs.modules.items()}
        boxes = list(outs.values())[0]["eye_boxes"]          # from the landmarks alone
        dense, mask = (t.numpy() for t in graphs.eye_stage(tf.constant(prev, tf.float32),
                                                           tf.constant(next, tf.float32),
                                                           tf.constant(boxes)))
        for i, (a, b, lm) in enumerate(chunk):
            ref = reference.check_pair(a, b, lm, cfg)
            ref_eyes = reference.eye_flow(a, b, ref.eye_boxes, cfg)
            for name, out in outs.items():
                _compare_one(results[name], ref, ref_eyes, cfg, {k: v[i] for k, v in out.items()},
                             dense[i], mask[i])
    return results


def _compare_one(result: PairComparison, ref, ref_eyes, cfg, out, dense, mask) -> None:
    from model_graph.histogram import direction_bin as graph_direction_bin
    from model_graph.polar import cart_to_polar as graph_polar

    both = ref.landmark_status & out["landmark_status"]
    result.status_agree.extend((ref.landmark_status == out["landmark_status"]).tolist())
    result.landmark_epe.extend(np.linalg.norm(ref.landmark_flow[both] - out["landmark_flow"][both],
                                              axis=1).tolist())
    ref_dense, ref_mask = ref_eyes
    inside = ref_mask & mask
    result.eye_epe.extend(np.linalg.norm(ref_dense[inside] - dense[inside], axis=1).tolist())
    for ref_vec, graph_vec in ((ref.landmark_flow[both], out["landmark_flow"][both]),
                               (ref_dense[inside], dense[inside])):
        ref_mag, ref_ang = reference.cart_to_polar(ref_vec)
        _mag, graph_ang = graph_polar(graph_vec)
        graph_bin = graph_direction_bin(graph_ang, cfg.bins).numpy()
        moving = ref_mag >= 0.5
        result.same_bin.extend((direction_bin(ref_ang[moving], cfg.bins)
                                == graph_bin[moving]).tolist())
    ref_valid = ref.score is not None
    result.same_valid.append(ref_valid == bool(out["valid"]))
    if ref_valid and out["valid"]:
        result.score_diff.append(abs(ref.score - float(out["score"])))
    result.same_decision.append(bool(ref.is_live) == bool(out["is_live"]))
    if ref.sigma is not None and out["sigma_valid"]:
        result.sigma_ratio.append(abs(float(out["sigma"]) / ref.sigma - 1))
    result.same_judged.append(ref.motion_judged == bool(out["motion_judged"]))
    result.same_planar.append(ref.planar == bool(out["planar"]))
    if ref.motion_judged and out["motion_judged"]:
        result.residual_diff.append(abs(ref.plane_residual - float(out["plane_residual"])))


def _statistic(values: list, statistic) -> float:
    """``statistic(values)`` as a float, NaN when there are no values (nothing to measure)."""
    return float(statistic(np.asarray(values, np.float64))) if len(values) else float("nan")


def _percent(flags) -> float:
    """The share of true ``flags`` in percent."""
    return 100 * np.mean(flags)


def _percentile(q: float):
    """The statistic ``values -> q``-th percentile."""
    return lambda values: np.percentile(values, q)


def targets(c: PairComparison) -> list[Target]:
    """The issue's parity targets evaluated on ``c``. A figure with nothing to measure (no vector
    of 0.5 px or more in a still clip, no pair that both paths score) is NaN and judged neither way
    (``met`` None)."""
    def at_most(bound):
        return lambda value: value <= bound

    def at_least(bound):
        return lambda value: value >= bound

    rows = [
        ("landmark flow: median endpoint error (px)", c.landmark_epe, np.median, "<= 0.05",
         at_most(0.05)),
        ("landmark flow: 95th percentile endpoint error (px)", c.landmark_epe, _percentile(95),
         "<= 0.25", at_most(0.25)),
        ("eye-box flow vs cv2.calcOpticalFlowFarneback: median EPE (px)", c.eye_epe, np.median,
         "<= 0.15", at_most(0.15)),
        ("vectors >= 0.5 px in the same direction bin (%)", c.same_bin, _percent, ">= 97",
         at_least(97)),
        ("pairs with |k_graph - k_opencv| <= 5 (%)", [d <= 5.0 for d in c.score_diff], _percent,
         ">= 95", at_least(95)),
        ("pairs with the same decision (%)", c.same_decision, _percent, ">= 98", at_least(98)),
        ("motion: pairs both judge (or both leave) (%)", c.same_judged, _percent, ">= 98",
         at_least(98)),
        ("motion: pairs both call planar (or both not) (%)", c.same_planar, _percent, ">= 98",
         at_least(98)),
        # Diagnostics without a bound: SPEC bounds the decisions these feed (the rows above).
        ("motion: noise sigma, 99th percentile relative difference", c.sigma_ratio,
         _percentile(99), "-", None),
        ("motion: plane residual (sigma units), 99th percentile abs difference", c.residual_diff,
         _percentile(99), "-", None),
    ]
    figures = []
    for name, values, statistic, bound, check in rows:
        value = _statistic(values, statistic)
        met = None if check is None or np.isnan(value) else bool(check(value))
        figures.append(Target(name, value, bound, met))
    return figures


def _cell(values: list, statistic, spec: str) -> str:
    """``statistic(values)`` formatted by ``spec``, or ``-`` when there are no values."""
    value = _statistic(values, statistic)
    return "-" if np.isnan(value) else format(value, spec)


def _table(figures: list[Target]) -> list[str]:
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    for t in figures:
        verdict = "-" if t.met is None else ("yes" if t.met else "**no**")
        lines.append(f"| {t.name} | {t.shown} | {t.bound} | {verdict} |")
    return lines


def markdown(per_source: dict[str, PairComparison], overall: PairComparison,
             xla_graph: PairComparison, tflite_graph: PairComparison, cfg: LivenessConfig,
             command: str) -> str:
    """The parity page."""
    import tensorflow as tf

    lines = [
        "# Parity: TensorFlow graph vs OpenCV reference",
        "",
        f"Generated by `{command}`; TensorFlow {tf.__version__}, OpenCV {cv2.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}.",
        "",
        "Both paths get the *same* uint8 face crops and crop landmarks, collected by the clip "
        f"pipeline (preset `{cfg.preset}`, crop {cfg.crop_size} px, LK window {cfg.lk_window}, "
        f"max level {cfg.lk_max_level}, {cfg.lk_iterations} iterations, eye patch "
        f"{cfg.eye_patch_px} px). The graph is `model_graph.LivenessCheck` (tf.function); the "
        "eye-box reference is `cv2.calcOpticalFlowFarneback`, the landmark reference "
        "`cv2.calcOpticalFlowPyrLK` with the same parameters. Endpoint errors are over points "
        "both paths tracked and eye pixels both count.",
        "",
        f"Pairs: {len(overall.same_decision)}; landmark vectors compared: "
        f"{len(overall.landmark_epe)}; eye vectors: {len(overall.eye_epe)}; landmark status "
        f"agreement: {100 * np.mean(overall.status_agree):.3f} %; pairs where both agree on "
        f"having a score: {100 * np.mean(overall.same_valid):.2f} %.",
        "",
        *_table(targets(overall)),
        "",
        "## The XLA graph",
        "",
        "Compiled by XLA (`LivenessCheck(jit_compile=True)`, as `liveness export --xla` "
        "exports it), the graph reads LK's windows by squares sliced out of the padded levels "
        "where TensorFlow reads them by products (`model_graph.lucas_kanade.WINDOW_READS`; same "
        "arithmetic up to float rounding). That graph on the same pairs:",
        "",
        *_table(targets(xla_graph)),
        "",
        "## The TFLite files' graph",
        "",
        "The exported TFLite files read LK's windows by gathers "
        "(`model_graph.lucas_kanade.WINDOW_READS`). That graph, run in TensorFlow on the same "
        "pairs:",
        "",
        *_table(targets(tflite_graph)),
        "", "## Per source", "",
        "The TensorFlow graph's figures; same bin % is over vectors of 0.5 px or more, max abs(dk) "
        "over pairs both paths score, the residual over pairs both judge (- where there are none).",
        "",
              "| source | pairs | landmark EPE median / p95 / max (px) | eye EPE median / max (px) "
              "| same bin % | max abs(dk) | same decision % | max residual difference (σ) |",
              "|---|---|---|---|---|---|---|---|"]
    for name, c in per_source.items():
        if not c.same_decision:
            lines.append(f"| {name} | 0 | - | - | - | - | - | - |")
            continue
        lm, eye = c.landmark_epe, c.eye_epe
        lines.append(f"| {name} | {len(c.same_decision)} | {_cell(lm, np.median, '.2e')} / "
                     f"{_cell(lm, _percentile(95), '.2e')} / {_cell(lm, np.max, '.2e')} | "
                     f"{_cell(eye, np.median, '.2e')} / {_cell(eye, np.max, '.2e')} | "
                     f"{_cell(c.same_bin, _percent, '.2f')} | "
                     f"{_cell(c.score_diff, np.max, '.3g')} | "
                     f"{_cell(c.same_decision, _percent, '.1f')} | "
                     f"{_cell(c.residual_diff, np.max, '.2e')} |")
    lines += ["", _WHY, ""]
    return "\n".join(lines)


_WHY = """## Why the numbers differ where they do

The graph's LK is OpenCV's method in float32 with a fixed step schedule (5 Newton steps at full
resolution, 2 at the coarsest level and 3 at each level between; OpenCV takes up to 20 per level
and rounds its windows to 14-bit fixed point): `cv2.pyrDown` bit for bit, the unnormalised Scharr derivatives with
reflect-101 borders and zero outside the image, the minimum-eigenvalue and determinant tests, the
squared-epsilon stop, the half step back when two steps cancel, and the out-of-image status rules
(docs/decisions.md, "Lucas-Kanade in float"). At a well-textured point both paths converge to the
same place within a few thousandths of a pixel (the medians above). At an ill-conditioned one
(weak texture, LK walking several pixels over many steps) the path that stops earlier stops
elsewhere: those points carry the maxima, up to tens of pixels at a single point, and the
forward-backward filter drops most of them in both paths; where it drops one in one path only, the
point sets behind σ and the plane fit differ, which is what moves σ and the residual of a few
pairs (the two diagnostic rows) and, near a threshold, a decision. The Farneback port is OpenCV's
arithmetic: the 3x3 pre-blur of the finest level, the replicate-border polynomial expansion, the
border damping of the matrices, the box average and the `+1e-3` in the 2x2 solve; OpenCV
accumulates some sums in double, TensorFlow in float32, hence the ~1e-6 px differences. Direction
bins can differ when a vector lies within the flow difference of a bin edge or of the
significance gate (which follows σ), and one vector changing bin moves k by a few points when a
histogram holds few vectors: that is the largest |dk| above."""


def run(clips_dir: Path | None, out: Path | None, cfg: LivenessConfig, per_clip: int,
        command: str, quiet: bool = False) -> tuple[str, list[Target]]:
    """Collect, compare and (when ``out``) write the page; returns it and the overall targets,
    of the graph as TensorFlow runs it, as XLA compiles it and as the TFLite files run it."""
    videos: list[Path] = []
    if clips_dir is not None and clips_dir.is_dir():
        videos = sorted(p for p in clips_dir.iterdir() if p.suffix in (".mp4", ".webm", ".avi", ".mov"))
    sources = [*videos, *(Path(f"synthetic:{kind}") for kind in ("live", "photo", "screen"))]
    collected = collect_pairs(sources, cfg, per_clip, quiet=quiet)
    graphs = Graphs.of(cfg)
    per_source = {name: compare(pairs, cfg, graphs) if pairs else
                  {graph: PairComparison() for graph in graphs.modules}
                  for name, pairs in collected.items()}
    overall = {graph: PairComparison() for graph in graphs.modules}
    for comparisons in per_source.values():
        for graph, c in comparisons.items():
            for figure in vars(c):
                getattr(overall[graph], figure).extend(getattr(c, figure))
    page = markdown({name: c[TENSORFLOW] for name, c in per_source.items()}, overall[TENSORFLOW],
                    overall[XLA], overall[TFLITE], cfg, command)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page)
    return page, targets(overall[TENSORFLOW]) + [
        Target(f"{graph}: {t.name}", t.value, t.bound, t.met)
        for graph in (XLA, TFLITE) for t in targets(overall[graph])]
