"""``liveness bench``: latency of every implementation of the pair check, measured in one run.

For each crop size, face-crop pairs are cut from the synthetic live clip exactly as the pipeline
cuts them, and each path scores them one pair at a time: the OpenCV reference, eager TensorFlow,
the ``tf.function``, XLA, the reloaded SavedModel, and the TFLite file (float32 and float16) at
1 and 2 threads. Median and 90th percentile per pair, and the ratio to the OpenCV path measured in
the same run. Then SavedModel and XLA throughput by batch size, the size of each TFLite file, and
the process's peak memory. Machines here are shared: compare ratios, not absolute times.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: The texture inputs of one pair (the exported pair check always runs the texture networks).
BLANK_TEXTURE = {"patches": np.zeros((1, 2, 80, 80, 3), np.uint8),
                 "patch_context": np.ones(1, np.float32)}

from liveness.config import LivenessConfig, preset

CROP_SIZES = (96, 128, 160, 192, 256)
BATCHES = (1, 8, 64, 256)


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
    for i in range(warmup):
        call(i % count)
    times = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        times.append(1000 * (time.perf_counter() - start))
    return np.asarray(times)


def latency_rows(cfg: LivenessConfig, pairs: int, workdir: Path) -> tuple[list[tuple], dict]:
    """``[(path, median_ms, p90_ms)]`` for one crop size, and the TFLite file sizes."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from liveness.reference import check_pair as reference_check
    from model_graph.check import check_pair as graph_check
    from model_graph.module import LivenessCheck

    prev, next, marks = crop_pairs(cfg, pairs)
    n = len(prev)
    one = [(prev[i:i + 1], next[i:i + 1], marks[i:i + 1]) for i in range(n)]
    rows = [("OpenCV reference", time_calls(lambda i: reference_check(prev[i], next[i], marks[i], cfg), n))]
    eager_n = min(n, 5)
    rows.append(("TensorFlow eager", time_calls(
        lambda i: graph_check(tf.constant(one[i][0]), tf.constant(one[i][1]), tf.constant(one[i][2]), cfg),
        eager_n, warmup=1)))
    module = LivenessCheck(cfg)
    rows.append(("tf.function", time_calls(lambda i: module(*one[i]), n)))
    compiled = LivenessCheck(cfg, jit_compile=True)
    rows.append(("XLA (jit_compile)", time_calls(lambda i: compiled(*one[i]), n)))
    saved = workdir / f"saved_{cfg.crop_size}"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.check.get_concrete_function()})
    served = tf.saved_model.load(str(saved)).signatures["serving_default"]
    rows.append(("SavedModel (reloaded)", time_calls(
        lambda i: served(prev=one[i][0], next=one[i][1], landmarks=one[i][2], **BLANK_TEXTURE), n)))
    sizes = {}
    for label, fp16 in (("float32", False), ("float16", True)):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if fp16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        blob = converter.convert()
        sizes[label] = len(blob)
        (workdir / f"liveness_{cfg.crop_size}_{label}.tflite").write_bytes(blob)
        for threads in (1, 2):
            runner = Interpreter(model_content=blob, num_threads=threads).get_signature_runner()
            rows.append((f"TFLite {label}, {threads} thread{'s' * (threads > 1)}", time_calls(
                lambda i: runner(prev=one[i][0], next=one[i][1], landmarks=one[i][2], **BLANK_TEXTURE), n)))
    return [(name, float(np.median(t)), float(np.percentile(t, 90))) for name, t in rows], sizes


