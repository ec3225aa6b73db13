"""Evaluate every cue alone and fused on a manifest and the synthetic clips -> docs/accuracy.md.

    python scripts/accuracy_table.py [--manifest ../shared/data/clips/manifest.csv] [--out docs/accuracy.md]

Each clip is checked once with the ``default`` preset (OpenCV reference path, MTCNN on LiteRT,
texture on LiteRT); every cue's evidence is kept, so each decision (``chi_square``, ``motion``,
``texture``, ``fused``) is evaluated from the same checks. Per decision: per-clip APCER per attack
type, BPCER, ACER, the undecided rate of live clips, in sample (the preset's thresholds) and
leave-one-subject-out (the decision's calibrated threshold chosen on the other subjects), with 95 %
intervals from a bootstrap over subjects.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from liveness.config import LivenessConfig, preset
from liveness.evaluate import (ClipRecord, Metrics, check_clips, det_plot, leave_one_subject_out,
                               metrics, read_manifest)
from liveness.paths import shared_data
from liveness.synthetic import write_manifest

DECISIONS = ("chi_square", "motion", "texture", "fused")
BOOTSTRAP = 2000


def pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.0f} %"


def bootstrap(records: list[ClipRecord], score, seed: int = 0) -> tuple[float, float]:
    """95 % interval of ``score(records)`` over resampled subjects (all clips of a drawn subject
    come together; a draw without both classes decided is skipped)."""
    rng = np.random.default_rng(seed)
    subjects = sorted({r.subject for r in records})
    values = []
    for _ in range(BOOTSTRAP):
        drawn = rng.choice(subjects, len(subjects))
        sample = [r for s in drawn for r in records if r.subject == s]
        value = score(sample)
        if value == value:
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def decision_rows(records: list[ClipRecord], cfg: LivenessConfig) -> list[str]:
    types = sorted({r.attack_type for r in records if r.label == "attack"})
    lines = ["| decision | " + " | ".join(f"APCER {t}" for t in types)
             + " | BPCER | ACER [95 % CI] | undecided (live) | leave-one-subject-out ACER [95 % CI] |",
             "|---|" + "---|" * len(types) + "---|---|---|---|"]
    rows = [(d, cfg.replace(decision=d)) for d in DECISIONS]
    rows.append(("fused, texture at upstream's 0.5", cfg.replace(texture_threshold=0.5)))
    for decision, c in rows:
        m: Metrics = metrics(records, c)
        loso, _ = leave_one_subject_out(records, c)
        lo, hi = bootstrap(records, lambda rs: metrics(rs, c).acer)
        llo, lhi = bootstrap(records, lambda rs: leave_one_subject_out(rs, c)[0].acer) \
            if len({r.subject for r in records}) > 2 else (float("nan"), float("nan"))
        lines.append(f"| {decision} | " + " | ".join(pct(m.apcer_per_type[t]) for t in types)
                     + f" | {pct(m.bpcer)} | {pct(m.acer)} [{pct(lo)}, {pct(hi)}] "
                     f"| {pct(m.undecided_live_rate)} | {pct(loso.acer)} [{pct(llo)}, {pct(lhi)}] |")
    return lines


def clip_rows(records: list[ClipRecord], cfg: LivenessConfig) -> list[str]:
    lines = ["| clip | label | subject | chi-square k | motion: planar share of judged pairs "
             "| texture: median real prob. | verdict per cue (chi / motion / texture) | fused |",
             "|---|---|---|---|---|---|---|---|"]
    for r in records:
        ev = r.evidence
        share = "-" if ev.motion_judged == 0 else f"{ev.motion_planar / ev.motion_judged:.2f} of {ev.motion_judged}"
        k = r.cue_score("chi_square", cfg)
        tex = r.cue_score("texture", cfg)
        verdicts = " / ".join(r.outcome(cfg.replace(decision=d))[0].value for d in DECISIONS[:3])
        fused, reason = r.outcome(cfg.replace(decision="fused"))
        label = r.label + ("" if r.label == "live" else f" ({r.attack_type})")
        lines.append(f"| {r.file} | {label} | {r.subject} | {'-' if k is None else f'{k:.1f}'} "
                     f"| {share} | {'-' if tex is None else f'{tex:.3f}'} | {verdicts} "
                     f"| **{fused.value}**{'' if reason is None else ': ' + reason} |")
    return lines


NOTES = """### The failure cases and the margins, as the report pictures show them

