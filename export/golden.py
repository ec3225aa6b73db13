"""Golden vectors: fixed inputs and the outputs every runtime must reproduce.

``write_golden(DIR)`` writes three face-crop pairs cut from the synthetic clips (scikit-image's
``astronaut``, a NASA photo in the public domain) with their landmarks, and the eager TensorFlow
outputs for them, as raw little-endian tensors plus ``golden.json``:

- ``prev.u8``, ``next.u8``: uint8 ``[3, S, S]``, row-major;
- ``landmarks.f32``: float32 ``[3, 68, 2]``, (x, y) crop pixels;
- ``golden.json``: shapes, dtypes, the config, tolerances and the expected outputs per pair.

Raw tensors load with one ``ByteBuffer`` read on Android and ``np.fromfile`` in Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from liveness.config import LivenessConfig

TOLERANCES = {
    "landmark_flow_abs": 5e-4,
    "score_abs": 1e-3,
    "planarity_abs": 1e-3,
    "motion_abs": 5e-4,
    "histograms": "equal",
    "flags": "equal (is_live, valid, landmark_status, planarity_valid; vector counts)",
}
NOTE = ("landmark_flow, motion, planarity and score may differ by float summation order between "
        "runtimes (at a few points that order tips one of LK's 14-bit weight roundings: up to "
        "2.8e-4 px seen between TensorFlow and TFLite); histograms, counts, flags and verdicts "
        "must be equal")


def golden_inputs(cfg: LivenessConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(prev, next, landmarks, names)``: a live-like pair, a photo-attack pair, a still pair."""
    from liveness.clip import ClipChecker
    from liveness.synthetic import synthetic_clip

    checker = ClipChecker(cfg)
    prev, next, marks, names = [], [], [], []
    for kind, start in (("live", 5), ("photo", 6)):
        record: list = []
        checker.check(synthetic_clip(kind, frames=start + 2, seed=0), record=record)
        a, b, lm = record[start]
        prev.append(a), next.append(b), marks.append(lm), names.append(f"synthetic {kind}")
    prev.append(prev[0]), next.append(prev[0].copy()), marks.append(marks[0])
    names.append("still (the same crop twice)")
    return np.stack(prev), np.stack(next), np.stack(marks).astype(np.float32), names


def write_golden(out_dir: Path, cfg: LivenessConfig) -> Path:
    """Write the golden inputs and the eager TensorFlow outputs; returns ``golden.json``'s path."""
    import tensorflow as tf

    from model_graph.check import check_pair

    prev, next, marks, names = golden_inputs(cfg)
    out = check_pair(tf.constant(prev), tf.constant(next), tf.constant(marks), cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    prev.astype("<u1").tofile(out_dir / "prev.u8")
    next.astype("<u1").tofile(out_dir / "next.u8")
    marks.astype("<f4").tofile(out_dir / "landmarks.f32")
    expected = []
    for i, name in enumerate(names):
        expected.append({"name": name, **{key: _jsonable(value[i].numpy()) for key, value in out.items()}})
    index = {
        "inputs": {
            "prev": {"file": "prev.u8", "dtype": "uint8", "shape": list(prev.shape)},
            "next": {"file": "next.u8", "dtype": "uint8", "shape": list(next.shape)},
            "landmarks": {"file": "landmarks.f32", "dtype": "float32", "shape": list(marks.shape),
                          "layout": "(x, y) crop pixels, iBUG-68 order"},
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
