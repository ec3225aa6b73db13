"""``liveness export``: SavedModel + TFLite files + manifest, from one config.

Layout written under ``DIR``::

    models/liveness/<version>/   SavedModel (saved_model.pb, variables/), TF Serving's layout,
                                 with warm-up requests (assets.extra/tf_serving_warmup_requests)
    liveness.tflite              float32, TFLITE_BUILTINS only (the same signatures, LK windows
                                 read by gathers: see ``save_for_tflite``)
    liveness_fp16.tflite         float16 optimisation requested (see docs/serving.md)
    liveness_pair.tflite         ``check_pair`` alone for one pair per call (static shapes), float32:
                                 what a device scoring frame by frame runs (the LiteRT demo)
    texture.tflite               the texture networks alone, for the LiteRT demo's per-frame cue
    mtcnn_{pnet,rnet,onet}.tflite  MTCNN's networks, for the LiteRT-only mobile demo
    model_manifest.json          config, versions, commit, signatures, sha256 and size per file
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.paths import REPO_ROOT
from model_graph.aggregate import OPINION_CODES, REASON_CODES, VERDICT_CODES
from export.mtcnn_tflite import convert_mtcnn
from export.serving import warmup_requests, write_warmup
from model_graph.module import PAIR_CHUNK, LivenessCheck

SIGNATURES = ("serving_default", "check_pair", "check_clip")
#: How the TFLite files' LK reads its windows (``model_graph.lucas_kanade.WINDOW_READS``):
#: XNNPACK runs gathers faster than the per-point products the served SavedModel uses.
TFLITE_WINDOW_READS = "gathers"
SIGNATURE_FILE = Path(__file__).resolve().parent / "signature.json"
MAX_CROP = 512
#: Pair batch sizes the served SavedModel is warmed up with when TF Serving loads it (each
#: pair signature once per size; ``check_clip`` once, at :data:`CLIP_WARMUP_FRAMES`). With
#: ``--xla`` every size compiles then, not on a client's first request: match TF Serving's
#: ``allowed_batch_sizes`` to them (docs/serving.md).
WARMUP_BATCHES = (1, 8, 16, 64)
CLIP_WARMUP_FRAMES = 2


@dataclass(frozen=True)
class ExportResult:
    """Paths of what was written."""

    saved_model: Path
    tflite: Path
    tflite_fp16: Path
    tflite_pair: Path
    texture: Path
    mtcnn: list[Path]
    manifest: Path


def export_all(out_dir: Path, cfg: LivenessConfig, version: int = 1,
               calibration: dict | None = None,
               pair_chunk: int | None = PAIR_CHUNK, xla: bool = False,
               warmup_batches: tuple[int, ...] = WARMUP_BATCHES) -> ExportResult:
    """Build ``LivenessCheck(cfg)`` and write every export file under ``out_dir``.

    ``calibration`` (from ``liveness calibrate``) is recorded in the manifest: where the
    threshold came from. ``pair_chunk``: the SavedModel checks a larger batch that many pairs at
    a time (``None``: every pair at once, for a GPU server; the TFLite files always do). ``xla``:
    the SavedModel's pair signatures are compiled by XLA (:func:`save_served`). All three are
    recorded in the manifest, with ``warmup_batches``.

    Raises ``ValueError`` for a version below 1, a crop size outside 64..512, a chunk below 1 or
    a warm-up batch below 1, and ``OSError`` (with the path) when ``out_dir`` cannot be written.
    """
    if version < 1:
        raise ValueError(f"version must be a positive integer (TF Serving's folder name), got {version}")
    if not 64 <= cfg.crop_size <= MAX_CROP:
        raise ValueError(f"crop size must be in 64..{MAX_CROP} px, got {cfg.crop_size}")
    if any(batch < 1 for batch in warmup_batches):
        raise ValueError(f"warm-up batch sizes must be at least 1, got {list(warmup_batches)}")
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    saved = out_dir / "models" / "liveness" / str(version)
    save_served(LivenessCheck(cfg, pair_chunk=pair_chunk, jit_compile=xla), saved, warmup_batches)

    tflite = out_dir / "liveness.tflite"
    tflite_fp16 = out_dir / "liveness_fp16.tflite"
    with tempfile.TemporaryDirectory() as folder:
        save_for_tflite(cfg, Path(folder))
        tflite.write_bytes(convert(Path(folder), fp16=False))
        tflite_fp16.write_bytes(convert(Path(folder), fp16=True))
    tflite_pair = out_dir / "liveness_pair.tflite"
    tflite_pair.write_bytes(convert_pair(cfg))
    texture = out_dir / "texture.tflite"
    texture.write_bytes(convert_texture())

    mtcnn_files = convert_mtcnn(out_dir)

    manifest = out_dir / "model_manifest.json"
    content = build_manifest(cfg, version, saved,
                             [tflite, tflite_fp16, tflite_pair, texture, *mtcnn_files], out_dir)
    content["calibration"] = calibration
    content["pair_chunk"] = pair_chunk
    content["xla"] = xla
    content["warmup_batches"] = list(warmup_batches)
    manifest.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
    return ExportResult(saved, tflite, tflite_fp16, tflite_pair, texture, mtcnn_files, manifest)


def save_signatures(module: LivenessCheck, folder: Path,
                    keys: tuple[str, ...] = SIGNATURES) -> None:
    """``module`` as a SavedModel with the signatures ``keys`` (of :data:`SIGNATURES`)."""
    functions = signature_functions(module)
    tf.saved_model.save(module, str(folder), signatures={
        key: functions[key].get_concrete_function() for key in keys})


def signature_functions(module: LivenessCheck) -> dict[str, tf.types.experimental.PolymorphicFunction]:
    """``{key: function}`` for each of :data:`SIGNATURES` (``serving_default`` is ``check``)."""
    return {"serving_default": module.check, "check_pair": module.check_pair,
            "check_clip": module.check_clip}


def save_served(module: LivenessCheck, folder: Path,
                warmup_batches: tuple[int, ...] = WARMUP_BATCHES) -> Path:
    """The SavedModel TF Serving loads: every signature of ``module`` and the warm-up requests
    (``export.serving.WARMUP_FILE``) for its pair signatures at ``warmup_batches`` and for
    ``check_clip`` at :data:`CLIP_WARMUP_FRAMES`. From ``LivenessCheck(jit_compile=True)`` the
    pair signatures carry XLA's must-compile mark: TF Serving runs them only with
    ``--xla_cpu_compilation_enabled=true``, and a GPU build of the server not at all
    (docs/serving.md). Returns the warm-up file."""
    save_signatures(module, folder)
    inputs = {key: {spec.name: spec for spec in function.input_signature}
              for key, function in signature_functions(module).items()}
    clip = {"check_clip": inputs.pop("check_clip")}
    return write_warmup(folder, warmup_requests(inputs, warmup_batches)
                        + warmup_requests(clip, [CLIP_WARMUP_FRAMES]))


def save_for_tflite(cfg: LivenessConfig, folder: Path, keys: tuple[str, ...] = SIGNATURES,
                    pair_batch: int | None = None) -> None:
    """The SavedModel the TFLite files are converted from: :func:`tflite_module`'s signatures."""
    save_signatures(tflite_module(cfg, pair_batch), folder, keys)


