"""Where XLA's time goes in the pair check on this CPU, op by op.

    python scripts/xla_profile.py [--batch 64] [--calls 3] [--top 12] [--reads products]

Compiles ``check_pair`` of ``LivenessCheck(cfg, jit_compile=True, pair_streams=1)`` (the
``default`` preset, crop 160, in chunks of ``PAIR_CHUNK`` pairs as exported, but the whole batch
one compiled call rather than two at once; LK's windows read as ``--reads`` says, by default as
the module reads them under XLA), runs ``--batch`` copies of the bench pairs,
traces ``--calls`` calls with TensorFlow's profiler (XLA's per-op trace on:
``--xla_cpu_enable_xprof_traceme``) and prints the compiled ops' time per pair, grouped by how
often an op runs in a call: once per Newton step, once per pyramid level and direction (the
windows of ``prev``, their derivatives and projection, and the step loop's own control), and the
rest (pyramids, strip table, Farneback, motion evidence, histograms). Then the ``--top`` ops with
the TensorFlow op each came from. Times are each op's own, without the ops nested in it (a
``while`` holds its body's); they add up to more than the wall time when XLA runs two at once.
An op of the rest that happens to run as often as a group's ops counts in that group.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

#: Turns on XLA's per-op trace events; XLA reads it when TensorFlow first starts it.
TRACE_FLAG = "--xla_cpu_enable_xprof_traceme=true"


def op_times(trace_dir: Path) -> tuple[collections.Counter, collections.Counter]:
    """Self microseconds (less the ops nested in it on its thread: a ``while`` holds its body's
    ops) and run counts of each compiled XLA op in the trace under ``trace_dir`` (the events that
    carry an ``hlo_op`` stat)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    total, runs = collections.Counter(), collections.Counter()
    for path in trace_dir.rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            hlo_op = {k for k, v in plane.stat_metadata.items() if v.name == "hlo_op"}
            for line in plane.lines:
                events = sorted((e.offset_ps, -e.duration_ps,
                                 plane.event_metadata[e.metadata_id].name) for e in line.events
                                if any(s.metadata_id in hlo_op for s in e.stats))
                open_events: list[tuple[int, str]] = []          # (end ps, name)
                for start, longest_first, name in events:
                    duration = -longest_first
                    while open_events and open_events[-1][0] <= start:
                        open_events.pop()
                    if open_events:                              # nested: not its parent's own
                        total[open_events[-1][1]] -= duration / 1e6
                    total[name] += duration / 1e6
                    runs[name] += 1
                    open_events.append((start + duration, name))
    return total, runs


def tf_ops(hlo_text: str) -> dict[str, str]:
    """HLO instruction name -> ``op_type op_name`` of the TensorFlow op it came from."""
    found = {}
    for line in hlo_text.splitlines():
        name = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = ", line)
        meta = re.search(r'op_type="([^"]*)" op_name="([^"]*)"', line)
        if name and meta:
            found[name.group(1)] = f"{meta.group(1)} {meta.group(2)}"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--reads", choices=("windows", "products"), default="windows",
                        help="how LK reads its windows (model_graph.lucas_kanade.WINDOW_READS)")
    args = parser.parse_args()
    if min(args.batch, args.calls, args.top) < 1:
        parser.error("--batch, --calls and --top must be at least 1")
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TRACE_FLAG}"
    from liveness.quiet import import_tensorflow
    tf = import_tensorflow()  # its start-up lines hidden

    from liveness.bench import crop_pairs
    from liveness.config import preset
    from model_graph.lucas_kanade import step_schedule
    from model_graph.module import LivenessCheck
    from model_graph.pyramid import lk_levels

    cfg = preset("default")
    prev, next, marks = crop_pairs(cfg, 16)
    pick = np.arange(args.batch) % len(prev)
    inputs = [tf.constant(x[pick]) for x in (prev, next, marks)]
    module = LivenessCheck(cfg, jit_compile=True, window_reads=args.reads, pair_streams=1)
    for _ in range(2):                                   # compile and warm up
        tf.nest.map_structure(np.asarray, module.check_pair(*inputs))
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        start = time.perf_counter()
        for _ in range(args.calls):
            tf.nest.map_structure(np.asarray, module.check_pair(*inputs))
        wall = (time.perf_counter() - start) / args.calls
        tf.profiler.experimental.stop()
        total, runs = op_times(Path(trace_dir))
    if not total:
        raise SystemExit("the trace holds no XLA ops (did XLA_FLAGS reach XLA?)")
    names = tf_ops(module.check_pair.experimental_get_compiler_ir(*inputs)(stage="optimized_hlo"))

    chunk = module.pair_chunk                # check_in_chunks: ceil(batch / chunk) parts
    chunks = -(-args.batch // chunk)
    top_level = lk_levels(cfg.crop_size, cfg.lk_window, cfg.lk_max_level)
    steps = int(step_schedule(top_level, cfg.lk_iterations).sum())
    groups = {chunks * 2 * steps: f"per Newton step ({2 * steps} a chunk, both directions)",
              chunks * 2 * (top_level + 1): f"per level and direction ({2 * (top_level + 1)} a "
                                            "chunk): windows of prev, derivatives, projection"}

    def ms_a_pair(us: float) -> float:
        return us / 1000 / (args.calls * args.batch)

    grouped = collections.Counter()
    for name, us in total.items():
        grouped[groups.get(runs[name] // args.calls, "the rest")] += us
    whole = sum(total.values())
    print(f"batch {args.batch} in chunks of {chunk}, reads by {args.reads}: "
          f"{1000 * wall / args.batch:.3f} ms a "
          f"pair wall while traced ({args.batch / wall:.0f} pairs/s), compiled ops "
          f"{ms_a_pair(whole):.3f} ms a pair")
    print("\n| ops | ms a pair | share |\n|---|---|---|")
    for group, us in grouped.most_common():
        print(f"| {group} | {ms_a_pair(us):.3f} | {us / whole:.0%} |")
    print("\n| op | runs a call | ms a pair | TensorFlow op |\n|---|---|---|---|")
    for name, us in total.most_common(args.top):
        print(f"| {name} | {runs[name] // args.calls} | {ms_a_pair(us):.3f} | "
              f"{names.get(name, '-')} |")


if __name__ == "__main__":
    main()
