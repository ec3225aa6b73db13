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
                  f"{texture_ms:.2f} ms", "<= 5 ms", texture_ms <= 5.0), "", ANALYSIS]
    return lines


#: The page's last section: a pointer to the analysis of the misses, which is written by hand
#: (docs/speed.md) rather than rewritten with the figures by every run.
ANALYSIS = ("## Why the misses, and what was tried\n\n"
            "Where the time goes, what bought the speed and what was tried and not kept, with "
            "the figure of each: [speed.md](speed.md) (written by hand; this page is "
            "regenerated by `liveness bench`).")


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
        from model_graph.module import PAIR_CHUNK, PAIR_STREAMS

        lines += [f"## Throughput at crop {default_size} px (pairs per second)", "",
                  f"Median of {THROUGHPUT_CALLS} calls per batch size, the paths taking turns "
                  "(copies of the bench pairs): the reloaded SavedModel as `liveness export` "
                  "writes it, the same exported with `--xla` (its pair signatures compiled by "
                  "XLA; TF Serving runs it with `--xla_cpu_compilation_enabled=true`), and the "
                  f"XLA module in this process. Each checks a larger batch {PAIR_CHUNK} pairs at "
                  "a time (`LivenessCheck(pair_chunk=...)`); the two XLA paths split a batch of "
                  f"{PAIR_STREAMS} pairs or more into {PAIR_STREAMS} parts, each its own compiled "
                  "call, checked at the same time (`LivenessCheck(pair_streams=...)`).", "",
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
    page = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return page