def tflite_module(cfg: LivenessConfig, pair_batch: int | None = None) -> LivenessCheck:
    """``LivenessCheck(cfg)`` as the TFLite files hold it: LK's windows read by
    :data:`TFLITE_WINDOW_READS` (same arithmetic up to float rounding) and every pair of a batch
    at once (a loop over chunks would need TensorFlow's list ops; a device checks one pair per
    call)."""
    return LivenessCheck(cfg, pair_batch=pair_batch, window_reads=TFLITE_WINDOW_READS,
                         pair_chunk=None)


def convert(saved_model: Path, *, fp16: bool, signatures: tuple[str, ...] = SIGNATURES) -> bytes:
    """TFLite flatbuffer of ``signatures`` (:func:`shipped_tflite`)."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=list(signatures))
    if fp16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return shipped_tflite(converter)


def shipped_tflite(converter: tf.lite.TFLiteConverter) -> bytes:
    """``converter``'s TFLite file as the project ships it: TFLITE_BUILTINS only (fails on any
    other op), and without tensor and subgraph names: debug strings the runtime never reads, a
    fifth of a file of many small ops. Signatures keep their input and output names, which is
    how apps address tensors (docs/decisions.md, "TFLite files without tensor names")."""
    from tensorflow.lite.tools import flatbuffer_utils

    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(converter.convert()))
    for subgraph in model.subgraphs:
        subgraph.name = None
        for tensor in subgraph.tensors:
            tensor.name = None
    return flatbuffer_utils.convert_object_to_bytearray(model)


def convert_pair(cfg: LivenessConfig, *, fp16: bool = False) -> bytes:
    """``check_pair`` for one pair per call (:func:`save_for_tflite` with ``pair_batch=1``) as a TFLite
    file with the signature ``check_pair``, built-ins only (``fp16``: float16 optimisation
    requested, as for ``liveness_fp16.tflite``). Same graph as the batched signature, in a file
    without the other signatures and their texture networks: what a device scoring pairs frame
    by frame loads (``liveness bench`` measures the peak memory of both files)."""
    with tempfile.TemporaryDirectory() as folder:
        save_for_tflite(cfg, Path(folder), ("check_pair",), pair_batch=1)
        return convert(Path(folder), fp16=fp16, signatures=("check_pair",))


def convert_texture() -> bytes:
    """The texture networks alone (``model_graph.texture.texture_model``) as TFLite, built-ins
    only: the per-frame texture scorer of the LiteRT demo (``liveness.texture.TextureScorer``)."""
    from model_graph.texture import texture_model

    return shipped_tflite(tf.lite.TFLiteConverter.from_keras_model(texture_model()))


def signature_contract(saved_model: Path) -> dict[str, dict[str, dict[str, dict[str, object]]]]:
    """``{signature: {"inputs"|"outputs": {name: {"dtype", "shape"}}}}`` of a SavedModel
    (unknown dimensions as -1): the content of ``export/signature.json``."""
    loaded = tf.saved_model.load(str(saved_model))
    contract = {}
    for key in SIGNATURES:
        function = loaded.signatures[key]
        inputs = function.structured_input_signature[1]
        outputs = function.structured_outputs
        contract[key] = {
            "inputs": {name: _spec(spec) for name, spec in sorted(inputs.items())},
            "outputs": {name: _spec(spec) for name, spec in sorted(outputs.items())},
        }
    return contract


def build_manifest(cfg: LivenessConfig, version: int, saved: Path, tflite_files: list[Path],
                   out_dir: Path) -> dict[str, object]:
    """The manifest: config, versions, commit, signatures, codes, files with sha256 and size."""
    files = {}
    for path in sorted(p for p in saved.rglob("*") if p.is_file()) + tflite_files:
        files[str(path.relative_to(out_dir))] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    return {
        "model": "liveness",
        "version": version,
        "preset": cfg.preset,
        "threshold": cfg.threshold,
        "texture_threshold": cfg.texture_threshold,
        "crop_size": cfg.crop_size,
        "config": cfg.to_dict(),
        "tensorflow": tf.__version__,
        "git_commit": _git_commit(),
        "signatures": signature_contract(saved),
        "verdict_codes": VERDICT_CODES,
        "reason_codes": REASON_CODES,
        "opinion_codes": OPINION_CODES,
        "input_ranges": {"prev": "uint8 0..255 grey crop", "next": "uint8 0..255 grey crop",
                         "frames": "uint8 0..255 grey crops of one fixed window",
                         "landmarks": "float32 (x, y) crop pixels, iBUG-68 order; NaN = untracked",
                         "patches": "uint8 0..255 BGR texture patches, scale 2.7 then 4.0",
                         "patch_context": "float32 0..1 kept scale fraction (0 = no patches)"},
        "files": files,
    }


def _spec(spec: tf.TensorSpec) -> dict[str, object]:
    return {"dtype": spec.dtype.name, "shape": [-1 if d is None else int(d) for d in spec.shape]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
        return head + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise OSError(f"cannot write to {out_dir}: {error.strerror or error}") from None
