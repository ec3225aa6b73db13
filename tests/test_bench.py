"""``liveness bench`` end to end at one small size (figures are measured, never asserted)."""

from liveness.bench import time_calls
from liveness.cli import main


def test_time_calls_counts_and_is_positive():
    calls = []
    times = time_calls(lambda i: calls.append(i), 4, warmup=1)
    assert len(times) == 4 and (times >= 0).all() and calls == [0, 0, 1, 2, 3]


def test_bench_command_writes_every_table(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert main(["bench", "--out", str(out), "--sizes", "96", "--pairs", "2", "--batches", "1", "2"]) == 0
    page = out.read_text()
    for needle in ("## Crop 96 px", "| OpenCV reference |", "| XLA (jit_compile) |",
                   "| SavedModel (reloaded) |", "| TFLite float16, 2 threads |",
                   "## Throughput", "## Where the TFLite time goes", "| LK forward and back at 117 points |",
                   "## End to end", "## TFLite file size", "## Peak memory per path",
                   "| TFLite float32, one pair per call (liveness_pair.tflite) |",
                   "| TFLite float32, batch axis free (liveness.tflite's check_pair) |"):
        assert needle in page, needle