def throughput_rows(cfg: LivenessConfig, workdir: Path, batches: tuple[int, ...] = BATCHES) -> list[tuple]:
    """``[(batch, savedmodel pairs/s, xla pairs/s)]`` at the config's crop size."""
    import tensorflow as tf

    from model_graph.module import LivenessCheck

    prev, next, marks = crop_pairs(cfg, 16)
    saved = workdir / f"saved_{cfg.crop_size}"
    served = tf.saved_model.load(str(saved)).signatures["serving_default"]
    compiled = LivenessCheck(cfg, jit_compile=True)
    rows = []
    for batch in batches:
        pick = np.arange(batch) % len(prev)
        args = (prev[pick], next[pick], marks[pick])
        rates = []
        texture = {k: np.repeat(v, batch, axis=0) for k, v in BLANK_TEXTURE.items()}
        for run in (lambda: served(prev=args[0], next=args[1], landmarks=args[2], **texture),
                    lambda: compiled(*args)):
            ms = time_calls(lambda _i: run(), 3, warmup=1)
            rates.append(batch / (np.median(ms) / 1000))
        rows.append((batch, *rates))
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


def end_to_end_rows(model_dir: Path | None) -> tuple[str, list[tuple[str, float]]]:
    """Frames per second over a whole clip (decoding included): the host pipeline detecting on
    every frame and detecting-and-tracking, and the LiteRT demo when ``model_dir`` is given."""
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
                         verdict.frames / (time.perf_counter() - start)))
    if model_dir is not None:
        from mobile_demo.__main__ import run as run_demo

        for detector in detectors:
            for threads in (1, 2):
                out = run_demo(name, model_dir, frames=frames(), threads=threads,
                               detector_name=detector)
                rows.append((f"LiteRT demo, {detector}, detect and track, {threads} "
                             f"thread{'s' * (threads > 1)}", out["timing"]["frames_per_second"]))
    return name, rows


MEMORY_PATHS = ("OpenCV reference", "TFLite float32 (LiteRT)", "tf.function", "XLA (jit_compile)",
                "SavedModel (reloaded)")


def memory_rows(cfg: LivenessConfig, workdir: Path) -> list[tuple[str, float]]:
    """``[(path, peak RSS MB)]``: each path alone in a fresh Python process scoring 10 pairs.

    Needs ``latency_rows`` to have written the SavedModel and the float32 TFLite file of
    ``cfg.crop_size`` into ``workdir``; the pairs travel as a ``.npz`` so the OpenCV and LiteRT
    processes never import TensorFlow.
    """
    import subprocess
    import sys

    prev, next, marks = crop_pairs(cfg, 10)
    pairs = workdir / "pairs.npz"
    np.savez(pairs, prev=prev, next=next, marks=marks)
    rows = []
    for path in MEMORY_PATHS:
        code = ("from liveness.bench import memory_probe; "
                f"memory_probe({path!r}, {str(workdir)!r}, {cfg.to_json()!r})")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        rows.append((path, float(done.stdout.strip().splitlines()[-1])))
    return rows


