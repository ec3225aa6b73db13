"""The motion cue in TensorFlow: forward-backward filter, flow noise σ and the plane test.

Twin of ``liveness/reference/motion.py`` (the rationale is there), batched. The homography is
fitted by least squares in closed form: a linear (DLT, ``h33 = 1``) fit on normalised points,
then :data:`GAUSS_NEWTON_STEPS` Gauss-Newton steps on the point distances (what
``cv2.findHomography``'s refinement minimises). Each 8x8 normal system is solved by Gauss-Jordan
elimination written in plain ops (``tf.linalg.solve`` is not a TFLite built-in); the systems are
symmetric positive definite, so no pivoting is needed.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from liveness.config import LivenessConfig
from model_graph.median import masked_median

MAD_TO_SIGMA = 1.4826
GAUSS_NEWTON_STEPS = 3
_TINY = 1e-12


def forward_backward_keep(status: tf.Tensor, back_status: tf.Tensor, error: tf.Tensor,
                          cfg: LivenessConfig) -> tf.Tensor:
    """``[B, N]`` bool: tracked both ways with a round-trip ``error [B, N]`` of at most
    ``max(fb_max_ratio x median, fb_floor_px)`` (median over the points tracked both ways)."""
    both = status & back_status
    bound = tf.maximum(cfg.fb_max_ratio * masked_median(error, both), cfg.fb_floor_px)
    return both & (error <= bound[:, None])


def flow_noise(grid_flow: tf.Tensor, grid_kept: tf.Tensor,
               cfg: LivenessConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """σ ``[B]`` (pixels) and ``valid [B]`` from ``grid_flow [B, G*G, 2]`` where ``grid_kept [B, G*G]``."""
    size = cfg.motion_grid
    flow = tf.reshape(grid_flow, [-1, size, size, 2])
    kept = tf.reshape(grid_kept, [-1, size, size])
    neighbours = (flow[:, :-2, 1:-1] + flow[:, 2:, 1:-1] + flow[:, 1:-1, :-2] + flow[:, 1:-1, 2:]) * 0.25
    rough = tf.reshape(flow[:, 1:-1, 1:-1] - neighbours, [-1, (size - 2) ** 2, 2])
    ok = tf.reshape(kept[:, 1:-1, 1:-1] & kept[:, :-2, 1:-1] & kept[:, 2:, 1:-1]
                    & kept[:, 1:-1, :-2] & kept[:, 1:-1, 2:], [-1, (size - 2) ** 2])
    per_axis = []
    for axis in (0, 1):
        values = rough[..., axis]
        centre = masked_median(values, ok)
        mad = masked_median(tf.abs(values - centre[:, None]), ok)
        per_axis.append(MAD_TO_SIGMA * mad / np.float32(np.sqrt(1.25)))
    sigma = tf.maximum(tf.sqrt((per_axis[0] ** 2 + per_axis[1] ** 2) * 0.5), cfg.sigma_floor_px)
    valid = tf.reduce_sum(tf.cast(ok, tf.int32), -1) >= min(5, (size - 2) ** 2)
    return sigma, valid


def solve_spd(matrix: tf.Tensor, rhs: tf.Tensor) -> tf.Tensor:
    """``x [B, n]`` with ``matrix [B, n, n] @ x = rhs [B, n]`` for symmetric positive definite
    matrices, by Gauss-Jordan elimination (a loop of n steps of plain ops).

    >>> m = tf.constant([[[4.0, 1.0], [1.0, 3.0]]])
    >>> [round(float(v), 4) for v in solve_spd(m, tf.constant([[1.0, 2.0]]))[0]]
    [0.0909, 0.6364]
    """
    n = matrix.shape[-1]

    def eliminate(k, aug):                                               # [B, n, n + 1]
        is_k = tf.one_hot(k, n)[None, :, None]                           # row k
        row = tf.reduce_sum(aug * is_k, 1, keepdims=True)                # [B, 1, n + 1]
        column = tf.reduce_sum(aug * tf.one_hot(k, n + 1), -1, keepdims=True)   # [B, n, 1]
        pivot = tf.reduce_sum(row * tf.one_hot(k, n + 1), -1, keepdims=True)   # [B, 1, 1]
        row = row / tf.where(tf.abs(pivot) > _TINY, pivot, _TINY)
        return k + 1, (aug - column * row) * (1.0 - is_k) + row * is_k

    _, aug = tf.while_loop(lambda k, _: k < n, eliminate,
                           (tf.constant(0), tf.concat([matrix, rhs[..., None]], -1)),
                           maximum_iterations=n)
    return aug[:, :, n]


def _project(h: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """``(u, v, w)`` of the homography ``h [B, 8]`` (``h33 = 1``) at ``x, y [B, N]``."""
    w = h[:, 6:7] * x + h[:, 7:8] * y + 1.0
    u = (h[:, 0:1] * x + h[:, 1:2] * y + h[:, 2:3]) / w
    v = (h[:, 3:4] * x + h[:, 4:5] * y + h[:, 5:6]) / w
    return u, v, w


def _normal_step(rows_u: tf.Tensor, rows_v: tf.Tensor, target_u: tf.Tensor, target_v: tf.Tensor,
                 weight: tf.Tensor) -> tf.Tensor:
    """Least-squares ``[B, 8]`` solution of ``rows @ h = target`` over both axes, weighted."""
    w = weight[..., None]
    normal = (tf.matmul(rows_u * w, rows_u, transpose_a=True)
              + tf.matmul(rows_v * w, rows_v, transpose_a=True))          # [B, 8, 8]
    rhs = (tf.reduce_sum(rows_u * (w * target_u[..., None]), 1)
           + tf.reduce_sum(rows_v * (w * target_v[..., None]), 1))        # [B, 8]
    return solve_spd(normal, rhs)


def plane_residual(points: tf.Tensor, flow: tf.Tensor, kept: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Median distance ``[B]`` (pixels) of the kept ``points + flow`` from the least-squares
    homography of the kept ``points [B, N, 2]``, and ``finite [B]`` (the fit succeeded)."""
    weight = tf.cast(kept, tf.float32)
    count = tf.maximum(tf.reduce_sum(weight, -1, keepdims=True), 1.0)
    centre = tf.reduce_sum(points * weight[..., None], 1, keepdims=True) / count[..., None]
    spread = tf.sqrt(tf.reduce_sum(tf.reduce_sum((points - centre) ** 2, -1) * weight, -1,
                                   keepdims=True) / count)
    scale = tf.maximum(spread, 1e-6)[..., None]                             # [B, 1, 1]
    src = (points - centre) / scale
    dst = (points + flow - centre) / scale
    (x, y), (u, v) = tf.unstack(src, axis=-1), tf.unstack(dst, axis=-1)
    one, zero = tf.ones_like(x), tf.zeros_like(x)
    h = _normal_step(tf.stack([x, y, one, zero, zero, zero, -x * u, -y * u], -1),
                     tf.stack([zero, zero, zero, x, y, one, -x * v, -y * v], -1), u, v, weight)

    def gauss_newton(i, h):
        pu, pv, w = _project(h, x, y)
        inv = 1.0 / w
        ju = tf.stack([x * inv, y * inv, inv, zero, zero, zero, -x * pu * inv, -y * pu * inv], -1)
        jv = tf.stack([zero, zero, zero, x * inv, y * inv, inv, -x * pv * inv, -y * pv * inv], -1)
        return i + 1, h + _normal_step(ju, jv, u - pu, v - pv, weight)

    _, h = tf.while_loop(lambda i, _: i < GAUSS_NEWTON_STEPS, gauss_newton, (tf.constant(0), h),
                         maximum_iterations=GAUSS_NEWTON_STEPS)
    pu, pv, _ = _project(h, x, y)
    distance = tf.sqrt((pu - u) ** 2 + (pv - v) ** 2) * scale[:, :, 0]
    residual = masked_median(distance, kept)
    finite = tf.reduce_all(tf.math.is_finite(h), -1) & tf.math.is_finite(residual)
    return tf.where(finite, residual, 0.0), finite


