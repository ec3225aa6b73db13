"""Least-squares similarity transforms in numpy (Umeyama), shared by every path that fits one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Similarity:
    """``dst = scale * rotation @ src + translation`` for ``[N, 2]`` points."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Apply to ``[N, 2]`` points; returns float64."""
        return np.asarray(points, np.float64) @ (self.scale * self.rotation).T + self.translation


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> Similarity | None:
    """The similarity that maps ``src [N, 2]`` onto ``dst [N, 2]`` best (no reflection), or None when
    ``src`` is degenerate (all points coincide).

    >>> square = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    >>> fit_similarity(square, square * 2 + 3)(square)[3].tolist()
    [5.0, 5.0]
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    spread = float(np.sum(a ** 2))
    if spread <= 1e-12 or not np.isfinite(spread):
        return None
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / spread)
    return Similarity(scale, rotation, mu_d - scale * rotation @ mu_s)
