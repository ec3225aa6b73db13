"""Golden vectors: fixed inputs and the outputs every runtime must reproduce.

``write_golden(DIR)`` writes three face-crop pairs cut from the synthetic clips (scikit-image's
``astronaut``, a NASA photo in the public domain) with their landmarks, and the eager TensorFlow
outputs for them, as raw little-endian tensors plus ``golden.json``:

- ``prev.u8``, ``next.u8``: uint8 ``[3, S, S]``, row-major;
- ``landmarks.f32``: float32 ``[3, 68, 2]``, (x, y) crop pixels;
- ``patches.u8`` uint8 ``[3, 2, 80, 80, 3]`` and ``patch_context.f32`` float32 ``[3]``: the
  texture patches of ``prev``'s frame;
- ``golden.json``: shapes, dtypes, the config, tolerances and the expected outputs per pair.

Raw tensors load with one ``ByteBuffer`` read on Android and ``np.fromfile`` in Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from liveness.config import LivenessConfig

#: Landmarks are stored on a 1/64 px grid: the generator's MTCNN and LK floats differ between
#: CPUs (up to 1.8e-4 px seen), so a regenerated value matches the stored one exactly or, when it
#: lies within that distance of a grid boundary, by exactly one step.
LANDMARK_STEP = 1.0 / 64

#: Tolerances between runtimes and machines, each from a stated bound (docs/serving.md):
#: - flow: LK runs in float32, and another summation order (SIMD width, oneDNN, TFLite's kernels,
#:   the TFLite files' window reads by gathers instead of products) moves a point by ~1e-5 px; where a stop test of a Newton step (step <= epsilon, two steps
#:   cancel) falls within that of its threshold, one path takes a step the other does not, at most
#:   epsilon = 0.01 px (4.9e-3 px seen between TensorFlow and TFLite over 49,140 points).
#: - motion (a median of flow lengths) moves by at most the flow's bound; sigma (1.4826 / sqrt(1.25)
#:   x a median of roughness values, each a difference of flows) by at most 1.33 x twice it; the
#:   plane residual in sigma units by the flow's bound over the 0.02 px floor of sigma.
#: - histograms: a vector changes bin or crosses the motion gate only when its flow lies within
#:   the flow tolerance of a bin edge or of the gate; per pair the histogram's L1 difference is at
#:   most twice the count of such vectors (counted exactly for the landmarks from the golden
#:   flow; for the eye boxes bounded by 2 % of the vectors: the eye flow is Farneback's, not LK's,
#:   and moves by ~1e-6 px, so a vector at >= 0.3 px turns by far less than 1.7e-3 rad, within
#:   that of one of 10 edges for ~0.5 % of uniform directions).
#: - texture: float32 reassociation moves the logits by ~1e-5 (2e-6 seen against ONNX); the
#:   softmax's slope is at most 1/4: 1e-4.
TOLERANCES = {
    "landmark_flow_abs": 0.01,
    "sigma_abs": 0.027,
    "motion_abs": 0.01,
    "plane_residual_abs": 0.5,
    "score_abs": 1.0,
    "texture_abs": 1e-4,
    "eye_hist_l1_fraction": 0.02,
    "histograms": "L1 difference <= 2 x the vectors within the flow tolerance of an edge or the gate",
    "flags": "equal where no value lies within its tolerance of the threshold that sets it",
}
NOTE = ("Floats may differ between runtimes and machines by summation order; every tolerance "
        "comes from the bound stated in export/golden.py and docs/serving.md")


def golden_inputs(cfg: LivenessConfig) -> tuple[np.ndarray, ...]:
    """``(prev, next, landmarks, patches, patch_context, names)``: a live-like pair, a
    photo-attack pair, a still pair. Landmarks on the :data:`LANDMARK_STEP` grid."""
    from liveness.clip import ClipChecker
    from liveness.synthetic import synthetic_clip
    from liveness.texture import cut_patches, landmark_box

    checker = ClipChecker(cfg)
    prev, next, marks, patches, context, names = [], [], [], [], [], []
    for kind, start in (("live", 5), ("photo", 6)):
        record: list = []
        seen: dict = {}
        clip = synthetic_clip(kind, frames=start + 2, seed=0)
        checker.check(clip, record=record,
                      observer=lambda i, rgb, lm, _pair: seen.setdefault(i, lm))
        a, b, lm = record[start]
        patch, kept = cut_patches(clip[start], landmark_box(seen[start]))
        prev.append(a), next.append(b), marks.append(lm), names.append(f"synthetic {kind}")
        patches.append(patch), context.append(kept.min())
    prev.append(prev[0]), next.append(prev[0].copy()), marks.append(marks[0])
    patches.append(patches[0]), context.append(context[0])
    names.append("still (the same crop twice)")
    marks = np.round(np.stack(marks) / LANDMARK_STEP) * LANDMARK_STEP
    return (np.stack(prev), np.stack(next), marks.astype(np.float32), np.stack(patches),
            np.round(np.array(context, np.float32), 3), names)


def histogram_tolerance(flow: np.ndarray, status: np.ndarray, gate: float, bins: int,
                        tolerance: float) -> int:
    """Twice the number of tracked vectors of ``flow [N, 2]`` within ``tolerance`` px of a bin
    edge or of the ``gate`` length: the most a histogram can change when each vector moves by
    at most ``tolerance``."""
    vectors = np.asarray(flow, np.float64)[np.asarray(status, bool)]
    length = np.linalg.norm(vectors, axis=1)
    angle = np.mod(np.arctan2(vectors[:, 1], vectors[:, 0]), 2 * np.pi)
    to_edge = np.abs((angle / (2 * np.pi / bins) + 0.5) % 1.0 - 0.5) * (2 * np.pi / bins)
    near_edge = (length >= gate - tolerance) & (to_edge * np.maximum(length, 1e-9) <= tolerance)
    near_gate = np.abs(length - gate) <= tolerance
    return 2 * int(np.sum(near_edge | near_gate))


def write_golden(out_dir: Path, cfg: LivenessConfig) -> Path:
    """Write the golden inputs and the eager TensorFlow outputs; returns ``golden.json``'s path."""
    import tensorflow as tf

    from model_graph.module import LivenessCheck

    prev, next, marks, patches, context, names = golden_inputs(cfg)
    out = LivenessCheck(cfg)(prev, next, marks, patches, context)
    out_dir.mkdir(parents=True, exist_ok=True)
    prev.astype("<u1").tofile(out_dir / "prev.u8")
    next.astype("<u1").tofile(out_dir / "next.u8")
    marks.astype("<f4").tofile(out_dir / "landmarks.f32")
    patches.astype("<u1").tofile(out_dir / "patches.u8")
    context.astype("<f4").tofile(out_dir / "patch_context.f32")
    expected = []
    for i, name in enumerate(names):
        expected.append({"name": name, **{key: _jsonable(value[i].numpy()) for key, value in out.items()}})
    index = {
        "inputs": {
            "prev": {"file": "prev.u8", "dtype": "uint8", "shape": list(prev.shape)},
            "next": {"file": "next.u8", "dtype": "uint8", "shape": list(next.shape)},
            "landmarks": {"file": "landmarks.f32", "dtype": "float32", "shape": list(marks.shape),
                          "layout": "(x, y) crop pixels, iBUG-68 order"},
            "patches": {"file": "patches.u8", "dtype": "uint8", "shape": list(patches.shape),
                        "layout": "BGR 80x80 texture patches, scale 2.7 then 4.0"},
            "patch_context": {"file": "patch_context.f32", "dtype": "float32",
                              "shape": list(context.shape)},
        },
        "signature": "serving_default",
        "config": cfg.to_dict(),
        "tolerances": TOLERANCES,
        "note": NOTE,
        "source": "export/golden.py (cv2 " + cv2.__version__ + ", TensorFlow " + tf.__version__ + ")",
        "expected": expected,
    }
    path = out_dir / "golden.json"
    path.write_text(json.dumps(index, indent=1) + "\n")
    return path


def load_golden(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(index, inputs)`` read back from a golden folder (numpy only: no TensorFlow needed)."""
    index = json.loads((folder / "golden.json").read_text())
    arrays = {}
    for name, spec in index["inputs"].items():
        arrays[name] = np.fromfile(folder / spec["file"], dtype=np.dtype(spec["dtype"]).newbyteorder("<")
                                   ).reshape(spec["shape"])
    return index, arrays


def _jsonable(value: np.ndarray):
    if value.dtype == bool or np.issubdtype(value.dtype, np.integer):
        return value.tolist()
    return np.round(value.astype(np.float64), 6).tolist()


def main() -> None:
    """``python -m export.golden [--out mobile_demo/golden] [--preset default]``."""
    import argparse

    from liveness.config import PRESET_NAMES, preset
    from liveness.paths import REPO_ROOT

    parser = argparse.ArgumentParser(description="write the golden vectors")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "mobile_demo" / "golden")
    parser.add_argument("--preset", default="default", choices=PRESET_NAMES)
    args = parser.parse_args()
    print(f"wrote {write_golden(args.out, preset(args.preset))}")


if __name__ == "__main__":
    main()
