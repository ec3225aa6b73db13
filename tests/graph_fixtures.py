"""Pairs and configs shared by the graph tests."""

from __future__ import annotations

import numpy as np

from liveness.config import preset
from tests.conftest import textured, translate

DEFAULT = preset("default")
# A small config for the slow-to-build modes (XLA compile, TFLite conversion): the same code
# with a smaller crop, fewer levels and iterations, so the unrolled graph builds in seconds.
SMALL = DEFAULT.replace(crop_size=64, lk_max_level=1, lk_iterations=5, eye_patch_px=24)


def face_like_landmarks(size: int, seed: int) -> np.ndarray:
    """68 points spread over the middle of a ``size`` crop, with eye boxes where iBUG has them."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.2 * size, 0.8 * size, (68, 2)).astype(np.float32)
    points[37], points[40] = (0.33 * size, 0.36 * size), (0.40 * size, 0.40 * size)
    points[43], points[46] = (0.60 * size, 0.36 * size), (0.67 * size, 0.40 * size)
    return points


def pair_batch(size: int, count: int, seed: int = 0):
    """``count`` textured pairs (uint8 ``[B, S, S]``) with different motions, and landmarks."""
    rng = np.random.default_rng(seed)
    prev, next, marks = [], [], []
    for i in range(count):
        image = textured(size, seed=seed + i)
        moved = translate(image, *rng.uniform(-1.5, 1.5, 2))
        if i % 2:   # non-rigid: the right half moves on its own
            moved[:, size // 2:] = translate(image, *rng.uniform(-1.5, 1.5, 2))[:, size // 2:]
        prev.append(image)
        next.append(moved)
        marks.append(face_like_landmarks(size, seed + i))
    return np.stack(prev), np.stack(next), np.stack(marks)