def motion_evidence(points: tf.Tensor, flow: tf.Tensor, kept: tf.Tensor,
                    cfg: LivenessConfig) -> dict[str, tf.Tensor]:
    """The motion cue of ``B`` pairs from the face points ``[B, N, 2]`` (68 landmarks, then the
    grid), their flow ``[B, N, 2]`` and ``kept [B, N]``.

    Returns ``sigma [B]`` (pixels), ``sigma_valid``, ``motion [B]`` (median kept flow length,
    pixels), ``plane_residual [B]`` (σ units, 0 where not judged), ``motion_judged``, ``planar``
    (bool ``[B]``) and ``points_kept [B]`` int32.
    """
    grid = cfg.motion_grid ** 2
    sigma, sigma_valid = flow_noise(flow[:, -grid:], kept[:, -grid:], cfg)
    count = tf.reduce_sum(tf.cast(kept, tf.int32), -1)
    dx, dy = tf.unstack(flow, axis=-1)
    motion = masked_median(tf.sqrt(dx ** 2 + dy ** 2), kept)
    residual, finite = plane_residual(points, flow, kept)
    judged = (sigma_valid & (count >= cfg.motion_min_points)
              & (motion >= tf.maximum(cfg.motion_judge_sigma * sigma, cfg.motion_min_px)) & finite)
    ratio = tf.where(judged, residual / sigma, 0.0)
    return {"sigma": sigma, "sigma_valid": sigma_valid, "motion": motion, "plane_residual": ratio,
            "motion_judged": judged, "planar": judged & (ratio <= cfg.plane_residual_sigma),
            "points_kept": count}
