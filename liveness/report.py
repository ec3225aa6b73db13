"""The report picture of one clip: flow on a frame, direction histograms, score over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from liveness.clip import ClipResult  # noqa: E402
from liveness.results import PairStatus, Verdict  # noqa: E402

COLOURS = {Verdict.LIVE: "tab:green", Verdict.SPOOF: "tab:red", Verdict.UNDECIDED: "tab:gray"}
ARROW_GAIN = 8.0


def write_report(result: ClipResult, path: str | Path) -> Path:
    """Draw ``result`` into a PNG at ``path`` (parent folders are created)."""
    verdict = result.verdict
    figure = plt.figure(figsize=(15, 5), dpi=100)
    grid = figure.add_gridspec(1, 3, width_ratios=[1.1, 0.9, 1.4])
    _draw_frame(figure.add_subplot(grid[0]), result)
    _draw_histograms(figure.add_subplot(grid[1], projection="polar"), verdict)
    _draw_scores(figure.add_subplot(grid[2]), verdict)
    title = f"{Path(verdict.source).name or 'clip'}: {verdict.summary()}"
    figure.suptitle(title, color=COLOURS[verdict.verdict], fontsize=13, fontweight="bold")
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out


def _draw_frame(axes, result: ClipResult) -> None:
    axes.set_axis_off()
    index = result.representative_pair()
    if index is None:
        axes.text(0.5, 0.5, "no scored pair", ha="center", va="center", transform=axes.transAxes)
        return
    pair, snapshot = result.verdict.pairs[index], result.snapshots[index]
    window = snapshot.window
    axes.imshow(snapshot.rgb())
    points = window.to_crop(pair.landmarks)
    flow = pair.landmark_flow * np.float32(window.scale * ARROW_GAIN)
    axes.scatter(points[:, 0], points[:, 1], s=6, c="cyan")
    axes.quiver(points[:, 0], points[:, 1], flow[:, 0], flow[:, 1], angles="xy",
                scale_units="xy", scale=1, color="yellow", width=0.004)
    for box in pair.eye_boxes:
        (x0, y0), (x1, y1) = window.to_crop(box.reshape(2, 2))
        axes.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="magenta",
                                 linewidth=1.5))
    axes.set_title(f"frames {pair.prev_index}->{pair.next_index}, score {pair.score:.1f} (the pair "
                   f"nearest the median)\nlandmark flow x{ARROW_GAIN:g} (yellow), eyeball boxes "
                   "(magenta)", fontsize=9)


def _draw_histograms(axes, verdict) -> None:
    scored = [p for p in verdict.pairs if p.status is PairStatus.SCORED]
    bins = len(scored[0].landmark_hist) if scored else 10
    width = 2 * np.pi / bins
    centres = (np.arange(bins) + 0.5) * width
    axes.set_theta_zero_location("E")
    axes.set_theta_direction(-1)  # y points down on screen: angles turn clockwise (SPEC §2)
    if not scored:
        axes.set_title("no scored pair", fontsize=9)
        return
    for name, colour, offset in (("landmark_hist", "tab:blue", -0.2), ("eye_hist", "tab:orange", 0.2)):
        counts = np.sum([getattr(p, name) for p in scored], axis=0)
        share = 100 * counts / max(counts.sum(), 1)
        label = "landmarks (LK)" if name == "landmark_hist" else "eyeball boxes (Farneback)"
        axes.bar(centres + offset * width, share, width=0.4 * width, color=colour, alpha=0.8,
                 label=label)
    axes.set_title(f"flow directions, % of vectors over {len(scored)} pairs\n"
                   "(0 deg = right, 90 deg = down)", fontsize=9)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, -0.25), fontsize=8)


def _draw_scores(axes, verdict) -> None:
    rate = verdict.fps or 1.0
    unit = "s" if verdict.fps else "frame"
    scored = [p for p in verdict.pairs if p.status is PairStatus.SCORED]
    others = [p for p in verdict.pairs if p.status is not PairStatus.SCORED]
    axes.plot([p.next_index / rate for p in scored], [p.score for p in scored], ".-",
              color="tab:blue", linewidth=0.8, label="pair score k")
    for status, marker in ((PairStatus.INSUFFICIENT_MOTION, "|"), (PairStatus.NO_FACE, "x"),
                           (PairStatus.MULTIPLE_FACES, "+")):
        times = [p.next_index / rate for p in others if p.status is status]
        if times:
            axes.plot(times, np.zeros(len(times)), marker, color="gray", label=status.value)
    axes.axhline(verdict.threshold, color="black", linestyle="--",
                 label=f"threshold {verdict.threshold:g}")
    if verdict.score is not None:
        axes.axhline(verdict.score, color=COLOURS[verdict.verdict],
                     label=f"clip median {verdict.score:.1f}")
    axes.set_ylim(-5, 205)
    axes.set_xlabel(f"time ({unit})")
    axes.set_ylabel("chi-square score k (0 = same directions, 200 = disjoint)")
    axes.legend(fontsize=8, loc="upper right")
    judged = [p for p in verdict.pairs if p.planarity is not None]
    if judged:
        right = axes.twinx()
        right.plot([p.next_index / rate for p in judged], [p.planarity for p in judged], ".",
                   color="tab:orange", markersize=3, label="pair planarity ratio")
        right.axhline(verdict.planarity_threshold, color="tab:orange", linestyle=":",
                      label=f"planar below {verdict.planarity_threshold:g}")
        right.set_ylim(0, max(1.0, max(p.planarity for p in judged)))
        right.set_ylabel("planarity: residual / motion (low = flat)", color="tab:orange")
        right.legend(fontsize=8, loc="upper left")
    axes.set_title(f"{verdict.verdict.value.upper()}"
                   + (f": {verdict.reason.value}" if verdict.reason else ""), fontsize=11,
                   color=COLOURS[verdict.verdict])