def memory_probe(path: str, workdir: str, config_json: str) -> None:
    """Run one path over the saved pairs and print this process's peak RSS in MB (the child side
    of :func:`memory_rows`)."""
    import json

    cfg = LivenessConfig(**json.loads(config_json))
    data = np.load(Path(workdir) / "pairs.npz")
    prev, next, marks = data["prev"], data["next"], data["marks"]
    if path == "OpenCV reference":
        from liveness.reference import check_pair

        for i in range(len(prev)):
            check_pair(prev[i], next[i], marks[i], cfg)
    elif path.startswith("TFLite"):
        from liveness.litert import make_interpreter

        file = Path(workdir) / f"liveness_{cfg.crop_size}_float32.tflite"
        runner = make_interpreter(file, threads=1).get_signature_runner("serving_default")
        for i in range(len(prev)):
            runner(prev=prev[i:i + 1], next=next[i:i + 1], landmarks=marks[i:i + 1], **BLANK_TEXTURE)
    else:
        import tensorflow as tf

        from model_graph.module import LivenessCheck

        if path.startswith("SavedModel"):
            served = tf.saved_model.load(str(Path(workdir) / f"saved_{cfg.crop_size}"))
            call = served.signatures["serving_default"]
        else:
            call = LivenessCheck(cfg, jit_compile=path.startswith("XLA")).check
        for i in range(len(prev)):
            call(prev=tf.constant(prev[i:i + 1]), next=tf.constant(next[i:i + 1]),
                 landmarks=tf.constant(marks[i:i + 1]),
                 **{k: tf.constant(v) for k, v in BLANK_TEXTURE.items()})
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
    """Where the TFLite time goes: parts of the graph converted and timed alone (1 thread).

    Returns ``[(part, median ms, file bytes)]``.
    """
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from model_graph.flow import eye_boxes, eye_flow, landmark_flow
    from model_graph.pyramid import build_pyramid, lk_levels, scharr_gradients

    prev, next, marks = crop_pairs(cfg, pairs)
    size = cfg.crop_size
    signature = [tf.TensorSpec([1, size, size], tf.uint8, name="a"),
                 tf.TensorSpec([1, size, size], tf.uint8, name="b"),
                 tf.TensorSpec([1, 68, 2], tf.float32, name="p")]

    def lk(c: LivenessConfig):
        return lambda a, b, p: landmark_flow(tf.cast(a, tf.float32), tf.cast(b, tf.float32), p, c)[0]

    def eyes(a, b, p):
        return eye_flow(tf.cast(a, tf.float32), tf.cast(b, tf.float32),
                        eye_boxes(p, cfg.eye_min_box_px, cfg.eye_box_scale)[0], cfg)[0]

    def pyramids(a, b, p):
        levels = lk_levels(size, cfg.lk_window, cfg.lk_max_level)
        images = build_pyramid(tf.cast(a, tf.float32), levels) + build_pyramid(tf.cast(b, tf.float32), levels)
        return tf.add_n([tf.reduce_sum(x) for x in images]
                        + [tf.reduce_sum(scharr_gradients(x)) for x in images[:levels + 1]])

    parts = [
        (f"LK at 68 points ({cfg.lk_iterations} iterations, max level {cfg.lk_max_level})", lk(cfg)),
        ("LK, 1 iteration per level", lk(cfg.replace(lk_iterations=1))),
        ("LK, one level only", lk(cfg.replace(lk_max_level=0))),
        ("Farneback in the two eye patches", eyes),
        ("pyramids and Scharr gradients alone", pyramids),
    ]
    rows = []
    for name, function in parts:
        holder = tf.Module()
        holder.function = tf.function(function, input_signature=signature)
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [holder.function.get_concrete_function()], holder)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        blob = converter.convert()
        runner = Interpreter(model_content=blob, num_threads=1).get_signature_runner()
        ms = time_calls(lambda i: runner(a=prev[i:i + 1], b=next[i:i + 1], p=marks[i:i + 1]), len(prev))
        rows.append((name, float(np.median(ms)), len(blob)))
    return rows


def targets_section(size: int, tflite_ratio: float, batch_gain: tuple[int, float],
                    clip_name: str, fps: dict[str, float], tflite_bytes: int | None,
                    texture_ms: float) -> list[str]:
    """The speed issue's targets against this run's figures, and what was tried (docs)."""
    tracked = {k: v for k, v in fps.items() if "detect and track" in k}

    def row(name: str, measured: str, target: str, met: bool | None) -> str:
        verdict = "n/a" if met is None else ("yes" if met else "**no**")
        return f"| {name} | {measured} | {target} | {verdict} |"

    size_kb = None if tflite_bytes is None else tflite_bytes / 1024
    lines = ["## Targets (2-core machine)", "", "| target | measured | bound | met |",
             "|---|---|---|---|",
             row(f"TFLite float32, 1 thread, crop {size}, per pair vs OpenCV",
                 f"{tflite_ratio:.1f}x", "<= 1.0x", tflite_ratio <= 1.0),
             row(f"SavedModel batch {batch_gain[0]} vs batch 1, pairs per second",
                 f"{batch_gain[1]:.1f}x", ">= 10x", batch_gain[1] >= 10)]
    lines += [row(f"end to end on {clip_name}: {name}", f"{value:.1f} fps", ">= 30 fps", value >= 30)
              for name, value in tracked.items()]
    lines += [row("liveness.tflite (both signatures)",
                  "-" if size_kb is None else f"{size_kb:.0f} KB", "<= 200 KB",
                  None if size_kb is None else size_kb <= 200),
              row("texture: both networks for one face, TFLite float32, 1 thread",
                  f"{texture_ms:.2f} ms", "<= 5 ms", texture_ms <= 5.0), "", TRIED]
    return lines


