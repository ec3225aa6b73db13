"""``liveness bench``: latency of every implementation of the pair check, measured in one run.

The pair check is every cue of the ``default`` preset but texture (the ``check_pair`` signature;
texture has its own table). For each crop size, face-crop pairs are cut from the synthetic live
clip exactly as the pipeline cuts them, and each path scores them one pair at a time: the OpenCV
reference, eager TensorFlow, the ``tf.function``, XLA, the reloaded SavedModel, and the TFLite
file of one pair per call (``liveness_pair.tflite``, float32 and float16) at 1 and 2 threads.
Median and 90th percentile per pair, and the ratio to the OpenCV path measured in the same run;
then the OpenCV path and the TFLite file again in a process without TensorFlow, as on a device.
Then SavedModel and XLA throughput by batch size, where the TFLite time goes, the texture cue,
end to end frames per second and the LiteRT demo's peak memory, file sizes, and the speed
targets. Machines here are shared: compare ratios, not absolute times.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from liveness.config import LivenessConfig, preset

CROP_SIZES = (96, 128, 160, 192, 256)
BATCHES = (1, 8, 64, 256)
#: Timed calls per batch size and path in the throughput table (the paths take turns).
THROUGHPUT_CALLS = 7


def crop_pairs(cfg: LivenessConfig, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` pipeline crop pairs ``(prev, next, landmarks)`` of the synthetic live clip."""
    from liveness.clip import ClipChecker
    from liveness.synthetic import synthetic_clip

    record: list = []
    ClipChecker(cfg).check(synthetic_clip("live", frames=count + 1, seed=1), record=record)
    prev, next, marks = (np.stack(x) for x in zip(*record))
    return prev, next, marks.astype(np.float32)


def time_calls(call: Callable[[int], object], count: int, warmup: int = 2) -> np.ndarray:
    """Milliseconds of ``call(i)`` for ``i`` in ``range(count)``, after ``warmup`` calls."""
    return time_interleaved({"call": call}, count, rounds=1, warmup=warmup)["call"]


def time_interleaved(calls: dict[str, Callable[[int], object]], count: int, rounds: int = 3,
                     warmup: int = 2) -> dict[str, np.ndarray]:
    """Milliseconds of each ``call(i)``, ``i`` in ``range(count)``, ``rounds`` times: the calls
    take turns pair by pair, so every path meets the same load on a shared machine and their
    ratios hold even when the absolute times drift."""
    for call in calls.values():
        for i in range(warmup):
            call(i % count)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for i in range(count):
            for name, call in calls.items():
                start = time.perf_counter()
                call(i)
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: np.asarray(t) for name, t in times.items()}


def median_p90(times: dict[str, np.ndarray]) -> list[tuple[str, float, float]]:
    """``[(path, median ms, 90th percentile ms)]`` of :func:`time_interleaved`'s times."""
    return [(name, float(np.median(t)), float(np.percentile(t, 90))) for name, t in times.items()]


