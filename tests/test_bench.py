"""``liveness bench`` end to end at one small size (figures are measured, never asserted)."""

import cv2

from liveness.bench import opencv_threads, time_calls, time_interleaved
from liveness.cli import main


def test_time_calls_counts_and_is_positive():
    calls = []
    times = time_calls(lambda i: calls.append(i), 4, warmup=1)
    assert len(times) == 4 and (times >= 0).all() and calls == [0, 0, 1, 2, 3]


def test_time_interleaved_takes_turns_pair_by_pair():
    calls = []
    times = time_interleaved({"a": lambda i: calls.append(("a", i)), "b": lambda i: calls.append(("b", i))},
                             2, rounds=2, warmup=1)
    assert calls[2:] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)] * 2
    assert {k: len(v) for k, v in times.items()} == {"a": 4, "b": 4}


def test_opencv_threads_sets_the_count_for_the_call_and_restores_it():
    before, seen = cv2.getNumThreads(), []
    call = opencv_threads(1, lambda *args: seen.append(cv2.getNumThreads()), [0], [0], [0], None)
    call(0)
    assert seen == [1] and cv2.getNumThreads() == before


def test_bench_command_writes_every_table(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert main(["bench", "--out", str(out), "--sizes", "96", "--pairs", "2", "--batches", "1", "2"]) == 0
    page = out.read_text()
    for needle in ("## Crop 96 px", "| OpenCV reference |", "| OpenCV reference, 1 thread |",
                   "| motion evidence at 117 points (sigma, homography plane test) |",
                   "| XLA (jit_compile) |", "| SavedModel (reloaded) |",
                   "## TFLite and OpenCV without TensorFlow in the process", "| TFLite float16, 2 threads |",
                   "## Throughput", "| batch | SavedModel | SavedModel, XLA | XLA |",
                   "## Where the TFLite time goes", "| LK forward and back at 117 points |",
                   "## End to end", "## TFLite file size", "## Peak memory per path",
                   "| TFLite float32, one pair per call (liveness_pair.tflite) |",
                   "| TFLite float32, liveness.tflite's check_pair (every signature in one file) |"):
        assert needle in page, needle