TRIED = """## Why the misses, and what was tried

- **Where the time goes** (the profile above): Lucas-Kanade is most of the TFLite time, and about
  half of LK or more is the per-level set-up rather than the Newton steps (compare the "1
  iteration per level" row with the full one): sampling the 15x15 window of `prev` and its
  two gradients at 68 points with OpenCV's 14-bit fixed-point bilinear weights, four gathers per
  sample. OpenCV does the same arithmetic in a tight SIMD loop over contiguous rows; TFLite
  executes hundreds of small GATHER / MUL / ADD ops per level, each with its own dispatch and
  intermediate tensors. The host path is fast because the OpenCV reference *is* that loop.
- **Batching** cannot help the SavedModel much: the Newton steps are a `tf.while_loop` over the
  whole batch that runs until the slowest point of any pair has stopped, and the set-up gathers
  scale with the batch.
- **Tried: a padded "tap image"** (one gather per sample from a pre-shifted copy of the image):
  exact parity held, but the file grew to 735 KB from constant-folded index grids and no gain
  was measurable on this shared machine. Reverted.
- **Tried: one gather of the (W+1)^2 integer patch per point**, the four bilinear taps as shifted
  slices of it (3.5x fewer gathered pixels, exact parity): TFLite got *slower*, 1.42x the time
  per pair in an interleaved A/B of the two files (1 thread, 90 pairs each, on a loaded machine)
  — the strided slices and reshapes of the 5-D patch cost more than the gathers they saved.
  Reverted.
- **Tried: a fixed batch of 1** instead of a dynamic batch axis in the converted file (so LiteRT
  need not resize tensors per call): 1.03x, within noise, on an interleaved A/B over 30 real crop
  pairs of `webcam_live` (same scores). Not adopted: the dynamic batch serves TF Serving too.
- **File size**: `liveness.tflite` holds both signatures (`serving_default` and `check_clip`),
  each with its own copy of the LK and Farneback subgraphs and, since the texture cue joined the
  graph, the two MiniFASNets' weights (about 3.4 MB in float32, half in `liveness_fp16.tflite`).
  The 200 KB target was set for the motion graph alone.
- **The motion cue doubles LK**: the forward-backward filter tracks every point back, and the
  face grid adds 49 points to the 68 landmarks (SPEC §4b); the float LK of the speed issue is
  the way to win that back.
- **What is left to try**: a custom-free formulation of the window sampling as one
  `depthwise_conv2d` per fractional offset class (needs the per-point offsets quantised),
  integer accumulation so that TFLite and TF agree bit for bit, and shipping
  `serving_default` alone in the mobile file to halve its size."""


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