def child_output(code: str) -> str:
    """The last line ``python -c code`` prints, run in a fresh process (TensorFlow's log quiet)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return done.stdout.strip().splitlines()[-1]


#: The OpenCV reference with ``cv2.setNumThreads(1)``: the like-for-like baseline of the 1-thread
#: TFLite rows (OpenCV's own default spreads its LK and Farneback loops over every core).
OPENCV_ONE_THREAD = "OpenCV reference, 1 thread"


def opencv_threads(threads: int | None, reference_check: Callable, prev: np.ndarray,
                   next: np.ndarray, marks: np.ndarray,
                   cfg: LivenessConfig) -> Callable[[int], object]:
    """``call(i)`` scoring pair ``i`` on the OpenCV reference with ``threads`` OpenCV threads
    (None: OpenCV's default); OpenCV's setting is restored after each call."""
    import cv2

    def call(i: int) -> object:
        if threads is None:
            return reference_check(prev[i], next[i], marks[i], cfg)
        before = cv2.getNumThreads()
        cv2.setNumThreads(threads)
        try:
            return reference_check(prev[i], next[i], marks[i], cfg)
        finally:
            cv2.setNumThreads(before)
    return call


def latency_rows(cfg: LivenessConfig, pairs: int, workdir: Path) -> tuple[list[tuple], dict]:
    """``[(path, median_ms, p90_ms)]`` for one crop size (eager TensorFlow timed alone, every
    other path interleaved with the OpenCV reference), and the TFLite file sizes. Leaves the
    pairs, the SavedModel and the TFLite files in ``workdir`` for the other tables."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from export.exporter import convert, convert_pair, save_for_tflite
    from liveness.reference import check_pair as reference_check
    from model_graph.check import check_pair as graph_check
    from model_graph.module import LivenessCheck

    prev, next, marks = crop_pairs(cfg, pairs)
    np.savez(workdir / f"latency_pairs_{cfg.crop_size}.npz", prev=prev, next=next, marks=marks)
    n = len(prev)
    one = [(prev[i:i + 1], next[i:i + 1], marks[i:i + 1]) for i in range(n)]
    eager = time_calls(lambda i: graph_check(*(tf.constant(x) for x in one[i]), cfg),
                       min(n, 5), warmup=1)
    module = LivenessCheck(cfg)
    compiled = LivenessCheck(cfg, jit_compile=True)
    saved = workdir / f"saved_{cfg.crop_size}"
    tf.saved_model.save(module, str(saved),
                        signatures={"serving_default": module.check_pair.get_concrete_function()})
    served = tf.saved_model.load(str(saved)).signatures["serving_default"]
    calls = {"OpenCV reference": opencv_threads(None, reference_check, prev, next, marks, cfg),
             OPENCV_ONE_THREAD: opencv_threads(1, reference_check, prev, next, marks, cfg),
             "tf.function": lambda i: module.check_pair(*one[i]),
             "XLA (jit_compile)": lambda i: compiled.check_pair(*one[i]),
             "SavedModel (reloaded)": lambda i: served(prev=one[i][0], next=one[i][1],
                                                       landmarks=one[i][2])}
    sizes = {}
    for label, fp16 in (("float32", False), ("float16", True)):
        blob = convert_pair(cfg, fp16=fp16)             # liveness_pair.tflite: one pair per call
        sizes[label] = len(blob)
        (workdir / f"liveness_{cfg.crop_size}_{label}.tflite").write_bytes(blob)
        for threads in (1, 2):
            runner = Interpreter(model_content=blob, num_threads=threads).get_signature_runner(
                "check_pair")
            calls[f"TFLite {label}, {threads} thread{'s' * (threads > 1)}"] = (
                lambda i, run=runner: run(prev=one[i][0], next=one[i][1], landmarks=one[i][2]))
    times = time_interleaved(calls, n)
    rows = {"OpenCV reference": times.pop("OpenCV reference"),
            OPENCV_ONE_THREAD: times.pop(OPENCV_ONE_THREAD), "TensorFlow eager": eager, **times}
    # liveness.tflite as exported (every signature, texture networks included), for the memory
    # table only.
    save_for_tflite(cfg, workdir / f"saved_all_{cfg.crop_size}")
    (workdir / f"liveness_{cfg.crop_size}_all.tflite").write_bytes(
        convert(workdir / f"saved_all_{cfg.crop_size}", fp16=False))
    return median_p90(rows), sizes


#: The throughput table's paths: the reloaded SavedModel as ``liveness export`` writes it, the
#: same with ``--xla``, and the XLA module in this process.
THROUGHPUT_PATHS = ("SavedModel", "SavedModel, XLA", "XLA")


def throughput_rows(cfg: LivenessConfig, workdir: Path, batches: tuple[int, ...] = BATCHES) -> list[tuple]:
    """``[(batch, pairs/s of each of THROUGHPUT_PATHS)]`` at the config's crop size."""
    import tensorflow as tf

    from export.exporter import save_signatures
    from model_graph.module import LivenessCheck

    prev, next, marks = crop_pairs(cfg, 16)
    served = tf.saved_model.load(str(workdir / f"saved_{cfg.crop_size}")).signatures["serving_default"]
    compiled = LivenessCheck(cfg, jit_compile=True)
    saved_xla = workdir / f"saved_xla_{cfg.crop_size}"
    save_signatures(compiled, saved_xla, ("check_pair",))
    served_xla = tf.saved_model.load(str(saved_xla)).signatures["check_pair"]
    rows = []
    for batch in batches:
        pick = np.arange(batch) % len(prev)
        args = (prev[pick], next[pick], marks[pick])
        named = dict(zip(("prev", "next", "landmarks"), args))
        ms = time_interleaved(dict(zip(THROUGHPUT_PATHS, (
            lambda _i: served(**named), lambda _i: served_xla(**named),
            lambda _i: compiled.check_pair(*args)))), 1, rounds=THROUGHPUT_CALLS)
        rows.append((batch, *(batch / (np.median(ms[path]) / 1000) for path in THROUGHPUT_PATHS)))
    return rows


def texture_rows(count: int = 20) -> list[tuple[str, float, float]]:
    """``[(path, median ms, p90 ms)]`` of the texture cue for one face (both networks): the
    shipped ``texture.tflite`` on LiteRT at 1 and 2 threads, and the Keras model as a
    ``tf.function``."""
    import tensorflow as tf

    from liveness.texture import TextureScorer
    from model_graph.texture import texture_model

    patches = np.random.default_rng(0).integers(0, 256, (count, 1, 2, 80, 80, 3), dtype=np.uint8)
    rows = []
    for threads in (1, 2):
        scorer = TextureScorer(threads=threads)
        rows.append((f"texture.tflite (LiteRT), {threads} thread{'s' * (threads > 1)}",
                     time_calls(lambda i: scorer(patches[i]), count)))
    model = texture_model()
    traced = tf.function(lambda x: model(x, training=False))
    rows.append(("Keras model as tf.function",
                 time_calls(lambda i: traced(tf.constant(patches[i], tf.float32)), count)))
    return [(name, float(np.median(t)), float(np.percentile(t, 90))) for name, t in rows]


def end_to_end_rows(model_dir: Path | None) -> tuple[str, list[tuple[str, float, float | None]]]:
    """``[(pipeline, frames per second, peak MB or None)]`` over a whole clip (decoding included):
    the host pipeline detecting on every frame and detecting-and-tracking, and the LiteRT demo
    (in its own process, with its peak memory) when ``model_dir`` is given."""
    from liveness.clip import ClipChecker
    from liveness.paths import shared_data
    from liveness.synthetic import synthetic_clip
    from liveness.video import read_video

    clip_path = shared_data() / "clips" / "webcam_live.webm"
    if clip_path.is_file():
        name, frames = clip_path.name, lambda: read_video(clip_path)
    else:
        clip = synthetic_clip("live", frames=60)
        name, frames = "synthetic live clip (640x480)", lambda: iter(clip)
    from liveness.blazeface import model_path as blazeface_model

    base = preset("default")
    detectors = ("mtcnn", "blazeface") if blazeface_model().is_file() else ("mtcnn",)
    rows = []
    for detector in detectors:
        for label, cfg in (("detect every frame", base.replace(detect_every=1, detector=detector)),
                           ("detect and track", base.replace(detector=detector))):
            start = time.perf_counter()
            verdict = ClipChecker(cfg).check(frames()).verdict
            rows.append((f"host (OpenCV path), {detector}, {label}",
                         verdict.frames / (time.perf_counter() - start), None))
    if model_dir is not None:
        for detector in detectors:
            for threads in (1, 2):
                fps, peak = demo_run(clip_path if clip_path.is_file() else None, model_dir,
                                     threads, detector)
                rows.append((f"LiteRT demo, {detector}, detect and track, {threads} "
                             f"thread{'s' * (threads > 1)}", fps, peak))
    return name, rows


def demo_run(clip: Path | None, model_dir: Path, threads: int, detector: str) -> tuple[float, float]:
    """``(frames per second, peak MB)`` of ``python -m mobile_demo`` on ``clip`` (None: the
    synthetic live clip) in a fresh process, as a phone app would run it."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.json"
        if clip is None:
            from liveness.synthetic import write_manifest

            write_manifest(Path(tmp), frames=60)
            clip = Path(tmp) / "live_0.avi"
        code = ("import sys; from mobile_demo.__main__ import main; "
                f"status = main([{str(clip)!r}, '--model-dir', {str(model_dir)!r}, '--threads', "
                f"'{threads}', '--detector', {detector!r}, '--json', {str(out)!r}, '--quiet']); "
                "from liveness.bench import own_peak_rss_mb; print(own_peak_rss_mb()); "
                "sys.exit(status)")
        peak = float(child_output(code))
        fps = json.loads(out.read_text())["timing"]["frames_per_second"]
    return fps, peak


def device_rows(cfg: LivenessConfig, workdir: Path) -> list[tuple[str, float, float]]:
    """``[(path, median_ms, p90_ms)]`` of the OpenCV reference (default threads and 1 thread) and
    ``liveness_pair.tflite`` float32 (1 and 2 threads) taking turns in a fresh process that never
    imports TensorFlow, as on a device: in the bench's own process TensorFlow's and XLA's thread
    pools compete with OpenCV's threads. Needs ``latency_rows`` to have written its pairs and the
    TFLite file of ``cfg.crop_size`` into ``workdir``."""
    import json

    code = ("from liveness.bench import device_probe; "
            f"device_probe({str(workdir)!r}, {cfg.to_json()!r})")
    return [tuple(row) for row in json.loads(child_output(code))]


def device_probe(workdir: str, config_json: str) -> None:
    """Time the paths of :func:`device_rows` over the saved pairs and print their
    ``[[path, median ms, p90 ms]]`` as JSON (the child side)."""
    import json

    from liveness.litert import make_interpreter
    from liveness.reference import check_pair as reference_check

    cfg = LivenessConfig(**json.loads(config_json))
    data = np.load(Path(workdir) / f"latency_pairs_{cfg.crop_size}.npz")
    prev, next, marks = data["prev"], data["next"], data["marks"]
    calls = {"OpenCV reference": opencv_threads(None, reference_check, prev, next, marks, cfg),
             OPENCV_ONE_THREAD: opencv_threads(1, reference_check, prev, next, marks, cfg)}
    file = Path(workdir) / f"liveness_{cfg.crop_size}_float32.tflite"
    for threads in (1, 2):
        runner = make_interpreter(file, threads=threads).get_signature_runner("check_pair")
        calls[f"TFLite float32, {threads} thread{'s' * (threads > 1)}"] = (
            lambda i, run=runner: run(prev=prev[i:i + 1], next=next[i:i + 1],
                                      landmarks=marks[i:i + 1]))
    print(json.dumps(median_p90(time_interleaved(calls, len(prev)))))


MEMORY_PAIRS = 10
MEMORY_PATHS = ("OpenCV reference", "TFLite float32, one pair per call (liveness_pair.tflite)",
                "TFLite float32, liveness.tflite's check_pair (every signature in one file)",
                "tf.function",
                "XLA (jit_compile)", "SavedModel (reloaded)")


def memory_rows(cfg: LivenessConfig, workdir: Path) -> list[tuple[str, float]]:
    """``[(path, peak RSS MB)]``: each path alone in a fresh Python process scoring the first
    :data:`MEMORY_PAIRS` pairs.

    Needs ``latency_rows`` to have written its pairs (a ``.npz``, so the OpenCV and LiteRT
    processes never import TensorFlow), the SavedModel and the TFLite files of
    ``cfg.crop_size`` into ``workdir``.
    """
    rows = []
    for path in MEMORY_PATHS:
        code = ("from liveness.bench import memory_probe; "
                f"memory_probe({path!r}, {str(workdir)!r}, {cfg.to_json()!r})")
        rows.append((path, float(child_output(code))))
    return rows


def memory_probe(path: str, workdir: str, config_json: str) -> None:
    """Run one path over the saved pairs and print this process's peak RSS in MB (the child side
    of :func:`memory_rows`)."""
    import json

    cfg = LivenessConfig(**json.loads(config_json))
    data = np.load(Path(workdir) / f"latency_pairs_{cfg.crop_size}.npz")
    prev, next, marks = (data[key][:MEMORY_PAIRS] for key in ("prev", "next", "marks"))
    if path == "OpenCV reference":
        from liveness.reference import check_pair

        for i in range(len(prev)):
            check_pair(prev[i], next[i], marks[i], cfg)
    elif path.startswith("TFLite"):
        from liveness.litert import make_interpreter

        one_pair = "one pair" in path
        file = Path(workdir) / f"liveness_{cfg.crop_size}_{'float32' if one_pair else 'all'}.tflite"
        runner = make_interpreter(file, threads=1).get_signature_runner("check_pair")
        for i in range(len(prev)):
            runner(prev=prev[i:i + 1], next=next[i:i + 1], landmarks=marks[i:i + 1])
    else:
        import tensorflow as tf

        from model_graph.module import LivenessCheck

        if path.startswith("SavedModel"):
            served = tf.saved_model.load(str(Path(workdir) / f"saved_{cfg.crop_size}"))
            call = served.signatures["serving_default"]
        else:
            call = LivenessCheck(cfg, jit_compile=path.startswith("XLA")).check_pair
        for i in range(len(prev)):
            call(prev=tf.constant(prev[i:i + 1]), next=tf.constant(next[i:i + 1]),
                 landmarks=tf.constant(marks[i:i + 1]))
    print(f"{own_peak_rss_mb():.1f}")


def own_peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` from ``/proc/self/status`` (Linux
    keeps ``ru_maxrss`` across ``execve``, so a child started from a large parent would report the
    parent's peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:   # no /proc on this system
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_profile(cfg: LivenessConfig, pairs: int) -> list[tuple[str, float, int]]:
    """Where the TFLite time goes: parts of the graph converted alone and timed taking turns
    (1 thread).

    Returns ``[(part, median ms, file bytes)]``; the first part is the whole pair check without
    texture, the motion check's TFLite part.
    """
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from export.exporter import TFLITE_WINDOW_READS, shipped_tflite
    from model_graph.check import check_pair
    from model_graph.flow import PairPyramids, eye_boxes, eye_flow, face_grid
    from model_graph.motion import motion_evidence

    prev, next, marks = crop_pairs(cfg, pairs)
    size = cfg.crop_size
    signature = [tf.TensorSpec([1, size, size], tf.uint8, name="a"),
                 tf.TensorSpec([1, size, size], tf.uint8, name="b"),
                 tf.TensorSpec([1, 68, 2], tf.float32, name="p")]

    def floats(a, b):
        return tf.cast(a, tf.float32), tf.cast(b, tf.float32)

    def tables(a, b, p):
        return PairPyramids(*floats(a, b), cfg, TFLITE_WINDOW_READS).pyramid.table[:1]

    def lk(both_ways: bool, count: int | None = None):       # count: the first points only
        def run(a, b, p):
            points = tf.concat([p, face_grid(p, cfg.motion_grid)[0]], 1)[:, :count]
            pyramids = PairPyramids(*floats(a, b), cfg, TFLITE_WINDOW_READS)
            return pyramids.there_and_back(points)[2] if both_ways else pyramids.flow(points)[0]
        return run

    def eyes(updates: int):
        eye_cfg = dataclasses.replace(cfg, fb_iterations=updates)

        def run(a, b, p):
            boxes = eye_boxes(p, eye_cfg.eye_min_box_px, eye_cfg.eye_box_scale)[0]
            return eye_flow(*floats(a, b), boxes, eye_cfg)[0]
        return run

    def plane(a, b, p):          # on a stand-in flow: a 2 % zoom of every point
        points = tf.concat([p, face_grid(p, cfg.motion_grid)[0]], 1)
        kept = tf.ones(tf.shape(points)[:2], tf.bool)
        return motion_evidence(points, 0.02 * points, kept, cfg)["plane_residual"]

    points = 68 + cfg.motion_grid ** 2
    parts = [
        ("pair check without texture (check_pair)",
         lambda a, b, p: check_pair(a, b, p, cfg, TFLITE_WINDOW_READS)),
        (f"LK forward and back at {points} points", lk(True)),
        (f"LK forward at {points} points", lk(False)),
        ("LK forward at 2 points (the strip tables and the loops' fixed cost)", lk(False, 2)),
        ("LK strip tables of both frames (pyramids included)", tables),
        (f"Farneback in the two eye patches ({cfg.fb_iterations} updates)",
         eyes(cfg.fb_iterations)),
        ("Farneback in the two eye patches, 1 update", eyes(1)),
        (f"motion evidence at {points} points (sigma, homography plane test)", plane),
    ]
    calls, sizes = {}, {}
    for name, function in parts:
        holder = tf.Module()
        holder.function = tf.function(function, input_signature=signature)
        blob = shipped_tflite(tf.lite.TFLiteConverter.from_concrete_functions(
            [holder.function.get_concrete_function()], holder))
        runner = Interpreter(model_content=blob, num_threads=1).get_signature_runner()
        calls[name] = lambda i, run=runner: run(a=prev[i:i + 1], b=next[i:i + 1], p=marks[i:i + 1])
        sizes[name] = len(blob)
    times = time_interleaved(calls, len(prev))
    return [(name, float(np.median(times[name])), sizes[name]) for name, _ in parts]


def opencv_default_threads() -> int:
    """OpenCV's default thread count on this machine."""
    import cv2

    return cv2.getNumThreads()


