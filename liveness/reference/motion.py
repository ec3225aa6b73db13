"""The motion cue (SPEC §4b): flow noise σ, forward-backward filtering and the plane test.

A print or a screen moves as one plane: over a frame pair its image motion is a homography. A live
face is not flat, but small rigid motion of a live head is nearly planar too, and sub-pixel noise
makes any motion look incoherent. So the cue only ever finds *evidence of a plane*, judged in units
of the pair's own flow noise σ, and otherwise has no opinion:

- **σ** from the roughness of the flow over a ``motion_grid`` x ``motion_grid`` grid inside the face:
  each interior grid point's flow minus the mean of its 4 neighbours, per axis the robust scale
  ``1.4826 * MAD / sqrt(1.25)`` (the difference of one noisy vector and the mean of four has 1.25x
  the variance), σ = the root mean square of the two axes, floored at ``sigma_floor_px``.
- **Forward-backward filter**: a point is kept when LK tracked it both ways and its round-trip error
  is at most ``max(fb_max_ratio x the median error, fb_floor_px)``.
- **Judged** when the kept points' median motion is at least ``motion_judge_sigma`` σ and
  ``motion_min_px`` (sub-pixel tremor is never evidence);
  **planar** when a least-squares homography (``cv2.findHomography``, method 0) explains the kept
  points' flow to a median distance of at most ``plane_residual_sigma`` σ.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from liveness.config import LivenessConfig

#: Scale of a normal distribution from its median absolute deviation.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class MotionEvidence:
    """The motion cue of one pair (crop pixels)."""

    sigma: float | None
    """Flow noise σ, pixels (None when too few grid points were kept to measure it)."""
    motion: float
    """Median flow length of the kept points, pixels (0 without any)."""
    residual: float | None
    """Median distance of the kept points from the fitted homography, in units of σ (None when the
    pair is not judged)."""
    judged: bool
    """Enough points, a measured σ and motion of at least ``motion_judge_sigma`` σ."""
    planar: bool
    """Judged and ``residual <= plane_residual_sigma``: evidence of a flat object."""
    points: int
    """Points kept by the forward-backward filter."""


def forward_backward_keep(status: np.ndarray, back_status: np.ndarray, error: np.ndarray,
                          cfg: LivenessConfig) -> np.ndarray:
    """``[N]`` bool: tracked both ways with a round-trip error ``error [N]`` (pixels) of at most
    ``max(fb_max_ratio x median, fb_floor_px)`` over the points tracked both ways."""
    both = np.asarray(status, bool) & np.asarray(back_status, bool)
    if not both.any():
        return both
    bound = max(cfg.fb_max_ratio * float(np.median(error[both])), cfg.fb_floor_px)
    return both & (error <= bound)


def flow_noise(grid_flow: np.ndarray, grid_kept: np.ndarray, cfg: LivenessConfig) -> float | None:
    """σ in pixels from ``grid_flow [G*G, 2]`` on the face grid (row by row) where ``grid_kept``.

    None when fewer than ``min(5, (G-2)^2)`` interior points have all four neighbours kept.

    >>> from liveness.config import preset
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(0, 0.2, (49 * 400, 2)).astype(np.float32)
    >>> sigmas = [flow_noise(noise[i * 49:(i + 1) * 49], np.ones(49, bool), preset("default"))
    ...           for i in range(400)]
    >>> round(float(np.median(sigmas)), 1)
    0.2
    """
    size = cfg.motion_grid
    flow = np.asarray(grid_flow, np.float64).reshape(size, size, 2)
    kept = np.asarray(grid_kept, bool).reshape(size, size)
    neighbours = (flow[:-2, 1:-1] + flow[2:, 1:-1] + flow[1:-1, :-2] + flow[1:-1, 2:]) / 4
    rough = (flow[1:-1, 1:-1] - neighbours).reshape(-1, 2)
    ok = (kept[1:-1, 1:-1] & kept[:-2, 1:-1] & kept[2:, 1:-1] & kept[1:-1, :-2]
          & kept[1:-1, 2:]).reshape(-1)
    if ok.sum() < min(5, (size - 2) ** 2):
        return None
    rough = rough[ok]
    mad = np.median(np.abs(rough - np.median(rough, axis=0)), axis=0)
    per_axis = MAD_TO_SIGMA * mad / np.sqrt(1.25)
    return max(float(np.sqrt(np.mean(per_axis ** 2))), cfg.sigma_floor_px)


def plane_residual(points: np.ndarray, flow: np.ndarray) -> float | None:
    """Median distance, pixels, of ``points + flow`` (``[N, 2]`` each) from the least-squares
    homography of ``points`` onto them (None when OpenCV finds none)."""
    src = np.asarray(points, np.float64)
    dst = src + np.asarray(flow, np.float64)
    matrix, _ = cv2.findHomography(src, dst, 0)
    if matrix is None or not np.all(np.isfinite(matrix)):
        return None
    mapped = cv2.perspectiveTransform(src[None], matrix)[0]
    return float(np.median(np.linalg.norm(mapped - dst, axis=1)))


def motion_evidence(points: np.ndarray, flow: np.ndarray, kept: np.ndarray,
                    cfg: LivenessConfig) -> MotionEvidence:
    """The motion cue from the face points ``[N, 2]`` (68 landmarks, then the ``motion_grid``
    grid), their flow ``[N, 2]`` and the forward-backward mask ``kept [N]``."""
    kept = np.asarray(kept, bool)
    grid = slice(len(points) - cfg.motion_grid ** 2, len(points))
    sigma = flow_noise(flow[grid], kept[grid], cfg)
    count = int(kept.sum())
    motion = float(np.median(np.linalg.norm(flow[kept], axis=1))) if count else 0.0
    if (sigma is None or count < cfg.motion_min_points
            or motion < max(cfg.motion_judge_sigma * sigma, cfg.motion_min_px)):
        return MotionEvidence(sigma, motion, None, False, False, count)
    residual = plane_residual(points[kept], flow[kept])
    if residual is None:
        return MotionEvidence(sigma, motion, None, False, False, count)
    ratio = residual / sigma
    return MotionEvidence(sigma, motion, ratio, True, ratio <= cfg.plane_residual_sigma, count)
