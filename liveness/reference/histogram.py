"""Stage S4b: direction histograms with the motion gate (SPEC §2-3)."""

from __future__ import annotations

import numpy as np

from liveness.conventions import direction_bin


def direction_histogram(magnitude: np.ndarray, angle: np.ndarray, valid: np.ndarray, bins: int,
                        min_motion_px: float, weight: str = "count") -> np.ndarray:
    """Histogram ``[bins]`` float32 of the directions of the valid vectors that pass the gate.

    Args:
        magnitude, angle: same-shape float arrays, pixels and radians in ``[0, 2*pi]``.
        valid: bool array of the same shape; False vectors (untracked point, pixel outside the
            eyeball box) are left out.
        bins: number of equal bins over ``[0, 2*pi)``.
        min_motion_px: vectors shorter than this are left out (``0`` keeps every valid vector).
        weight: ``count`` (raw counts) or ``magnitude`` (each vector weighs its length, pixels).

    >>> direction_histogram(np.array([1.0, 1.0, 0.1]), np.array([0.1, 3.2, 1.0]),
    ...                     np.array([True, True, True]), 10, 0.5).tolist()
    [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    keep = gated(magnitude, valid, min_motion_px)
    index = direction_bin(np.asarray(angle)[keep], bins)
    weights = np.asarray(magnitude, np.float32)[keep] if weight == "magnitude" else None
    return np.bincount(index, weights=weights, minlength=bins).astype(np.float32)


def gated(magnitude: np.ndarray, valid: np.ndarray, min_motion_px: float) -> np.ndarray:
    """Bool mask of the valid vectors at least ``min_motion_px`` long (the ones histogrammed)."""
    return np.asarray(valid, bool) & (np.asarray(magnitude) >= min_motion_px)