def targets_section(size: int, tflite_ratio: tuple[float, float], throughput: list[tuple],
                    clip_name: str, e2e: list[tuple], motion_bytes: int,
                    texture_ms: float) -> list[str]:
    """The speed issue's targets against this run's figures (``tflite_ratio``: against OpenCV
    at its default threads, which the target names, and at 1 thread)."""

    def row(name: str, measured: str, target: str, met: bool | None) -> str:
        verdict = "n/a" if met is None else ("yes" if met else "**no**")
        return f"| {name} | {measured} | {target} | {verdict} |"

    lines = ["## Targets (2-core machine)", "", "| target | measured | bound | met |",
             "|---|---|---|---|",
             row(f"pair check without texture, TFLite float32, 1 thread, crop {size}, vs OpenCV "
                 "(no TensorFlow in the process)",
                 f"{tflite_ratio[0]:.2f}x", "<= 2x", tflite_ratio[0] <= 2.0),
             row("the same against OpenCV at 1 thread (like for like; for reading, not the target)",
                 f"{tflite_ratio[1]:.2f}x", "-", None)]
    batch_one = throughput[0]
    for column, path in enumerate(THROUGHPUT_PATHS, 1):
        at_64 = [r[column] for r in throughput if r[0] == 64]
        if at_64:
            lines.append(row(f"{path} throughput at batch 64", f"{at_64[0]:.0f} pairs/s",
                             ">= 400 pairs/s", at_64[0] >= 400))
        slowest = min(throughput, key=lambda r: r[column])
        lines.append(row(f"{path}: no batch slower per pair than batch 1",
                         f"slowest: batch {slowest[0]}, {slowest[column]:.0f} pairs/s "
                         f"(batch 1: {batch_one[column]:.0f})", "per-pair rate >= batch 1's",
                         slowest[column] >= batch_one[column]))
    lines.append(row("motion check's TFLite part (the pair check without texture, alone)",
                     f"{motion_bytes / 1024:.0f} KB", "<= 200 KB", motion_bytes <= 200 * 1024))
    for name, fps, peak in e2e:
        if name.startswith("LiteRT demo") and "2 threads" in name:
            lines.append(row(f"{name} on {clip_name}", f"{fps:.1f} fps", ">= 30 fps", fps >= 30))
            lines.append(row(f"{name}: peak memory", f"{peak:.0f} MB", "<= 150 MB", peak <= 150))
    lines += [row("texture: both networks for one face, TFLite float32, 1 thread",
                  f"{texture_ms:.2f} ms", "<= 5 ms", texture_ms <= 5.0), "", TRIED]
    return lines


