"""Planarity cue in TensorFlow: residual of the face's flow against one affine motion.

Twin of ``liveness/reference/planarity.py`` (the rationale is there). Batched; the 2x2 normal
equations are solved in closed form (``tf.linalg.solve`` does not convert to TFLite built-ins).
"""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.conventions import PLANARITY_DEGENERATE
from model_graph.median import masked_median


def planarity(points: tf.Tensor, flow: tf.Tensor, status: tf.Tensor,
              cfg: LivenessConfig) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Fit ``flow [B, N, 2]`` at ``points [B, N, 2]`` where ``status [B, N]`` with one affine motion.

    Returns ``ratio [B]`` float32 (median residual / median motion; 0 where not judged),
    ``motion [B]`` float32 (median flow length, pixels) and ``judged [B]`` bool.
    """
    weight = tf.cast(status, tf.float32)
    count = tf.reduce_sum(weight, -1)                                    # [B]
    n = tf.maximum(count, 1.0)[:, None]

    def mean(values):                                                    # [B, N] -> [B, 1]
        return tf.reduce_sum(values * weight, -1, keepdims=True) / n

    qx, qy = (points[..., i] - mean(points[..., i]) for i in (0, 1))
    vx, vy = (flow[..., i] - mean(flow[..., i]) for i in (0, 1))
    sxx, sxy, syy = mean(qx * qx), mean(qx * qy), mean(qy * qy)
    det = sxx * syy - sxy * sxy
    solvable = det[:, 0] >= PLANARITY_DEGENERATE * (sxx + syy)[:, 0] ** 2
    inv = tf.math.divide_no_nan(1.0, det)
    # flow ~ q @ M with M = inverse(q'q) @ (q'v), both divided by the count.
    cxx, cxy, cyx, cyy = mean(qx * vx), mean(qx * vy), mean(qy * vx), mean(qy * vy)
    m00 = (syy * cxx - sxy * cyx) * inv
    m01 = (syy * cxy - sxy * cyy) * inv
    m10 = (sxx * cyx - sxy * cxx) * inv
    m11 = (sxx * cyy - sxy * cxy) * inv
    rx = vx - (qx * m00 + qy * m10)
    ry = vy - (qx * m01 + qy * m11)
    motion = masked_median(tf.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2), status)
    residual = masked_median(tf.sqrt(rx * rx + ry * ry), status)
    judged = ((count >= cfg.planarity_min_points) & (motion >= cfg.planarity_min_motion_px)
              & solvable)
    ratio = tf.where(judged, tf.math.divide_no_nan(residual, motion), 0.0)
    return ratio, motion, judged
