"""The texture cue on the host: patches around the face (upstream's crop rule) and their scorer.

Upstream's rule (Silent-Face ``CropImage``, SPEC §7): for a face box ``(x, y, w, h)`` and a scale
``s``, the scale is capped at ``min((H-1)/h, (W-1)/w, s)``; a ``w*s x h*s`` box around the face
centre is shifted (not shrunk) to fit inside the frame, cut and resized to 80x80 (bilinear).
The face box here is the bounding box of the 68 landmarks (docs/decisions.md: upstream's
RetinaFace boxes are shorter than MTCNN's, and the landmark box scored live faces closer to
upstream's figures). When either patch had to be capped below ``texture_min_scale`` of its scale,
the face fills the frame and the network would judge a context it was not trained on: the frame
gets no probability (``face_too_close``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from liveness.litert import make_interpreter

PATCH_PX = 80
SCALES = (2.7, 4.0)
MODEL_PATH = Path(__file__).resolve().parent / "data" / "silent_face" / "texture.tflite"


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """``[4]`` float ``(x, y, w, h)``: the bounding box of ``[68, 2]`` frame landmarks."""
    lo, hi = np.min(landmarks, axis=0), np.max(landmarks, axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], np.float64)


def patch_window(box: np.ndarray, scale: float, width: int, height: int) -> tuple[tuple[int, int, int, int], float]:
    """Upstream's window ``(x0, y0, x1, y1)`` (inclusive, integer) for ``box (x, y, w, h)`` at
    ``scale`` in a ``width`` x ``height`` frame, and the scale actually used (after the cap).

    >>> patch_window(np.array([100.0, 100.0, 50.0, 50.0]), 2.7, 640, 480)
    ((57, 57, 192, 192), 2.7)
    >>> patch_window(np.array([0.0, 0.0, 200.0, 200.0]), 4.0, 640, 480)[1]
    2.395
    """
    x, y, w, h = (float(v) for v in box)
    used = min((height - 1) / h, (width - 1) / w, scale)
    new_w, new_h = w * used, h * used
    cx, cy = x + w / 2, y + h / 2
    x0, y0, x1, y1 = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if x0 < 0:
        x1, x0 = x1 - x0, 0.0
    if y0 < 0:
        y1, y0 = y1 - y0, 0.0
    if x1 > width - 1:
        x0, x1 = x0 - (x1 - width + 1), float(width - 1)
    if y1 > height - 1:
        y0, y1 = y0 - (y1 - height + 1), float(height - 1)
    return (int(x0), int(y0), int(x1), int(y1)), used


def cut_patches(rgb: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``patches [2, 80, 80, 3]`` uint8 **BGR** at scales 2.7 and 4.0 around ``box`` in an
    ``[H, W, 3]`` uint8 RGB frame, and ``[2]`` the fraction of each scale that was kept."""
    height, width = rgb.shape[:2]
    patches, kept = [], []
    for scale in SCALES:
        (x0, y0, x1, y1), used = patch_window(box, scale, width, height)
        window = rgb[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1, ::-1]
        patches.append(cv2.resize(np.ascontiguousarray(window), (PATCH_PX, PATCH_PX)))
        kept.append(used / scale)
    return np.stack(patches), np.array(kept)


class TextureScorer:
    """Real-face probability of patch pairs with ``texture.tflite`` on LiteRT (no TensorFlow).

    ``texture.tflite`` is the two MiniFASNets of ``model_graph.texture`` in one file (input
    ``patches [B, 2, 80, 80, 3]`` float32 BGR 0..255, output ``real [B]``), written by
    ``scripts/convert_silent_face.py``.
    """

    def __init__(self, model_path: Path = MODEL_PATH, threads: int | None = None) -> None:
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"{model_path} not found: run scripts/convert_silent_face.py")
        self._runner = make_interpreter(model_path, threads, allocate=False).get_signature_runner()

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        """``[B]`` float32 probabilities for ``patches [B, 2, 80, 80, 3]`` uint8 BGR."""
        patches = np.asarray(patches)
        if patches.ndim != 5 or patches.shape[1:] != (2, PATCH_PX, PATCH_PX, 3):
            raise ValueError(f"patches must be [B, 2, {PATCH_PX}, {PATCH_PX}, 3], got {patches.shape}")
        out = self._runner(patches=patches.astype(np.float32))
        return np.asarray(next(iter(out.values())), np.float32).reshape(-1)