TRIED = """## Why the misses, and what was tried

- **Where the time goes** (the profile above): the pair check tracks 117 points (68 landmarks and
  the 7x7 face grid) forward and back, so Lucas-Kanade is most of it, then Farneback in the two eye
  patches; the plane test, histograms and score are a small rest. Within LK as the TFLite files run
  it (parts converted alone, 1 thread, forward only, ad-hoc runs): the strip tables of both frames
  0.22 ms, the windows of `prev` with their derivatives and projection about 0.16 ms a level (three
  levels), then each Newton step about 0.054 ms for 117 points, of which the window read about 0.04
  (two gathers, a transpose and two interpolations, as the read was then); 10 steps a direction (5
  at full resolution, 3 at the level between, 2 at the coarsest). Farneback (converted alone): 0.20
  ms, of which the eye patches 0.03, the polynomial expansion 0.045 and each of the 3 updates 0.04.
  Inside XNNPACK an elementwise op costs little (60 chained ops on 234 floats: 3.3 µs); what costs
  is the ops over the windows and a few op shapes XNNPACK runs badly: a `BATCH_MATMUL` of 117 small
  per-point matrices (26 µs, where a `FULLY_CONNECTED` of the same size with one matrix takes 4:
  about 0.12 µs per matrix), slices of a few floats along the last axis and `x[:, 0]`-style slices
  (Farneback's bilinear sample took 106 µs of a 124 µs update that way, 21 once sliced by planes),
  reductions over an axis of two (1.6-2.6 µs against 1.0 for two slices). OpenCV does the same
  arithmetic in tight SIMD loops, and without XNNPACK (TFLite's built-in kernels alone) the pair
  check takes 5.3x as long. Sampled by `perf record -g` (Debian's linux-perf) over 1,500 calls of
  the one-pair file at 1 thread in a process without TensorFlow (ad hoc, a later round; the samples
  include making the bench pairs): 22.6 % of the time in `memmove`, of which 14.6 % called by
  XNNPACK's operators (those that copy: slices, reshapes, concatenations), 4.7 % in TFLite's
  `GATHER` and 1.4 % in `PACK`; then XNNPACK's elementwise kernels (multiply by a scalar 5.3 %,
  subtract 3.9 %, add 3.8 %, multiply 3.7 %), transposes 4.4 %, its products 3.9 %. Of the `memmove`
  time, 9.9 points fall inside the Newton steps' loop (the innermost of three `WHILE`s: directions,
  levels, steps) and 5.7 in the levels' set-up. Interpolating between two gathers of the
  neighbouring rows and columns instead of between slices of one gather copied no less (1.03x the
  time; the columns alone 1.005x; `scripts/pair_ab.py`). Windows kept `[M, K, K]` and summed over
  two axes instead of flattened to `[M, 1, K*K]` (a reshape, a copy in XNNPACK): 0.98x and, the
  order swapped, 0.99x in TFLite, XLA 1.06x, plain TensorFlow 0.95x; not kept then, kept since
  (below). A round later (`scripts/pair_ab.py`, 8 rounds each), not kept: the steps' interpolation
  between rows folded into the projection (each row of `P` placed on the first and on the last `K`
  of `K + 1` rows read, four sums a step interpolated between rows instead of a window: 1.094x as
  four tensors, 1.100x stacked into one, while leaving the interpolation out altogether, a wrong
  result, took 0.912x: the longer sums cost more than the interpolation they replace); the
  projection's sums as products with a vector of ones (`FULLY_CONNECTED`) instead of `SUM` (1.045x).
  Most of LK's time grows with the points, not with the ops: the profile's rows at 117 and at 2
  points split LK forward into the loops' fixed cost (the strip tables, and 86 TFLite ops in the
  Newton step's body and 167 in a level's, which run whatever the number of points; 85 and 166
  before the read below took its columns first) and the work per point, the passes and copies over
  each point's windows. In the run that added those rows: 2.73 against 1.13 ms, the tables 0.73, so
  0.40 ms a direction fixed and 13.9 µs a point (an ad-hoc run of the same parts at 2, 16, 60 and
  117 points, 0.92, 1.11, 1.75 and 2.49 ms, grew about linearly). Farneback's rows with 3 updates
  and with 1 give an update's cost: 0.65 against 0.49 ms in that run, 0.08 ms an update of two 32 px
  patches (92 TFLite ops on tensors of a few thousand floats).
- **Sampled by `python scripts/pair_profile.py`** (`perf` over 2,000 calls of the one-pair file, 1
  thread, no TensorFlow in the process; the file as this page's run exports it; the latest run),
  the shares of the samples inside the interpreter's `Invoke`: by loop depth, the graph's top level
  (pyramids, strip tables, Farneback's expansion, motion evidence, histograms) 16.4 %, the loop
  bodies there (LK's two directions, Farneback's updates, the plane test's steps) 11.5 %, LK's
  pyramid levels 32.6 %, its Newton steps 39.5 %; by kernel, XNNPACK's elementwise arithmetic
  23.5 %, its copies (slices, reshapes, concatenations) 18.6 %, TFLite's `GATHER` 10.8 %,
  XNNPACK's transposes 9.2 %, its running of operators 8.4 %, its products 6.9 %, preparing loop
  bodies 6.7 %, TFLite's `PACK` (the strip tables) 3.4 %, the interpreter 2.6 %, XNNPACK's sums
  2.3 % (earlier runs moved each share by at most 1.2 points). TFLite's `WHILE` releases
  its bodies' memory after every evaluation and prepares them again at the next (the Newton steps'
  body once per level and direction, 8 times a pair): that preparing is the share above.
  `experimental_preserve_all_tensors=True` keeps the bodies prepared (nothing of it left in the
  profile), but took 1.043x the time (every intermediate tensor its own memory, a working set beyond
  the cache; an ad-hoc A/B run, this round).
- **OpenCV's threads**: OpenCV spreads its LK and Farneback loops over every core by default, while
  the TFLite target row runs 1 thread, so the tables give both baselines. What OpenCV's second
  thread buys depends on what shares the process: alone, OpenCV at 2 threads took 0.73-0.74x its
  1-thread time (two runs of an ad-hoc script); in the tables above, where it takes turns with
  interpreters and TensorFlow runtimes that keep thread pools of their own, it gained little or
  lost. The target is judged in the process without TensorFlow, and OpenCV's own time moves between
  runs of this shared machine (1.45-2.0 ms at 2 threads in this and the last round's runs), so the
  ratio moves with it.
- **What bought the speed** (each an interleaved A/B run of converted parts, 1 thread, in one
  process). Earlier: float arithmetic that XNNPACK runs instead of a bit-exact int32 emulation with
  a `tf.while_loop` (36.7x OpenCV's time); a fixed step schedule; strip-table row gathers instead of
  pixel gathers; the 2x2 solve folded into a projection (a `BATCH_MATMUL` of `[117, 2, 225]` by
  `[117, 225, 1]` cost 0.12 ms per step, a multiply and a sum 0.02 ms); step tests as float masks;
  borders as slices and concatenations instead of `MIRROR_PAD`; elementwise windows of `prev`;
  strips every 4th column instead of every column; the window of `prev` interpolated before the
  Scharr filters; the batch padding left out of the one-pair file; the loop over the pyramid levels;
  Farneback channels first with its box mean, smoothing and polynomial expansion as products with
  constant matrices (`FULLY_CONNECTED`); strips every 6th column (5.40 -> 3.96 ms over the last two
  rounds). This round, in the TFLite files: LK's windows read by two gathers (rows of strips,
  interpolated between rows, transposed, the window's columns gathered as rows, interpolated between
  columns) instead of a bilinear shift product per point (0.91x); Farneback's sample interpolated by
  planes of the gathered neighbourhoods (0.92x), its expansion coefficients and neighbourhoods from
  whole planes (0.96x); the eye patches indexed along each axis first (0.96x); strips every 9th
  column for the gathers (0.97x in three runs); two-value reductions as slices (0.97x, 0.99x); 2
  Newton steps instead of 3 at the coarsest level (0.95x; on the parity pairs no decision figure
  moved by more than 0.2 points, where 2 steps at the level between too moved the motion cue's by
  0.2-0.4). Between the one-pair files at the start and the end of this round: 4.18 -> 3.24 ms
  (0.78x, one 8-round A/B run); on the 20 bench pairs every flag the same, the landmark flow within
  3.7e-3 px (another order of the same float sums, and the step schedule; both graphs on the parity
  page). Since: the two derivatives kept as two windows rather than stacked into one tensor (a
  `PACK`, then sliced apart again) before the projection: 0.950-0.974x (`python scripts/pair_ab.py`,
  three runs, the order swapped in one; the same outputs bit for bit). Then the projection's two
  rows kept as two tensors rather than concatenated (the concatenation was one more pass over the
  windows): the one-pair file 0.99x, XLA at batch 64 0.76-0.82x (three in-process A/B runs, the
  order swapped in one; 0.87x at batch 1), plain TensorFlow 0.90-0.98x; the same outputs bit for
  bit. Then, for the gathers, each point's columns gathered from its own transposed strips
  (`batch_dims=1`) instead of from the strips of every point flattened into one table: 0.945x,
  0.957x and, the order swapped, 0.989x (`scripts/pair_ab.py`; the same outputs bit for bit).
  A later round: the gathers' read interpolates each point's 16 gathered columns first and
  transposes that window back for the rows, instead of interpolating the strips' whole 27-wide
  rows first (the column-first read tried before interpolated the rows along the last axis,
  1.03x): 0.965x, 0.969x and, the order swapped, 0.981x the one-pair file's time
  (`scripts/pair_ab.py`, 8 rounds each; the landmark flow within 1.6e-5 px, every flag the
  same); every read now gives windows `[M, y, x]`.
  This round (`scripts/pair_ab.py`, 10 rounds, each A/B run in both orders; an A/A run of the same
  file twice gave 0.994x, so ratios within about 1.5 % of 1 are noise): the flow's x and y
  unstacked rather than sliced (a slice that drops the last axis, `flow[..., 0]`, runs element by
  element in TFLite's own kernel: the eye flow's polar conversion 86 against 46 µs) and the
  histograms' votes as `relu(1 - |bin - k|)` rather than `one_hot` (TFLite's `ONE_HOT` kernel: 70
  against 24 µs for the eye patches) — 0.956x and 0.993x; windows kept square, `[M, K, K]`,
  rather than flattened (a copy in XNNPACK) — 0.970x and 1.007x, and XLA 1.146x and 1.236x the
  throughput at batch 64 (decisions.md, "Windows stay square"); a padded axis's middle the image
  itself rather than a slice of it — 0.985x and 1.010x (8 ops and 1.3 KB fewer); the pyramid's
  taps sliced straight from the paired rows, equal taps added first — its part 117 against 128
  µs (a micro-benchmark). All with the same outputs bit for bit. The one-pair files at the start
  and the end of the round: 0.947x and, the order swapped, 0.976x the time.
- **One graph, three ways of reading a window** (`LivenessCheck(window_reads=...)`): plain TensorFlow
  keeps the per-point products, which it runs well; the TFLite files read by gathers (the export
  converts the gathers module); XLA slices each point's square whole out of the padded level with
  its own gather (`XlaGather`), which no other runtime runs. With gathers, plain TensorFlow at
  batch 64 took 1.13-1.19x as long (its transposes and strided slices) and XLA 1.2-1.3x
  (interpolation before the transpose; 0.9-1.0x the other way round, which TFLite ran 1.05x
  slower); XLA's sliced squares took it to 1.23x products' throughput at batch 64 (below).
- **File size**: a graph without loops holds every op once per use. The Newton steps, the two
  directions, the pyramid levels, Farneback's updates, the plane test's Gauss-Newton steps and each
  Gauss-Jordan elimination are `tf.while_loop`s (`WHILE` in TFLite, where their bodies run as fast
  as copies did or faster, with the same outputs bit for bit), which took the file from 483 KB
  (3,254 ops) to 230 KB (1,237 ops; ops counted with the flatbuffer schema in `ai_edge_litert`).
  Tensor names were a fifth of what was left: the export drops them (signatures kept), 184 KB.
- **Tried, not kept:** fewer Newton steps at the coarse levels (5/1) — it changed 3.3 % of the
  motion cue's pair decisions against OpenCV on real clips (SPEC allows 2 %); dropping OpenCV's stop
  rules to save ops — no faster, parity no better; the column shift as a choice among 4 shifted
  slices, or a sum of 5 weighted slices — slower in one runtime or another; strips at every column,
  which need no shift (a two-tap interpolation) — LK forward and back 2.28x the time, the table 18
  times the image; for the gathers, strips every 10th, 12th or 18th column (1.03x, 1.07x, 1.05x the
  time of every 9th), the interpolation between rows as products with constant matrices after the
  transpose (a read 55 against 42 µs), the Scharr filters and the window centre as one product
  (1.03x); for the products, strips every 9th column (XLA 1.13x at batch 64, 1.15x at batch 1); the
  strip table built another way — all about 0.55 ms at strips every 6th column: its cost is the
  bytes it writes; the Gauss-Jordan solves of the plane test unrolled — motion evidence 113 instead
  of 139 µs, for 22 KB more file; with one-hot vectors carried through the loop and a float pivot
  guard — 0.122 against 0.129 ms (noise); the 8x8 solves by blocks (the u and v rows share one 3x3
  block: its inverse by cofactors and a 2x2 Schur complement, no loop; as accurate against float64)
  — the plane residual part 0.92x (21 µs), the one-pair file 1.00x and 12 KB larger; XNNPACK's
  latest features (`experimental_default_delegate_latest_features`) — 1.00x the time, the same
  outputs bit for bit (ad-hoc A/B runs of converted files, this round); the strip table by a
  concatenation instead of a stack (1.02x), the level's constants by one gather each for integers
  and floats instead of eight (1.00x), the 2x2 solve applied in every step to the derivatives'
  products instead of folded into the projection (0.98x and 1.01x) (one-pair file A/B runs, a later
  round); the gathers' window read with the columns gathered before the rows are interpolated
  (1.03x), or the rows interpolated along the last axis (1.01x) (`scripts/pair_ab.py`, the round
  after). A round later: the windows' table indices added in float rather than as int32 (TFLite
  runs the int32 broadcast add in its generic kernel) — 0.963x and 0.999x, within the noise, and a
  float index is exact only below 2^24 table rows, which a GPU export's batch of 4,096 pairs
  passes; the strip table as one `GATHER` of 9-float blocks rather than three slices and a `PACK`
  — the table's part 0.90x (a micro-benchmark), the one-pair file 0.992x. Kept, a round later:
  the step tests' masks as `clip(ceil(bound - value), 0, 1)` without first multiplying the
  difference by 2^64 (the ceiling of a positive difference is at least 1 already), 2 ops fewer
  in the Newton step's body (85 to 83) and in a level's (164 to 162): 0.978x and, the order
  swapped, 1.003x the time, within the noise, with the same outputs bit for bit. Later, the
  interpreter's other options (an ad-hoc A/B run, 10 rounds of 30 calls taking turns, the same
  outputs bit for bit): `experimental_disable_delegate_clustering` 1.003x the time,
  `experimental_disable_delegate_node_fusion` 1.17x.
- **XLA slices its windows whole** (`window_reads="windows"`, what `LivenessCheck(jit_compile=True)`
  and `liveness export --xla` read by; docs/decisions.md, "Under XLA, windows sliced whole"): each
  point's square comes out of the padded level by one `XlaGather` with a window-sized slice, then
  two interpolations, with no strip table, shift product or row gathers. `python
  scripts/xla_ab.py` (8 rounds taking turns in one process): 1.23x products' throughput at batch
  64 (397 against 317 pairs/s), 1.13x at batch 8, 1.07x at batch 1 (two earlier ad-hoc runs at
  batch 64: 1.25x and 1.21x); the landmark flow within 2.3e-5 px, every flag the same. XLA's trace
  after it (`python scripts/xla_profile.py`, a run at 367 pairs/s traced), per pair: the set-up of
  each level and direction (the ring, its Scharr products, gradient matrix and projection) 1.46 ms
  (48 % of the ops' time), the Newton steps 0.88 ms (29 %), the rest 0.67 ms (22 %); the largest
  ops are the steps' two multiply fusions (each recomputes the interpolated window and multiplies
  it by one projection row: 0.26-0.27 ms), the set-up's two Scharr products and two projection
  rows (0.17 ms each) and a concatenation in Farneback's updates (0.17 ms). What was tried with
  the sliced windows and not kept (dense derivatives sliced with the intensities, the projection
  stacked, windows summed over two axes, barriers, a convolution for Scharr, 16-wide windows,
  other chunk sizes, unrolled loops) is in decisions.md with its figures.
- **XLA sums the windows row by row** (decisions.md, "Under XLA, window sums row by row"): XLA's
  CPU compiler split each sum of a window's 225 products into a `reduce-window` of 32 and a second
  sum, and stored the product in between (the steps' two multiply fusions and two
  `reduce-window`s above); summed over each of the 15 rows, then added by one product with ones,
  a step is one fused op. In-process A/B runs against one sum (ad hoc): 1.15-1.18x the
  throughput at batch 64, 1.18x at batch 8, 1.15x at batch 1; `python scripts/xla_ab.py`: 1.51x
  and 1.45x products' throughput at batch 64 (1.23x before), 1.32x at batch 8, 1.28x at batch 1.
  XLA's trace after it (`python scripts/xla_profile.py`, two runs): the set-up 46-47 % of the
  ops' time (1.24-1.27 ms a pair), the steps 27 % (0.71-0.74 ms), the rest 26-27 % (0.70-0.71
  ms); the largest ops: the steps' fused product (0.69-0.71 ms), the set-up's two Scharr products
  and its offsets' fused product (0.17-0.18 ms each) and the concatenation in Farneback's updates
  (0.17-0.18 ms). Two bench runs after it gave 465 and 320 pairs/s at batch 64 in process (449
  and 269 for the `--xla` SavedModel): in the second, the plain SavedModel, which the change does
  not touch, fell too, from 151-159 to 102, a slow spell of this shared machine. The latest trace
  (489 pairs/s while traced): the set-up 45 % (1.00 ms a pair), the rest 30 % (0.67 ms), the
  steps 25 % (0.55 ms), the steps' fused product the largest op (0.52 ms).
- **The plain SavedModel's time: the bytes it writes, and each op's fixed cost** (`python
  scripts/plain_profile.py`: TensorFlow's own per-op timings of the graph `liveness export` saves,
  at batch 64; three runs in one round, 147-187 pairs/s untraced). Without XLA every op writes its
  whole result to memory: 79.9 MB a pair (the Newton steps 33.8, the levels' set-up 27.8, a chunk's
  top level 10.8, the other loop bodies 6.9), and a chain of elementwise ops over tensors the size
  of a chunk's Newton-step windows writes 0.064-0.066 ms a MB on this machine, 5.15-5.28 ms a pair
  at that rate against 5.35-6.81 ms measured. 400 pairs/s is 2.5 ms a pair, about 38 MB at that
  rate: half of what the graph writes, which is what XLA's fusion saves (the `--xla` export). In a
  later round's three runs (127-168 pairs/s untraced) the script measured a faster write rate,
  0.041-0.048 ms a MB, so 3.30-3.82 ms a pair for the bytes against 5.95-7.88 measured: half the
  time or a little less, up to two thirds. The rest is in part each op's fixed cost: chunks of 4, 8
  and 32 pairs took the plain graph to 0.64-0.69x, 0.84-0.87x and 0.84-0.90x the throughput of 16
  (`python scripts/xla_ab.py --plain products:16 products:4 products:8 products:32 --rounds 6`, two
  runs, the same outputs bit for bit); from the 4 and the 16, 13-17 ms of a chunk's time does not
  grow with its pairs (0.8-1.1 ms a pair at 16), while 32 pairs outgrow the cache. By node time the
  Newton steps 39 %, the levels 31 %, a chunk's top level 17-19 %, the other loop bodies 10-11 %; by
  op `Mul`, `BatchMatMulV2`, `Sub` and `StridedSlice` 13-15 % each, `GatherV2` 11 %. Two ways of
  writing less in a Newton step, timed alone on a chunk's 1,872 points (ad-hoc scripts), not kept:
  the shift matrix from a bank of integer shifts (two gathers, a multiply and an add instead of a
  subtraction, an absolute value, a subtraction and a ReLU), 1.02x and 1.00x the read's time; the
  interpolation between rows and the projection as one more batched product (each point's window
  `[2, 240]` by a stacked projection `[240, 4]`), 1.09x and 0.97x the step's: TensorFlow's batched
  product costs about 0.6 µs a matrix whatever its size (1.1 ms for those 1,872). The read by other
  kernels, timed alone on the same 1,872 windows of 15 x 15 (an ad-hoc script, three rounds taking
  turns, a later round): `tf.image.crop_and_resize` (one op that interpolates every window)
  2.38-2.91 ms, the strips' column gather of the TFLite files 2.37-2.50, one gather of each window's
  16 x 16 pixels 3.05-3.19, against the shift product's 1.96-2.12: the product stays. Neither oneDNN
  off (`TF_ENABLE_ONEDNN_OPTS=0`: 167 and 170 against 165 and 172 pairs/s) nor other thread pools
  (inter-op/intra-op threads 2/1: 178 and 182, 1/2: 123 and 145, 1/1: 102 and 126, against 171 and
  175 by default) bought anything beyond the noise, and the graph of 22 November, when this page
  read 306 pairs/s, ran at 146 and 164 against 180 and 167 for the graph of that round (separate
  processes taking turns, ad hoc): the machine's speed moved, not the graph's.
- **Batching** helps the SavedModel and XLA (the throughput table); the plain SavedModel stays far
  from 400 pairs/s. Before XLA sliced its windows whole (the item above), XLA's own trace of the
  exported graph at batch 64 (`python scripts/xla_profile.py --reads products`, two runs in an
  earlier round, both at 244 pairs/s), per pair: the work
  done once per pyramid level and direction — the windows of `prev`, their Scharr derivatives and
  the projection — 2.03 ms (43-44 % of the ops' time), the Newton steps 1.75-1.78 ms (38 %), the
  rest (pyramids, strip table, Farneback, motion evidence, histograms) 0.85-0.87 ms (18-19 %). Under
  XLA a level's set-up costs about 4 Newton steps (in TFLite at one pair about 3). The largest ops:
  the steps' shift products (0.79-0.80 ms a pair), the set-up's two Scharr products along the last
  axis (0.43 and 0.39 ms: `[M*17, 17] @ [17, 15]`, a shape XLA's CPU products run slowly), the
  steps' row gathers (0.29-0.30 ms). Earlier the same day, before the projection's rows stopped
  being concatenated: 152 pairs/s, per level 3.40 ms (49 %), steps 2.41 ms (35 %), the
  concatenation's fusion the largest op (0.97 ms; XLA pulled the derivatives' slices and masks into
  it). Tried in the latest round, not kept (in-process A/B runs at batch 64, taking turns): the
  Scharr filters along the last axis as slices (XLA 1.31x, plain TensorFlow 0.98x), both Scharr
  products as one product and a split (XLA 1.08x) or as one product of the filters by the transposed
  lines, `[30, 17] @ [17, M*17]` (XLA 1.24x), the Scharr filters along the last axis folded into the
  set-up's shift product (one per-point product giving the ring and both filters: XLA 1.95x, plain
  TensorFlow 1.22x), the steps' column shift as a sum of 7 weighted slices instead of the shift
  product (XLA 2.64x, plain TensorFlow 1.30x); chunks of 8 or 32 pairs instead of 16 (261 and 256
  against 270 pairs/s, one run); the strip table as one stack over every level's blocks of pixels
  instead of a stack per level and a concatenation (TFLite 0.99x, 1.01x with the order swapped; XLA
  1.05x). Tried in earlier rounds, before the projection change, not kept: the derivatives' mask as
  a product of the two axes' masks (0.99x), the Scharr filters along the second axis as products
  with constant matrices (1.15x); the unstacked derivatives left XLA where it was (0.99x); the
  gradient matrix and the offset as batched products (0.97x at 16 pairs, one A/B run: within the
  noise); both Scharr products as one, the derivatives combined without a stack and masked by a
  product of the two axes' masks (0.95-0.97x at batch 64, four A/B runs, the order swapped in two);
  XLA's CPU flags `--xla_cpu_use_thunk_runtime=false` and `--xla_cpu_enable_fast_math=true` (177-241
  and 209-225 pairs/s against 197-253 with neither, two runs each in separate processes: no gain
  beyond the machine's noise). A round later, not kept: the products' strips every 3rd column (21
  pixels wide instead of 24: XLA 1.09x, the table larger), the steps' rows interpolated before the
  shift product instead of after (XLA 2.34x), the set-up's Scharr products taken on the rows as read
  and interpolated between rows after (1.05x), the derivatives stored once, stacked, with the
  gradient matrix and the projection's rows as two per-point products from them (1.28x) (in-process
  A/B runs at batch 64, taking turns); XLA's CPU flags `--xla_cpu_use_xnnpack=true` (213 against 267
  pairs/s), `--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY` (208),
  `--xla_cpu_use_onednn=true` (295, 264, 241 against 267, 255, 274 with no flag),
  `--xla_cpu_prefer_vector_width=512` (239, 273, 234, 287, 286 against 223, 219, 245, 260, 312) and
  `--xla_cpu_enable_concurrency_optimized_scheduler=true` (165, 235 against 245, 246) (separate
  processes taking turns): slower, or nothing beyond the noise, with the same landmark flow and
  scores bit for bit. XLA's optimised HLO (`--xla_dump_to`) shows the set-up's derivatives never
  stored: each of the five fusions that use them (the three products summed into the gradient
  matrix, the projection's two rows) computes them again from the two Scharr products. A round later
  still, not kept (ad-hoc scripts, not in the repository: in-process A/B runs of `LivenessCheck`s at
  batch 64 taking turns, 8 rounds; and the step's read alone for 1,872 points, 16 pairs, under XLA):
  the steps' windows read by gathers as in TFLite while the set-up keeps its product (its ring
  transposed once a level), 0.79x and 0.82x the throughput with strips every 6th and 9th column
  (gathers throughout: 0.68-0.70x) — alone the gathers' read took 0.58-0.73x the product's time, but
  in the graph XLA's column gather (`batch_dims=1`) took 2.07 ms a pair, 1.68 with an
  `optimization_barrier` before it, where the product takes 0.44-0.53; the shifted copies of the
  strips made by one product with a constant bank of shift matrices and weighted per point (alone
  2.6x the product's time); the shift matrix on the left of the product (alone 1.05x); `P @ window`
  summed over the window's two axes (0.95x the throughput, the same outputs bit for bit) or as a
  batched product of the rows stacked (0.85x). In XLA's profile (`scripts/xla_profile.py`, a run at
  262 pairs/s) `P @ window` runs as two multiplies and two `reduce-window` ops, 0.48 ms a pair
  against the shift product's 0.53. Two independent loops over chunks of 16 in one XLA computation,
  one per half of the batch (in case XLA ran them on both cores at once), gave 1.11x, 1.00x and
  0.88x the throughput in three runs, the noise of this machine (four loops of one chunk each:
  0.98x). Farneback in the eye patches takes 0.37-0.53 ms a pair under XLA alone (32 patches, 16
  pairs, four runs: an eighth to a sixth of the pair check at 305 pairs/s), two fifths of it in one
  fusion of each update's systems that reads the gathered neighbourhoods and the flow through
  transposes; kept as it is: the sample interpolated per pixel on the last axis instead of by planes
  took 1.12x, and `optimization_barrier`s after the sample or the mixed expansions 0.95-0.99x (under
  1 % of the pair check, and an op only XLA knows), the same flow bit for bit.
  `optimization_barrier`s in LK's set-up, which make XLA store a value once, bought nothing either:
  after the derivatives, 1.01x the throughput, after the projection's rows 0.93x (the same outputs
  bit for bit). The steps are 7,488 small per-point products a step at batch 64, which neither
  runtime runs near its peak; plain TensorFlow runs each elementwise op as a pass over memory (at
  batch 64 its profile is multiplies, strided slices, subtractions and additions, then the batched
  products and gathers). An earlier round's changes left plain TensorFlow where it was (1.00x the
  time at batch 1 and 64) and XLA at 0.94x (batch 1) and 0.97x (batch 64) (in-process A/B runs of
  `LivenessCheck`s at the start and the end of the round, taking turns). Then large batches went in
  chunks of 16 pairs (`check_in_chunks`): the strip tables of 64 pairs outgrow the cache; at batch
  64 XLA went from 300-355 to 419-430 pairs/s and the reloaded SavedModel from 256-274 to 304-317
  (one module per process, taking turns; decisions.md). On a GPU the same XLA graph is another
  matter: on an H100, every pair at once and in full float32, it scored 16,500 pairs/s at batch 64
  and 39,400 at batch 4096, and in chunks of 16 only 6,100-7,500 ([gpu.md](gpu.md),
  `scripts/gpu_xla_throughput.py`; compiled by jaxlib's XLA, since that machine had no TensorFlow):
  a GPU server's export takes `--pair-chunk 0`. A CPU server can have XLA's speed from a SavedModel:
  `liveness export --xla` compiles its pair signatures (the table's middle column; TF Serving needs
  `--xla_cpu_compilation_enabled=true` and fixed batch sizes, serving.md). Neither runtime leaves
  the second core idle at batch 64 (process CPU time 1.85-1.89x the wall time, ad-hoc), and two
  chunks in flight gave plain TensorFlow nothing that outlasted the machine's noise (both medians
  144 pairs/s in separate processes taking turns; decisions.md). The 400 pairs/s are a figure of one
  machine's speed, and this shared machine's speed moves: in this round's first run of the command
  every path took 1.4-1.9x its time of the round before (OpenCV's pair check 2.54 against 1.68 ms,
  TFLite 4.87 against 3.38, XLA 216 against 412 pairs/s at batch 64), while the ratios between paths
  held.
- **The motion cue doubles LK**: the forward-backward filter tracks every point back (SPEC §4b); the
  backward templates cannot be shared with the forward ones (they are windows of the other frame at
  other points).
- **Memory** (met): the LiteRT demo runs `liveness_pair.tflite`, the pair check alone for one pair
  per call; `liveness.tflite`'s `check_pair` shares its file with the other signatures and their
  texture networks (the memory table above measures both). The strip tables are 0.6 MB per frame in
  the TFLite files (0.8 MB with the products' strips every 6th column)."""


