"""The exported pair check (``liveness_pair.tflite``) as a pair scorer, validated against its
manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from liveness.config import LivenessConfig
from liveness.inputs import validate_batch
from liveness.litert import make_interpreter
from liveness.reference import PairEvidence

#: The pair check without texture: the demo scores texture per frame with ``texture.tflite``.
SIGNATURE = "check_pair"
#: ``SIGNATURE`` alone for one pair per call, without the other signatures' texture networks.
PAIR_FILE = "liveness_pair.tflite"


class ModelError(ValueError):
    """A model folder that cannot be used: missing or corrupt file, signature not as promised."""


def load_manifest(model_dir: Path) -> dict:
    """``model_manifest.json`` of an export folder."""
    path = model_dir / "model_manifest.json"
    if not path.is_file():
        raise ModelError(f"{path} not found: point --model-dir at a folder written by "
                         "`liveness export --out DIR`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelError(f"{path} is not valid JSON: {error}") from None


def config_from_manifest(manifest: dict) -> LivenessConfig:
    """The config the model was exported with."""
    return LivenessConfig(**manifest["config"])


class LiteScorer:
    """Scores a pair with ``liveness_pair.tflite``; a drop-in for ``liveness.reference.check_pair``."""

    def __init__(self, model_dir: Path, manifest: dict, threads: int | None = None) -> None:
        path = model_dir / PAIR_FILE
        try:
            interpreter = make_interpreter(path, threads, allocate=False)  # the runner allocates
            self._runner = interpreter.get_signature_runner(SIGNATURE)
        except FileNotFoundError:
            raise ModelError(f"{path} not found (expected beside {model_dir / 'model_manifest.json'}; "
                             "`liveness export` writes it)") from None
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{path} is not a usable TFLite model: {error}") from None
        _check_signature(self._runner, manifest["signatures"][SIGNATURE], path)

    def __call__(self, prev: np.ndarray, next: np.ndarray, landmarks: np.ndarray,
                 cfg: LivenessConfig) -> PairEvidence:
        """The pair's evidence, with the same fields as the OpenCV reference gives."""
        # Shapes and dtypes are checked before invoking (the runtime's own errors name no input).
        prev, next, marks, _, _ = validate_batch(
            prev[None], next[None], np.asarray(landmarks)[None], None, None, cfg.crop_size)
        out = self._runner(prev=prev, next=next, landmarks=marks)
        return PairEvidence.from_graph_outputs({k: v[0] for k, v in out.items()})


def _check_signature(runner, expected: dict, path: Path) -> None:
    """Raise ``ModelError`` when the file's tensors differ from the manifest's (batch axis free)."""
    actual = {"inputs": runner.get_input_details(), "outputs": runner.get_output_details()}
    for side in ("inputs", "outputs"):
        if set(actual[side]) != set(expected[side]):
            raise ModelError(f"{path}: {side} {sorted(actual[side])} do not match the manifest's "
                             f"{sorted(expected[side])}")
        for name, spec in expected[side].items():
            detail = actual[side][name]
            shape = [int(d) for d in detail["shape"]]
            dtype = np.dtype(detail["dtype"]).name
            want = spec["shape"]
            same_shape = len(shape) == len(want) and all(w in (-1, s) for w, s in zip(want, shape))
            if dtype != spec["dtype"] or not same_shape:
                raise ModelError(f"{path}: {side[:-1]} {name!r} is {dtype} {shape}, the manifest "
                                 f"says {spec['dtype']} {want}")
