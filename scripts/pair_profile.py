"""Where the one-pair TFLite file spends its time, sampled by Linux ``perf``: the samples inside
the interpreter's ``Invoke`` by how deep in the graph's loops they fall and by the kernel they
fall in.

    python scripts/pair_profile.py [--file build/export/liveness_pair.tflite] [--calls 2000]

Needs ``perf`` (Debian's ``linux-perf``) and leave to sample this user's processes
(``/proc/sys/kernel/perf_event_paranoid``). The bench pairs (the synthetic live clip, crop 160)
come from a child process with TensorFlow; the process sampled runs the file at 1 thread and never
imports TensorFlow. A sample's depth is the number of ``WHILE`` evaluations on its stack: 0 the
graph's top level (pyramids, strip tables, Farneback's expansion, motion evidence, histograms), 1
the bodies of the loops there (LK's two directions, Farneback's updates, the plane test's
Gauss-Newton steps), 2 LK's pyramid levels and the plane test's eliminations, 3 LK's Newton steps.
"Preparing loop bodies" counts the samples under ``Subgraph::AllocateTensors`` inside a loop:
TFLite's ``WHILE`` releases its bodies' memory after each evaluation and prepares them again at the
next. Shares of one run; absolute times are not measured here.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAIRS = """
import sys
import numpy as np
from liveness.bench import crop_pairs
from liveness.config import preset
prev, next, marks = crop_pairs(preset("default"), 20)
np.savez(sys.argv[1], prev=prev, next=next, marks=marks)
"""
_OP = re.compile(r"tflite::(?:ops::builtin::(\w+)::|reference_ops::(\w+)|optimized_ops::(\w+))")
#: XNNPACK's time by the function a sample lands in (a pattern of its name, and what it does).
_XNNPACK = [(r"mem(move|cpy)|_copy_|slice", "copies (slices, reshapes, concatenations)"),
            (r"transpose", "transposes"), (r"gemm|igemm", "products (FULLY_CONNECTED)"),
            (r"rsum|rmax|rmin", "sums over an axis"),
            (r"_v(add|sub|mul|div|max|min|sqr|rsub|clamp|relu|abs|neg|rnd|ceil|floor)",
             "elementwise arithmetic")]
#: Kernel names in the profile for TFLite's own kernels that are not named after their op.
_NAMES = {"runbinaryop": "int32 arithmetic", "while_kernel": "WHILE (copying loop variables)",
          "comparisons": "comparisons", "logical": "logical ops"}


def sample(file: Path, pairs: Path, calls: int) -> None:
    """What ``perf`` samples: ``calls`` calls of ``file``'s ``check_pair`` at 1 thread."""
    from liveness.litert import make_interpreter

    data = {name: np.asarray(value) for name, value in np.load(pairs).items()}
    run = make_interpreter(file, threads=1).get_signature_runner("check_pair")
    for i in range(calls):
        k = i % len(data["prev"])
        run(prev=data["prev"][k:k + 1], next=data["next"][k:k + 1],
            landmarks=data["marks"][k:k + 1])


def stacks(perf_script: str):
    """Each sample's stack ``[symbol]`` (leaf first, offsets dropped) from ``perf script``."""
    stack: list[str] = []
    for line in perf_script.splitlines():
        if not line.strip():
            if stack:
                yield stack
            stack = []
        elif line.startswith((" ", "\t")):
            fields = line.split(None, 1)
            if len(fields) == 2:
                stack.append(re.sub(r"\+0x[0-9a-f]+ .*$| \(.*$", "", fields[1]))
    if stack:
        yield stack


def kernel(stack: list[str], depth: int) -> str:
    """What a sample falls in: a TFLite op's kernel, XNNPACK, the interpreter, or the preparing
    of a loop body."""
    if depth and any(s.endswith("Subgraph::AllocateTensors") for s in stack):
        return "preparing loop bodies"
    for symbol in stack:
        op = _OP.search(symbol)
        if op:
            name = next(group for group in op.groups() if group).lower()
            return "TFLite " + _NAMES.get(name, name.upper())
        if symbol.startswith(("xnn_", "tflite::xnnpack")):
            return "XNNPACK: " + next((what for pattern, what in _XNNPACK if re.search(pattern, stack[0])),
                                      "other (running its operators)")
        if symbol.startswith("tflite::Subgraph::"):
            return "interpreter (running the ops)"
    return "other"


def profile(perf_script: str) -> tuple[collections.Counter, collections.Counter, int]:
    """Samples inside ``Invoke`` by loop depth and by kernel, and their count."""
    depths, kernels, total = collections.Counter(), collections.Counter(), 0
    for stack in stacks(perf_script):
        if not any("InterpreterWrapper::Invoke" in s for s in stack):
            continue
        depth = sum(s.endswith("while_kernel::Eval") for s in stack)
        depths[depth] += 1
        kernels[kernel(stack, depth)] += 1
        total += 1
    return depths, kernels, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=REPO / "build/export/liveness_pair.tflite")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)   # the sampled child
    args = parser.parse_args()
    if args.sample:
        return sample(args.file, args.sample, args.calls)
    if not args.file.is_file():
        parser.error(f"{args.file} not found: run `liveness export --out build/export` first")
    if shutil.which("perf") is None:
        parser.error("perf not found (Debian: apt install linux-perf)")
    with tempfile.TemporaryDirectory() as folder:
        pairs, data = Path(folder) / "pairs.npz", Path(folder) / "perf.data"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        print("making the bench pairs ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", PAIRS, str(pairs)], check=True, env=env,
                       cwd=REPO, capture_output=True)
        print(f"sampling {args.calls} calls ...", file=sys.stderr, flush=True)
        subprocess.run(["perf", "record", "-q", "-g", "-o", str(data), "--", sys.executable,
                        __file__, "--file", str(args.file), "--calls", str(args.calls),
                        "--sample", str(pairs)], check=True, cwd=REPO)
        script = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym"], check=True,
                                capture_output=True, text=True).stdout
    depths, kernels, total = profile(script)
    if not total:
        raise SystemExit("no samples inside the interpreter's Invoke (perf without call graphs?)")
    print(f"{total} samples inside Invoke, {args.file.name}, 1 thread\n")
    names = {0: "top level", 1: "loop bodies (LK's directions, ...)",
             2: "LK's pyramid levels, ...", 3: "LK's Newton steps"}
    print("| loop depth | share |\n|---|---|")
    for depth in sorted(depths):
        print(f"| {depth}: {names.get(depth, 'deeper')} | {100 * depths[depth] / total:.1f} % |")
    print("\n| kernel | share |\n|---|---|")
    for name, count in kernels.most_common(12):
        print(f"| {name} | {100 * count / total:.1f} % |")


if __name__ == "__main__":
    main()