def machine() -> str:
    """CPU model, cores and library versions, in one line."""
    import ai_edge_litert
    import cv2
    import tensorflow as tf

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:   # no /proc on this system: the model stays unknown
        pass
    return (f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, TensorFlow "
            f"{tf.__version__}, OpenCV {cv2.__version__}, numpy {np.__version__}, ai-edge-litert "
            f"{getattr(ai_edge_litert, '__version__', '?')}")


def latency_table(rows: list[tuple[str, float, float]]) -> list[str]:
    """Markdown lines of ``[(path, median ms, p90 ms)]`` whose first two rows are the OpenCV
    reference at its default threads and at 1 thread, with the ratio to each."""
    reference, one_thread = rows[0][1], rows[1][1]
    return ["| path | median ms | p90 ms | x OpenCV | x OpenCV 1 thread |",
            "|---|---|---|---|---|",
            *(f"| {name} | {med:.2f} | {p90:.2f} | {med / reference:.1f} | "
              f"{med / one_thread:.1f} |" for name, med, p90 in rows)]


class _Stages:
    """A progress bar over the bench's stages on stderr, naming the one running (none when
    ``quiet``)."""

    def __init__(self, count: int, quiet: bool) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=count, desc="bench", disable=quiet, leave=False,
                         bar_format="{desc} ({n_fmt}/{total_fmt} stages done, {elapsed})")
        self._running = False

    def start(self, name: str) -> None:
        """The stage before is done; ``name`` runs."""
        if self._running:
            self._bar.update()
        self._running = True
        self._bar.set_description_str(f"bench: {name}")

    def close(self) -> None:
        self._bar.update()
        self._bar.close()


