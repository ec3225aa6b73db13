"""Throughput of ways of reading LK's windows and of chunk sizes under XLA (or plain TensorFlow),
taking turns in one process.

    python scripts/xla_ab.py [--batch 64] [--rounds 8] [--plain] [products:16 windows:16:1 ...]

Each argument ``READS:CHUNK[:STREAMS]`` is a ``LivenessCheck(cfg, jit_compile=True,
window_reads=READS, pair_chunk=CHUNK, pair_streams=STREAMS)`` (the ``default`` preset, crop 160;
streams as the module's default when not given); with ``--plain``, ``jit_compile=False``: plain
TensorFlow, as the SavedModel ``liveness export`` writes runs (one stream). All are traced, run on
``--batch`` copies of the bench pairs, then timed in ``--rounds`` rounds in which they take turns
(three calls each), so that load on a shared machine falls on all of them. Prints how far each
one's outputs are from the first's, then pairs per second: the median, the median of the
per-round ratios to the first, and every round.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", default=["products:16", "windows:16"],
                        help="READS:CHUNK[:STREAMS], e.g. windows:16 or windows:16:1 (the "
                             "first is the baseline)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--plain", action="store_true",
                        help="plain TensorFlow instead of XLA (jit_compile=False)")
    args = parser.parse_args()
    if min(args.batch, args.rounds) < 1:
        parser.error("--batch and --rounds must be at least 1")
    variants = []
    for spec in args.variants:
        reads, *numbers = spec.split(":")
        if not 1 <= len(numbers) <= 2 or not all(n.isdigit() and int(n) >= 1 for n in numbers):
            parser.error(f"variant {spec!r}: expected READS:CHUNK[:STREAMS], e.g. windows:16")
        variants.append((spec, reads, *map(int, numbers)))
    from liveness.quiet import import_tensorflow
    tf = import_tensorflow()  # its start-up lines hidden

    from liveness.bench import crop_pairs
    from liveness.config import preset
    from model_graph.module import PAIR_STREAMS, LivenessCheck

    cfg = preset("default")
    prev, next, marks = crop_pairs(cfg, 16)
    pick = np.arange(args.batch) % len(prev)
    inputs = [tf.constant(x[pick]) for x in (prev, next, marks)]
    modules, outputs = {}, {}
    for spec, reads, chunk, *streams in variants:
        modules[spec] = LivenessCheck(cfg, jit_compile=not args.plain, window_reads=reads,
                                      pair_chunk=chunk, pair_streams=(streams or [PAIR_STREAMS])[0])
        for _ in range(2):                                   # trace (compile) and warm up
            outputs[spec] = tf.nest.map_structure(np.asarray, modules[spec].check_pair(*inputs))
    first = variants[0][0]
    for spec, *_ in variants[1:]:
        a, b = outputs[first], outputs[spec]
        print(f"{spec} against {first}: landmark flow at most "
              f"{np.abs(a['landmark_flow'] - b['landmark_flow']).max():.2e} px apart; status, "
              f"planar and is_live the same on {np.mean(a['landmark_status'] == b['landmark_status']):.1%}, "
              f"{np.mean(a['planar'] == b['planar']):.1%} and {np.mean(a['is_live'] == b['is_live']):.1%}; "
              f"plane residual at most {np.abs(a['plane_residual'] - b['plane_residual']).max():.2e} apart")
    rates = {spec: [] for spec in modules}
    for _ in range(args.rounds):
        for spec, module in modules.items():
            start = time.perf_counter()
            for _ in range(3):
                tf.nest.map_structure(np.asarray, module.check_pair(*inputs))
            rates[spec].append(3 * args.batch / (time.perf_counter() - start))
    base = np.array(rates[first])
    runtime = "plain TensorFlow" if args.plain else "XLA"
    print(f"\n{runtime}, batch {args.batch}, {args.rounds} rounds, pairs per second:")
    for spec, rate in rates.items():
        print(f"{spec:16s} median {np.median(rate):5.0f}  x{np.median(np.array(rate) / base):.3f} "
              f"of {first}  ({' '.join(f'{r:.0f}' for r in rate)})")


if __name__ == "__main__":
    main()
