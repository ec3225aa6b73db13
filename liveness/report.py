"""The report picture of one clip: every cue's evidence, so a reader sees which cue decided.

Top row: the face of a representative pair with its landmark flow and eyeball boxes; the flow
directions of the whole clip (polar); the two texture patches of one frame. Bottom row, over time:
the chi-square score k; the motion cue (motion and plane residual in units of the noise σ); the
texture cue's real-face probability. Each panel's title gives that cue's opinion.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from liveness.clip import ClipResult  # noqa: E402
from liveness.config import deciding_cues  # noqa: E402
from liveness.results import PairStatus, Verdict  # noqa: E402

COLOURS = {Verdict.LIVE: "tab:green", Verdict.SPOOF: "tab:red", Verdict.UNDECIDED: "tab:gray"}
OPINION_COLOURS = {"live": "tab:green", "spoof": "tab:red", "no_opinion": "tab:gray"}
ARROW_GAIN = 8.0


def write_report(result: ClipResult, path: str | Path) -> Path:
    """Draw ``result`` into a PNG at ``path`` (parent folders are created)."""
    verdict = result.verdict
    figure = plt.figure(figsize=(16, 9.5), dpi=90)
    grid = figure.add_gridspec(2, 3, height_ratios=[1.15, 1])
    _draw_frame(figure.add_subplot(grid[0, 0]), result)
    _draw_histograms(figure.add_subplot(grid[0, 1], projection="polar"), verdict)
    _draw_patches(figure, grid[0, 2], result)
    _draw_chi_square(figure.add_subplot(grid[1, 0]), verdict)
    _draw_motion(figure.add_subplot(grid[1, 1]), verdict)
    _draw_texture(figure.add_subplot(grid[1, 2]), verdict)
    title = f"{Path(verdict.source).name or 'clip'}: {verdict.summary()}"
    figure.suptitle(title, color=COLOURS[verdict.verdict], fontsize=12, fontweight="bold", wrap=True)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out


def _cue_title(verdict, name: str, label: str) -> tuple[str, str]:
    cue = verdict.cues.get(name)
    if cue is None:
        return label, "black"
    said = cue.opinion.value.replace("_", " ") + (f" ({cue.reason.value})" if cue.reason else "")
    deciding = name in deciding_cues(verdict.decision)
    return f"{label}: {said}" + ("" if deciding else " [not deciding]"), OPINION_COLOURS[cue.opinion.value]


def _times(verdict, indices):
    rate = verdict.fps or 1.0
    return [i / rate for i in indices], "s" if verdict.fps else "frame"


def _draw_frame(axes, result: ClipResult) -> None:
    axes.set_axis_off()
    index = result.representative_pair()
    if index is None:
        axes.text(0.5, 0.5, "no pair with a face", ha="center", va="center", transform=axes.transAxes)
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
    score = "no score" if pair.score is None else f"score {pair.score:.1f}"
    axes.set_title(f"frames {pair.prev_index}->{pair.next_index}, {score}\nlandmark flow "
                   f"x{ARROW_GAIN:g} (yellow), eyeball boxes (magenta)", fontsize=9)


def _draw_histograms(axes, verdict) -> None:
    scored = [p for p in verdict.pairs if p.status is PairStatus.SCORED]
    bins = len(scored[0].landmark_hist) if scored else 10
    width = 2 * np.pi / bins
    centres = (np.arange(bins) + 0.5) * width
    axes.set_theta_zero_location("E")
    axes.set_theta_direction(-1)  # y points down on screen: angles turn clockwise (SPEC §2)
    if not scored:
        axes.set_title("flow directions: no scored pair", fontsize=9)
        return
    peak = 0.0
    for name, colour, offset in (("landmark_hist", "tab:blue", -0.2), ("eye_hist", "tab:orange", 0.2)):
        counts = np.sum([getattr(p, name) for p in scored], axis=0)
        share = 100 * counts / max(counts.sum(), 1)
        peak = max(peak, float(share.max()))
        label = "landmarks (LK)" if name == "landmark_hist" else "eyeball boxes (Farneback)"
        axes.bar(centres + offset * width, share, width=0.4 * width, color=colour, alpha=0.8,
                 label=label)
    # Few radial labels, placed in the gap between two bins, so they do not run across the bars.
    ticks = np.linspace(0, peak, 4)[1:]
    axes.set_rticks(ticks)
    axes.set_yticklabels([f"{t:.0f}%" for t in ticks], fontsize=7)
    axes.set_rlabel_position(np.degrees(width * 2))
    axes.set_xticks(np.radians([0, 90, 180, 270]))
    axes.set_xticklabels(["0° right", "90° down", "180° left", "270° up"], fontsize=8)
    title, colour = _cue_title(verdict, "chi_square", "chi-square")
    axes.set_title(f"flow directions over {len(scored)} pairs ({title})", fontsize=9, color=colour)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, -0.3), fontsize=8)


def _draw_patches(figure, cell, result: ClipResult) -> None:
    verdict = result.verdict
    inner = cell.subgridspec(1, 2)
    frame = next((t for t in verdict.texture if t.used), verdict.texture[0] if verdict.texture else None)
    for i, label in enumerate(("2.7x (MiniFASNetV2)", "4.0x (MiniFASNetV1SE)")):
        axes = figure.add_subplot(inner[0, i])
        axes.set_axis_off()
        if frame is None or result.patches is None:
            axes.text(0.5, 0.5, "no texture patch", ha="center", va="center", transform=axes.transAxes)
            continue
        axes.imshow(result.patches[i][:, :, ::-1])   # BGR -> RGB
        axes.set_title(f"frame {result.patches_frame}: {label}", fontsize=8)


def _draw_chi_square(axes, verdict) -> None:
    scored = [p for p in verdict.pairs if p.status is PairStatus.SCORED]
    times, unit = _times(verdict, [p.next_index for p in scored])
    axes.plot(times, [p.score for p in scored], ".-", color="tab:blue", linewidth=0.8,
              label="pair score k")
    cue = verdict.cues.get("chi_square")
    if cue is not None:
        axes.axhline(cue.threshold, color="black", linestyle="--", label=f"threshold {cue.threshold:g}")
        if cue.score is not None:
            axes.axhline(cue.score, color="tab:blue", alpha=0.5, label=f"clip median {cue.score:.1f}")
    if not scored:
        axes.text(0.5, 0.5, "no pair moved enough to score", ha="center", va="center",
                  transform=axes.transAxes, color="gray")
    axes.set_ylim(-5, 205)
    axes.set_xlabel(f"time ({unit})")
    axes.set_ylabel("chi-square score k (0 = same directions)")
    axes.legend(fontsize=8, loc="upper right")
    title, colour = _cue_title(verdict, "chi_square", "chi-square")
    axes.set_title(title, fontsize=10, color=colour)


def _draw_motion(axes, verdict) -> None:
    pairs = [p for p in verdict.pairs if p.sigma]
    times, unit = _times(verdict, [p.next_index for p in pairs])
    axes.plot(times, [p.motion / p.sigma for p in pairs], ".", color="tab:gray", markersize=3,
              label="motion / σ")
    judged = [p for p in pairs if p.motion_judged]
    jt, _ = _times(verdict, [p.next_index for p in judged])
    colours = ["tab:red" if p.planar else "tab:green" for p in judged]
    axes.scatter(jt, [p.plane_residual for p in judged], c=colours, s=10,
                 label="plane residual / σ (red: planar)")
    cfg = verdict.config
    if cfg:
        axes.axhline(cfg["motion_judge_sigma"], color="tab:gray", linestyle="--",
                     label=f"judged above {cfg['motion_judge_sigma']:g} σ of motion")
        axes.axhline(cfg["plane_residual_sigma"], color="tab:red", linestyle=":",
                     label=f"planar below {cfg['plane_residual_sigma']:g} σ of residual")
    axes.set_yscale("log")
    axes.set_xlabel(f"time ({unit})")
    axes.set_ylabel("units of the flow noise σ (log)")
    axes.legend(fontsize=7, loc="upper right")
    cue = verdict.cues.get("motion")
    title, colour = _cue_title(verdict, "motion", "motion")
    if cue is not None and cue.used:
        title += f", {cue.score:.0%} of {cue.used} judged pairs planar"
    axes.set_title(title, fontsize=10, color=colour)


def _draw_texture(axes, verdict) -> None:
    for used, colour, label in ((True, "tab:purple", "real-face probability"),
                                (False, "tab:gray", "face too close (not used)")):
        frames = [t for t in verdict.texture if t.used is used]
        if frames:
            times, _ = _times(verdict, [t.index for t in frames])
            axes.plot(times, [t.probability for t in frames], ".", color=colour, markersize=4,
                      label=label)
    cue = verdict.cues.get("texture")
    if cue is not None:
        axes.axhline(cue.threshold, color="black", linestyle="--", label=f"threshold {cue.threshold:g}")
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel(f"time ({'s' if verdict.fps else 'frame'})")
    axes.set_ylabel("MiniFASNet real-face probability")
    axes.legend(fontsize=8, loc="lower right")
    title, colour = _cue_title(verdict, "texture", "texture")
    if cue is not None and cue.score is not None:
        title += f", median {cue.score:.2f}"
    axes.set_title(title, fontsize=10, color=colour)