def run(out: Path, sizes: tuple[int, ...], pairs: int, command: str,
        model_dir: Path | None = None, batches: tuple[int, ...] = BATCHES,
        quiet: bool = False) -> str:
    """Measure and write the benchmark page; returns it. A progress bar on stderr names the
    stage running unless ``quiet``."""
    stages = _Stages(len(sizes) + 5, quiet)     # latency per size, then the five started below
    lines = ["# Benchmarks", "", f"Generated by `{command}` on {machine()}.", "",
             "Per-pair latency, one pair per call, median / 90th percentile in milliseconds, and "
             "the median as a multiple of the OpenCV reference's measured in the same run "
             f"({pairs} pairs of the synthetic live clip per size, 3 rounds in which the paths "
             "take turns pair by pair, so that load on a shared machine falls on all of them; "
             "eager TensorFlow: 5 pairs, alone). "
             "The TFLite rows run the graph of `liveness_pair.tflite` (`check_pair` with every "
             "shape static, what the LiteRT demo runs). The OpenCV reference runs with OpenCV's "
             f"default threads ({opencv_default_threads()} here) and, like for like with the "
             "1-thread rows, with `cv2.setNumThreads(1)`.", ""]
    base = preset("default")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        file_sizes = {}
        default_size = base.crop_size if base.crop_size in sizes else sizes[0]
        for size in sizes:
            stages.start(f"latency at crop {size}")
            cfg = base.replace(crop_size=size)
            rows, file_sizes[size] = latency_rows(cfg, pairs, workdir)
            lines += [f"## Crop {size} px", "", *latency_table(rows), ""]
            if size == default_size:
                on_device = device_rows(cfg, workdir)
                reference, one_thread = on_device[0][1], on_device[1][1]
                device = {name: (med / reference, med / one_thread)
                          for name, med, _p90 in on_device}
                lines += [f"## TFLite and OpenCV without TensorFlow in the process (crop {size} "
                          "px)", "", "The OpenCV reference and `liveness_pair.tflite` taking turns "
                          "in a fresh process that never imports TensorFlow, as on a device (in "
                          "the table above, TensorFlow's and XLA's thread pools compete with "
                          "OpenCV's threads). The TFLite target is judged here.", "",
                          *latency_table(on_device), ""]
        from model_graph.module import PAIR_CHUNK

        lines += [f"## Throughput at crop {default_size} px (pairs per second)", "",
                  f"Median of {THROUGHPUT_CALLS} calls per batch size, the paths taking turns "
                  "(copies of the bench pairs): the reloaded SavedModel as `liveness export` "
                  "writes it, the same exported with `--xla` (its pair signatures compiled by "
                  "XLA; TF Serving runs it with `--xla_cpu_compilation_enabled=true`), and the "
                  f"XLA module in this process. Each checks a larger batch {PAIR_CHUNK} pairs at "
                  "a time (`LivenessCheck(pair_chunk=...)`).", "",
                  "| batch | " + " | ".join(THROUGHPUT_PATHS) + " |",
                  "|---" * (len(THROUGHPUT_PATHS) + 1) + "|"]
        stages.start("throughput")
        throughput = throughput_rows(base.replace(crop_size=default_size), workdir, batches)
        lines += [f"| {row[0]} | " + " | ".join(f"{rate:.0f}" for rate in row[1:]) + " |"
                  for row in throughput]
        lines.append("")
        lines += [f"## Peak memory per path (crop {default_size} px)", "",
                  "Each path alone in a fresh Python process scoring "
                  f"{min(pairs, MEMORY_PAIRS)} pairs (imports included: "
                  "the OpenCV and LiteRT processes never load TensorFlow):", "",
                  "| path | peak RSS |", "|---|---|"]
        stages.start("peak memory")
        lines += [f"| {name} | {mb:.0f} MB |"
                  for name, mb in memory_rows(base.replace(crop_size=default_size), workdir)]
        lines.append("")
    default_cfg = base.replace(crop_size=default_size)
    stages.start("TFLite profile")
    profile = stage_profile(default_cfg, pairs)
    lines += [f"## Where the TFLite time goes (crop {default_size} px, 1 thread)", "",
              "Parts of the graph converted alone and timed taking turns pair by pair, 3 rounds "
              "(median ms per pair):", "",
              "| part | median ms | file |", "|---|---|---|"]
    lines += [f"| {name} | {ms:.2f} | {size / 1024:.0f} KB |" for name, ms, size in profile]
    lines.append("")
    stages.start("texture")
    texture = texture_rows(pairs)
    lines += ["## The texture cue (both MiniFASNets, one face)", "",
              "Not in the pair paths above (`serving_default` and `check_clip` add it); alone:", "",
              "| path | median ms | p90 ms |", "|---|---|---|"]
    lines += [f"| {name} | {med:.2f} | {p90:.2f} |" for name, med, p90 in texture]
    lines.append("")
    stages.start("end to end")
    clip_name, e2e = end_to_end_rows(model_dir)
    stages.close()
    lines += [f"## End to end on {clip_name}", "",
              "The LiteRT demo runs in its own process (`python -m mobile_demo`); its peak memory "
              "is that process's.", "", "| pipeline | frames per second | peak memory |",
              "|---|---|---|"]
    lines += [f"| {label} | {fps:.1f} | {'-' if peak is None else f'{peak:.0f} MB'} |"
              for label, fps, peak in e2e]
    lines.append("")
    lines += ["## TFLite file size (the pair check without texture)", "",
              "| crop | float32 | float16 |", "|---|---|---|"]
    lines += [f"| {s} | {v['float32'] / 1024:.0f} KB | {v['float16'] / 1024:.0f} KB |"
              for s, v in file_sizes.items()]
    if model_dir is not None:
        lines += ["", f"Exported files in `{model_dir}` (`liveness export`; `liveness.tflite` and "
                  "`liveness_fp16.tflite` hold three signatures, `serving_default`, `check_pair` "
                  "and `check_clip`, and the texture networks' weights; `liveness_pair.tflite` "
                  "holds `check_pair` for one pair per call):", "", "| file | size |", "|---|---|"]
        lines += [f"| {f.name} | {f.stat().st_size / 1024:.0f} KB |"
                  for f in sorted(model_dir.glob("*.tflite"))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", f"Peak resident memory of the whole benchmark process: {peak:.0f} MB "
              "(TensorFlow, XLA and every path loaded at once).", ""]
    lines += targets_section(default_size, device["TFLite float32, 1 thread"], throughput,
                             clip_name, e2e, profile[0][2], texture[0][1])
    page = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return page