(`liveness check ../shared/data/clips/* --out-dir out/shared` draws every clip's evidence.)

- `masked_replay_screen` (a masked face replayed on a screen): texture 0.528, rejected only
  because the calibrated threshold sits above it (accepted at upstream's 0.5); motion has no
  opinion — the screen hardly moves (no pair reaches 10 σ). The prototype's blind spot, and the
  nearest attack to the threshold.
- `phone_on_phone_replay_2` (a phone filming a phone): texture 0.518, likewise; motion sees
  non-planar motion (21 % planar pairs: the replayed face moves), so no opinion.
- `anitspoof_replay` (a phone held beside the live subject): caught by both cues, the only real
  clip where motion finds a plane (58 % of 52 judged pairs, residual about 1.3-1.7 σ); the live
  bystander is the larger face in the first second, so those frames have two faces.
- Live clips: motion never says spoof (the highest planar share, 27 %, is `anitspoof_live`); the
  lowest texture score is `still_closeup_live` (0.805, a very still face filling the frame, decided
  by texture alone since nothing moves). Chi-square calls 4 of 6 decided live clips spoof: it has
  not earned a vote.
- The synthetic print is a genuine camera photo moved as a plane: texture calls it real (0.72-0.95),
  motion calls it spoof (81-100 % planar pairs) — the case the fusion exists for."""


def run(manifest: Path, out: Path, seeds: tuple[int, ...] = (0, 1, 2)) -> str:
    cfg = preset("default")
    lines = ["# Accuracy: every cue alone and fused", "",
             f"Generated by `python scripts/accuracy_table.py --manifest {os.path.relpath(manifest)}` "
             f"(Python {platform.python_version()}); per-clip metrics (SPEC §6) as in "
             "[decisions.md](decisions.md). Undecided clips are neither accepted nor rejected; "
             "their rate among live clips is reported beside. Intervals: 95 % bootstrap over "
             f"subjects ({BOOTSTRAP} draws).", ""]
    if manifest.is_file():
        records = check_clips(read_manifest(manifest), cfg, quiet=True)
        subjects = len({r.subject for r in records})
        det_plot(records, cfg, out.parent / "accuracy_det.png")
        lines += [f"## The shared recordings ({len(records)} clips, {subjects} subjects)", "",
                  f"With {subjects} subjects one clip moves BPCER by about 14 points and an attack "
                  "type's APCER by 20-33; the intervals say how little these figures pin down. "
                  "The `default` preset's texture threshold (0.667) was calibrated on these same "
                  "clips, so its in-sample rows are optimistic by construction: the "
                  "leave-one-subject-out column (each subject judged at a threshold calibrated on "
                  "the other nine) is the estimate, and the last row shows upstream's 0.5.",
                  "", *decision_rows(records, cfg), "",
                  "DET trade-off per cue: [accuracy_det.png](accuracy_det.png).", "",
                  *clip_rows(records, cfg), "", NOTES, ""]
    with tempfile.TemporaryDirectory() as folder:
        rows = read_manifest(write_manifest(Path(folder), seeds))
        synthetic = check_clips(rows, cfg, quiet=True)
    lines += [f"## Synthetic clips (live, print, screen per seed {seeds})", "",
              "Their motion model is ours: this checks that each cue does what it is built for, "
              "not how well it generalises. The synthetic print is a camera photo, so its texture "
              "is a camera's; only the motion cue can catch it.", "",
              *decision_rows(synthetic, cfg), "", *clip_rows(synthetic, cfg), ""]
    page = "\n".join(lines)
    out.write_text(page)
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=shared_data() / "clips" / "manifest.csv")
    parser.add_argument("--out", type=Path, default=Path("docs/accuracy.md"))
    args = parser.parse_args()
    print(run(args.manifest, args.out))


if __name__ == "__main__":
    main()
