"""``liveness bench`` end to end at one small size (figures are measured, never asserted)."""

import cv2
import pytest

from liveness.bench import _Stages, opencv_threads, time_calls, time_interleaved
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


def test_stages_name_the_one_running_and_count_those_done(capsys):
    stages = _Stages(2, quiet=False)
    stages.start("latency")
    stages.start("throughput")
    stages.close()
    err = capsys.readouterr().err
    assert "bench: latency (0/2 stages done" in err and "bench: throughput (1/2 stages done" in err
    quiet = _Stages(2, quiet=True)
    quiet.start("latency")
    quiet.close()
    assert capsys.readouterr().err == ""


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
                   "| LK forward at 2 points (the strip tables and the loops' fixed cost) |",
                   "| Farneback in the two eye patches, 1 update |",
                   "## End to end", "## TFLite file size", "## Peak memory per path",
                   "| TFLite float32, one pair per call (liveness_pair.tflite) |",
                   "| TFLite float32, liveness.tflite's check_pair (every signature in one file) |"):
        assert needle in page, needle


def test_xla_profile_counts_each_op_its_own_time(tmp_path):
    """``scripts/xla_profile.py`` on a made-up trace: a loop's time less its body's ops, events
    that are not XLA ops neither counted nor subtracted."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from tests.test_texture import load_script

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    plane.stat_metadata[1].name = "hlo_op"
    for i, name in enumerate(("while.1", "dot.2", "fusion.3", "ThunkExecutor::Execute"), 1):
        plane.event_metadata[i].name = name
    line = plane.lines.add()
    for meta, start_us, duration_us in ((1, 0, 100), (2, 10, 30), (2, 50, 30), (3, 200, 5),
                                        (4, 0, 1000)):
        event = line.events.add(metadata_id=meta, offset_ps=start_us * 10 ** 6,
                                duration_ps=duration_us * 10 ** 6)
        if meta != 4:
            event.stats.add(metadata_id=1)
    (tmp_path / "host.xplane.pb").write_bytes(space.SerializeToString())
    total, runs = load_script("xla_profile").op_times(tmp_path)
    assert dict(total) == {"while.1": 40.0, "dot.2": 60.0, "fusion.3": 5.0}
    assert dict(runs) == {"while.1": 1, "dot.2": 2, "fusion.3": 1}


def test_xla_profile_names_the_tensorflow_op_of_each_hlo_op():
    from tests.test_texture import load_script

    hlo = ('  %MatMul.43 = f32[1872,18,17]{2,1,0} dot(%a, %b), metadata={op_type="BatchMatMulV2" '
           'op_name="map/while/MatMul" source_file="x.py"}\n  ROOT %t = (f32[]) tuple(%c)\n')
    assert load_script("xla_profile").tf_ops(hlo) == {"MatMul.43": "BatchMatMulV2 map/while/MatMul"}


def test_pair_ab_reports_ratios_and_output_gaps():
    """``scripts/pair_ab.py``: medians as multiples of OpenCV's and the first revision's, and the
    outputs that differ from the first revision's (equal ones left out)."""
    import numpy as np

    from tests.test_texture import load_script

    ab = load_script("pair_ab")
    lines = ab.report({"OpenCV reference": 2.0, "a": 4.0, "b": 3.0},
                      {"OpenCV reference": 2.5, "a": 5.0, "b": 3.5}, ["a", "b"])
    assert lines[2:] == ["| OpenCV reference | 2.000 | 2.500 | 1.000 | 0.500 |",
                         "| a | 4.000 | 5.000 | 2.000 | 1.000 |",
                         "| b | 3.000 | 3.500 | 1.500 | 0.750 |"]
    first = [{"flow": np.array([1.0, 2.0]), "valid": np.array(True)}] * 2
    other = [{"flow": np.array([1.0, 2.5]), "valid": np.array(True)},
             {"flow": np.array([1.0, 2.0]), "valid": np.array(True)}]
    assert ab.output_gaps(first, other) == {"flow": 0.5}
    assert ab.output_gaps(first, first) == {}


@pytest.mark.parametrize("variant", ["windows", "windows:0", "windows:16:0", "windows:16:2:1"])
def test_xla_ab_refuses_a_malformed_variant(variant, monkeypatch, capsys):
    """``scripts/xla_ab.py`` says what a variant looks like before it loads TensorFlow."""
    from tests.test_texture import load_script

    monkeypatch.setattr("sys.argv", ["xla_ab.py", variant])
    with pytest.raises(SystemExit) as stop:
        load_script("xla_ab").main()
    assert stop.value.code == 2 and "expected READS:CHUNK[:STREAMS]" in capsys.readouterr().err


def test_plain_profile_tallies_time_by_depth_and_op_and_bytes_only_where_written():
    """``scripts/plain_profile.py`` on made-up step statistics: a node's depth is its loop bodies
    (capped at the Newton steps'), loop plumbing and reshapes write no bytes."""
    import collections

    from tensorflow.core.framework import step_stats_pb2

    from tests.test_texture import load_script

    stats = step_stats_pb2.StepStats()
    device = stats.dev_stats.add(device="/cpu:0")
    deep = "map/while/body/_1/w/body/_2/w/body/_3/w/body/_4/w/body/_5/Sub"
    for name, label, micros, size in (("map/while/body/_1/Mul", "Mul = Mul(a, b)", 5, 400),
                                      (deep, "Sub = Sub(a, b)", 7, 40),
                                      ("map/while/body/_1/Merge", "Merge = Merge(a, b)", 1, 4000),
                                      ("top/Reshape", "Reshape = Reshape(a, s)", 2, 4000)):
        node = device.node_stats.add(node_name=name, timeline_label=label,
                                     all_end_rel_micros=micros)
        node.output.add().tensor_description.allocation_description.requested_bytes = size
    by_depth, by_type, written = (collections.Counter() for _ in range(3))
    load_script("plain_profile").tally(stats, by_depth, by_type, written)
    assert by_depth == {1: 6, 4: 7, 0: 2}
    assert by_type == {"Mul": 5, "Sub": 7, "Merge": 1, "Reshape": 2}
    assert written == {1: 400, 4: 40}