def run(out: Path, sizes: tuple[int, ...], pairs: int, command: str,
        model_dir: Path | None = None, batches: tuple[int, ...] = BATCHES) -> str:
    """Measure and write the benchmark page; returns it."""
    lines = ["# Benchmarks", "", f"Generated by `{command}` on {machine()}.", "",
             "Per-pair latency, one pair per call, median / 90th percentile in milliseconds, and "
             "the median as a multiple of the OpenCV reference's measured in the same run "
             f"({pairs} pairs of the synthetic live clip per size; eager TensorFlow: 5 pairs).", ""]
    base = preset("default")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        file_sizes = {}
        default_size = base.crop_size if base.crop_size in sizes else sizes[0]
        for size in sizes:
            cfg = base.replace(crop_size=size)
            rows, file_sizes[size] = latency_rows(cfg, pairs, workdir)
            reference = rows[0][1]
            if size == default_size:
                latency = {name: med / reference for name, med, _p90 in rows}
            lines += [f"## Crop {size} px", "", "| path | median ms | p90 ms | x OpenCV |",
                      "|---|---|---|---|"]
            lines += [f"| {name} | {med:.2f} | {p90:.2f} | {med / reference:.1f} |"
                      for name, med, p90 in rows]
            lines.append("")
        lines += [f"## Throughput at crop {default_size} px (pairs per second)", "",
                  "| batch | SavedModel | XLA |", "|---|---|---|"]
        rows = throughput_rows(base.replace(crop_size=default_size), workdir, batches)
        lines += [f"| {b} | {s:.0f} | {x:.0f} |" for b, s, x in rows]
        gain = rows[min(2, len(rows) - 1)][1] / rows[0][1]
        batch_gain = (rows[min(2, len(rows) - 1)][0], gain)
        lines += ["", f"Batch {rows[min(2, len(rows) - 1)][0]} gives {gain:.1f}x the per-pair rate of "
                  "batch 1 for the SavedModel.", ""]
        lines += [f"## Peak memory per path (crop {default_size} px)", "",
                  "Each path alone in a fresh Python process scoring 10 pairs (imports included: "
                  "the OpenCV and LiteRT processes never load TensorFlow):", "",
                  "| path | peak RSS |", "|---|---|"]
        lines += [f"| {name} | {mb:.0f} MB |"
                  for name, mb in memory_rows(base.replace(crop_size=default_size), workdir)]
        lines.append("")
    default_cfg = base.replace(crop_size=default_size)
    lines += [f"## Where the TFLite time goes (crop {default_size} px, 1 thread)", "",
              "Parts of the graph converted and timed alone (median ms per pair):", "",
              "| part | median ms | file |", "|---|---|---|"]
    lines += [f"| {name} | {ms:.2f} | {size / 1024:.0f} KB |"
              for name, ms, size in stage_profile(default_cfg, pairs)]
    lines.append("")
    texture = texture_rows(pairs)
    lines += ["## The texture cue (both MiniFASNets, one face)", "",
              "The pair paths above include the texture networks (the exported pair check always "
              "runs them); alone:", "", "| path | median ms | p90 ms |", "|---|---|---|"]
    lines += [f"| {name} | {med:.2f} | {p90:.2f} |" for name, med, p90 in texture]
    lines.append("")
    clip_name, e2e = end_to_end_rows(model_dir)
    lines += [f"## End to end on {clip_name}", "", "| pipeline | frames per second |", "|---|---|"]
    lines += [f"| {label} | {fps:.1f} |" for label, fps in e2e]
    lines.append("")
    lines += ["## TFLite file size (serving_default only)", "", "| crop | float32 | float16 |",
              "|---|---|---|"]
    lines += [f"| {s} | {v['float32'] / 1024:.0f} KB | {v['float16'] / 1024:.0f} KB |"
              for s, v in file_sizes.items()]
    if model_dir is not None:
        lines += ["", f"Exported files in `{model_dir}` (`liveness export`; the liveness files hold "
                  "both signatures, `serving_default` and `check_clip`):", "",
                  "| file | size |", "|---|---|"]
        lines += [f"| {f.name} | {f.stat().st_size / 1024:.0f} KB |"
                  for f in sorted(model_dir.glob("*.tflite"))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", f"Peak resident memory of the whole benchmark process: {peak:.0f} MB "
              "(TensorFlow, XLA and every path loaded at once).", ""]
    tflite = model_dir / "liveness.tflite" if model_dir is not None else None
    lines += targets_section(default_size, latency["TFLite float32, 1 thread"], batch_gain,
                             clip_name, dict(e2e),
                             tflite.stat().st_size if tflite and tflite.is_file() else None,
                             texture[0][1])
    page = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return page
