"""What a change to the graph buys on a device: the one-pair TFLite file of two or more git
revisions, timed taking turns against the OpenCV reference.

    python scripts/pair_ab.py REV [REV ...] [--pairs 20] [--rounds 5]

Each ``REV`` is a git revision (``HEAD``, ``main~2``, a hash) or ``tree`` (the working tree as it
is). For each, ``liveness_pair.tflite`` (``export.exporter.convert_pair``, the ``default`` preset)
is built by that revision's own code in a child process; the bench pairs (the synthetic live clip,
crop 160) come from the working tree's. This process never imports TensorFlow (as the bench's
TFLite target row): it times the OpenCV reference and every file at 1 thread, pair by pair in
turns for ``--rounds`` rounds, and prints the medians, each as a multiple of OpenCV's and of the
first revision's, then how far each file's outputs lie from the first's (``same`` when bit for
bit). Ratios from one run compare; absolute times move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

BUILD = """
import sys
import numpy as np
from pathlib import Path
from liveness.config import preset
from export.exporter import convert_pair
cfg = preset("default")
Path(sys.argv[1]).write_bytes(convert_pair(cfg))
if len(sys.argv) > 2:
    from liveness.bench import crop_pairs
    prev, next, marks = crop_pairs(cfg, int(sys.argv[3]))
    np.savez(sys.argv[2], prev=prev, next=next, marks=marks)
"""


def source_of(rev: str, folder: Path) -> Path:
    """The code of ``rev`` (``tree``: the working tree) as a folder to run from."""
    if rev == "tree":
        return REPO
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    data = REPO / "liveness" / "data"        # fetched models (BlazeFace, face mesh), not in git
    for model in data.glob("*.tflite"):
        target = folder / "liveness" / "data" / model.name
        if not target.exists():
            target.symlink_to(model)
    return folder


def build(rev: str, work: Path, index: int, pairs: Path | None, count: int) -> Path:
    """``liveness_pair.tflite`` of ``rev`` under ``work`` (and the bench pairs into ``pairs``)."""
    code = source_of(rev, work / f"rev{index}")
    out = work / f"rev{index}.tflite"
    args = [sys.executable, "-c", BUILD, str(out)] + ([str(pairs), str(count)] if pairs else [])
    print(f"building {rev} ...", file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(args, cwd=code, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"building {rev} failed:\n{done.stderr[-3000:]}")
    return out


def output_gaps(first: list[dict], other: list[dict]) -> dict[str, float]:
    """Largest absolute difference of each output between two runs' outputs over the same pairs
    (flags as 0/1); outputs equal bit for bit are left out."""
    gaps = {}
    for name in first[0]:
        a = np.stack([np.asarray(o[name], np.float64) for o in first])
        b = np.stack([np.asarray(o[name], np.float64) for o in other])
        gap = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
        if gap > 0 or not np.array_equal(a, b):
            gaps[name] = gap
    return gaps


def report(medians: dict[str, float], p90s: dict[str, float], revs: list[str]) -> list[str]:
    """The table: each path's median and p90 ms, and its median as a multiple of OpenCV's
    (``medians["OpenCV reference"]``) and of the first revision's."""
    opencv, first = medians["OpenCV reference"], medians[revs[0]]
    lines = ["| path | median ms | p90 ms | x OpenCV | x first |", "|---|---|---|---|---|"]
    for name in ["OpenCV reference", *revs]:
        lines.append(f"| {name} | {medians[name]:.3f} | {p90s[name]:.3f} | "
                     f"{medians[name] / opencv:.3f} | {medians[name] / first:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revs", nargs="+", help="git revisions, or 'tree' for the working tree")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.pairs < 1 or args.rounds < 1:
        parser.error("--pairs and --rounds must be at least 1")
    if len(set(args.revs)) != len(args.revs):
        parser.error("each revision once")

    from liveness.bench import median_p90, opencv_threads, time_interleaved
    from liveness.config import preset
    from liveness.litert import make_interpreter
    from liveness.reference import check_pair as reference_check

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pairs = work / "pairs.npz"
        files = [build(rev, work, i, pairs if i == 0 else None, args.pairs)
                 for i, rev in enumerate(args.revs)]
        data = np.load(pairs)
        prev, next, marks = data["prev"], data["next"], data["marks"]
        cfg = preset("default")
        calls = {"OpenCV reference": opencv_threads(None, reference_check, prev, next, marks, cfg)}
        outputs = {}
        for rev, file in zip(args.revs, files):
            run = make_interpreter(file, threads=1).get_signature_runner("check_pair")
            calls[rev] = lambda i, run=run: run(prev=prev[i:i + 1], next=next[i:i + 1],
                                                landmarks=marks[i:i + 1])
            outputs[rev] = [calls[rev](i) for i in range(len(prev))]
        rows = median_p90(time_interleaved(calls, len(prev), rounds=args.rounds))
    medians = {name: m for name, m, _ in rows}
    p90s = {name: p for name, _, p in rows}
    print(f"{len(prev)} pairs x {args.rounds} rounds, 1 thread, taking turns\n")
    print("\n".join(report(medians, p90s, args.revs)))
    for rev in args.revs[1:]:
        gaps = output_gaps(outputs[args.revs[0]], outputs[rev])
        print(f"\n{rev} against {args.revs[0]}: " + (", ".join(
            f"{name} {gap:.3g}" for name, gap in gaps.items()) if gaps else "same outputs bit for bit"))


if __name__ == "__main__":
    main()
