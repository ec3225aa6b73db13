"""Where the plain SavedModel's graph spends its time at a batch: TensorFlow's own per-op timings
(a v1 session's step statistics) of ``check_pair`` without XLA, by loop depth and by op type.

    python scripts/plain_profile.py [--batch 64] [--calls 3]

The graph is the one ``liveness export`` saves (``LivenessCheck`` of the ``default`` preset, crop
160: windows read by products, a batch checked 16 pairs at a time), frozen and run in a v1 session
on copies of the bench pairs (the synthetic live clip). A node's time is from its start to its
end, so nodes running at once on both cores each count in full: the shares say where the time
goes, the sum is not the wall time. Bytes are those of every tensor the ops write (not those
that pass a tensor on: loop plumbing, reshapes). A node's depth is the number of loop bodies it
sits in: 1 a chunk of 16 pairs (pyramids, strip tables, Farneback's expansion, motion evidence,
histograms), 2 the loops there (LK's two directions, Farneback's updates, the plane test's
steps), 3 LK's pyramid levels and the plane test's eliminations, 4 LK's Newton steps. For scale,
the cost of writing a MB in this process: a chain of elementwise ops (``x * f - a``) over tensors
the size of a chunk's Newton-step windows.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

#: What a node's depth (``body/`` segments in its name) holds.
DEPTHS = {0: "outside the chunks (fitting the batch, outputs)", 1: "a chunk's top level",
          2: "loop bodies (LK's directions, ...)", 3: "LK's pyramid levels, ...",
          4: "LK's Newton steps"}
#: Ops whose outputs are their inputs (loop plumbing, reshapes): no bytes written.
FORWARDING = {"Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond", "Identity",
              "Reshape", "Squeeze", "ExpandDims"}


def tally(step_stats, by_depth: collections.Counter, by_type: collections.Counter,
          written: collections.Counter) -> None:
    """Adds one run's ``StepStats`` to the microseconds by depth (:data:`DEPTHS`) and by op type,
    and to the bytes written by depth."""
    for device in step_stats.dev_stats:
        for node in device.node_stats:
            depth = min(node.node_name.count("body/"), max(DEPTHS))
            op = node.timeline_label.split(" = ", 1)[-1].split("(", 1)[0].strip()
            by_depth[depth] += node.all_end_rel_micros
            by_type[op or node.node_name] += node.all_end_rel_micros
            if op not in FORWARDING:
                written[depth] += sum(o.tensor_description.allocation_description.requested_bytes
                                      for o in node.output)


def write_rate(tf, chunk_points: int = 16 * 117, window: int = 16, ops: int = 40) -> float:
    """Milliseconds a MB that a chain of ``ops`` elementwise ops takes over ``[chunk_points,
    window, window]`` float32 tensors (each op one pass, one tensor written)."""
    rng = np.random.default_rng(0)
    a = tf.constant(rng.random((chunk_points, window, window), np.float32))
    f = tf.constant(rng.random((chunk_points, 1, 1), np.float32))

    @tf.function
    def chain(a, f):
        x = a
        for _ in range(ops // 2):
            x = x * f - a
        return x

    chain(a, f)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        chain(a, f)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3 / (ops * a.shape.num_elements() * 4 / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--calls", type=int, default=3, help="traced calls (after 3 untimed)")
    args = parser.parse_args()
    if min(args.batch, args.calls) < 1:
        parser.error("--batch and --calls must be at least 1")
    from liveness.quiet import import_tensorflow
    tf = import_tensorflow()  # its start-up lines hidden
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    from liveness.bench import crop_pairs
    from liveness.config import preset
    from model_graph.module import LivenessCheck

    prev, next, marks = crop_pairs(preset("default"), 16)
    pick = np.arange(args.batch) % len(prev)
    arrays = [x[pick] for x in (prev, next, marks)]
    check = LivenessCheck(preset("default")).check_pair
    frozen = convert_variables_to_constants_v2(check.get_concrete_function(
        *(tf.TensorSpec(a.shape, a.dtype) for a in arrays)))
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
    feed = dict(zip((t.name for t in frozen.inputs), arrays))
    fetches = [t.name for t in frozen.outputs]
    by_depth, by_type, written = (collections.Counter() for _ in range(3))
    with tf.compat.v1.Session(graph=graph) as session:
        for _ in range(3):
            session.run(fetches, feed)
        start = time.perf_counter()
        for _ in range(args.calls):
            session.run(fetches, feed)
        wall = (time.perf_counter() - start) / args.calls
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for _ in range(args.calls):
            metadata = tf.compat.v1.RunMetadata()
            session.run(fetches, feed, options=options, run_metadata=metadata)
            tally(metadata.step_stats, by_depth, by_type, written)
    total = sum(by_depth.values())
    pairs = args.batch * args.calls
    megabytes = sum(written.values()) / 2**20 / pairs
    rate = write_rate(tf)
    print(f"batch {args.batch}: {args.batch / wall:.0f} pairs/s untraced, "
          f"{wall * 1e3 / args.batch:.2f} ms of wall time a pair; node time "
          f"{total / 1e3 / pairs:.2f} ms a pair; {megabytes:.1f} MB written a pair. Elementwise "
          f"ops over a chunk's Newton-step windows write {rate:.3f} ms a MB here: "
          f"{megabytes * rate:.2f} ms a pair at that rate\n")
    print("| loop depth | share of node time | MB written a pair |\n|---|---|---|")
    for depth in sorted(by_depth):
        print(f"| {depth}: {DEPTHS[depth]} | {100 * by_depth[depth] / total:.1f} % "
              f"| {written[depth] / 2**20 / pairs:.1f} |")
    print("\n| op | share of node time |\n|---|---|")
    for name, micros in by_type.most_common(12):
        print(f"| {name} | {100 * micros / total:.1f} % |")


if __name__ == "__main__":
    main()
