"""Planarity cue: how far the face's flow is from one affine motion (docs/decisions.md).

A print or a screen moves as one plane; over a frame pair its image motion is a homography, which
an affine map fits to within a small fraction of the motion. A live face is not flat: the nose
moves against the cheeks when the head turns, the eyes and mouth move on their own. The cue fits
``flow = A (p - mean p) + t`` to the tracked points by least squares (the closed-form normal
equations of a 2x2 system, no solver) and reports the *residual ratio*: the median distance of the
points' flow from the fit divided by the median flow length. Pairs that barely move are too still
to judge and have no value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveness.config import LivenessConfig
from liveness.conventions import PLANARITY_DEGENERATE


@dataclass(frozen=True)
class Planarity:
    """The planarity cue of one pair."""

    ratio: float | None
    """Median residual / median motion, or None when the pair cannot be judged."""
    motion: float
    """Median flow length of the tracked points, pixels (0 without any)."""
    points: int
    """Tracked points used by the fit."""


def planarity(points: np.ndarray, flow: np.ndarray, status: np.ndarray,
              cfg: LivenessConfig) -> Planarity:
    """Fit one affine motion to ``flow [N, 2]`` at ``points [N, 2]`` where ``status [N]``.

    ``cfg.planarity_min_points`` and ``cfg.planarity_min_motion_px`` say when a pair is judged.

    >>> pts = np.float32([[x, y] for x in range(0, 50, 10) for y in range(0, 50, 10)])
    >>> shear = (pts - 20) @ np.float32([[0.02, 0.01], [-0.01, 0.03]]) + 1.0
    >>> from liveness.config import LivenessConfig
    >>> cue = planarity(pts, shear, np.ones(25, bool), LivenessConfig())
    >>> round(cue.ratio, 6), cue.points
    (0.0, 25)
    """
    ok = np.asarray(status, bool)
    p = np.asarray(points, np.float64)[ok]
    u = np.asarray(flow, np.float64)[ok]
    count = len(p)
    motion = float(np.median(np.linalg.norm(u, axis=1))) if count else 0.0
    if count < cfg.planarity_min_points or motion < cfg.planarity_min_motion_px:
        return Planarity(None, motion, count)
    q = p - p.mean(axis=0)
    v = u - u.mean(axis=0)
    sxx, sxy, syy = np.mean(q[:, 0] ** 2), np.mean(q[:, 0] * q[:, 1]), np.mean(q[:, 1] ** 2)
    det = sxx * syy - sxy * sxy
    if det < PLANARITY_DEGENERATE * (sxx + syy) ** 2:
        return Planarity(None, motion, count)
    inverse = np.array([[syy, -sxy], [-sxy, sxx]]) / det
    cross = q.T @ v / count                     # [[sum qx vx, sum qx vy], [sum qy vx, sum qy vy]] / n
    residual = v - q @ (inverse @ cross)
    return Planarity(float(np.median(np.linalg.norm(residual, axis=1)) / motion), motion, count)
