"""Stage S5a: the chi-square score k of two direction histograms (SPEC §3)."""

from __future__ import annotations

import numpy as np


def chi_square_score(landmark_hist: np.ndarray, eye_hist: np.ndarray) -> float:
    """Symmetric chi-square ``k`` in ``[0, 200]`` of two raw-count histograms.

    Each histogram is scaled to sum to 100, then ``k = sum (F - R)^2 / (F + R)`` over bins where
    ``F + R > 0``. Both histograms must have at least one count.

    >>> chi_square_score(np.array([3.0, 1, 0]), np.array([3.0, 1, 0]))
    0.0
    >>> chi_square_score(np.array([5.0, 0]), np.array([0.0, 9]))
    200.0
    """
    f = np.asarray(landmark_hist, np.float64)
    r = np.asarray(eye_hist, np.float64)
    if f.sum() <= 0 or r.sum() <= 0:
        raise ValueError("chi_square_score needs two non-empty histograms; "
                         f"got sums {f.sum()} and {r.sum()}")
    f = f * (100.0 / f.sum())
    r = r * (100.0 / r.sum())
    total = f + r
    used = total > 0
    return float(np.sum((f[used] - r[used]) ** 2 / total[used]))
