"""The check of a batch of frame pairs as TensorFlow ops: stages S3-S5 composed.

Twin of ``liveness/reference/check.py``. No Python loop runs per pair: every op is batched.
"""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.conventions import N_LANDMARKS
from model_graph.decision import decide, has_evidence
from model_graph.flow import eye_boxes, eye_flow, face_grid, landmark_flow
from model_graph.histogram import direction_histogram, gated, vector_count
from model_graph.planarity import planarity
from model_graph.polar import cart_to_polar
from model_graph.score import chi_square_score


def check_pair(prev: tf.Tensor, next: tf.Tensor, landmarks: tf.Tensor,
               cfg: LivenessConfig) -> dict[str, tf.Tensor]:
    """Score ``B`` pairs of grey face crops.

    Args:
        prev, next: ``[B, S, S]`` uint8 (or float 0..255) grey crops of the same window.
        landmarks: ``[B, 68, 2]`` float32 (x, y) in ``prev``'s crop pixels, iBUG order. Points far
            outside the crop are clamped to within two crop sizes of it; they are not tracked.
        cfg: the configuration.

    Returns:
        ``score [B]`` float32 (0 where not valid), ``is_live [B]`` bool (``score > threshold``),
        ``valid [B]`` bool, ``landmark_hist [B, bins]`` and ``eye_hist [B, bins]`` float32,
        ``landmark_vectors [B]`` and ``eye_vectors [B]`` int32 (vectors histogrammed),
        ``landmark_flow [B, 68, 2]`` float32 (dx, dy), ``landmark_status [B, 68]`` bool,
        ``eye_boxes [B, 2, 4]`` float32, ``planarity [B]`` float32 (residual ratio, 0 where not
        judged), ``planarity_valid [B]`` bool and ``motion [B]`` float32 (median face motion, px).
    """
    size = float(prev.shape[1])
    a = tf.cast(prev, tf.float32)
    b = tf.cast(next, tf.float32)
    points = tf.clip_by_value(tf.cast(landmarks, tf.float32), -2.0 * size, 3.0 * size)
    if cfg.planarity_grid:
        points = tf.concat([points, face_grid(points, cfg.planarity_grid)], 1)
    face_flow, face_status = landmark_flow(a, b, points, cfg)
    flow, status = face_flow[:, :N_LANDMARKS], face_status[:, :N_LANDMARKS]
    boxes = eye_boxes(points[:, :N_LANDMARKS], cfg.eye_min_box_px, cfg.eye_box_scale)
    dense, mask = eye_flow(a, b, boxes, cfg)

    lm_mag, lm_ang = cart_to_polar(flow)
    eye_mag, eye_ang = cart_to_polar(dense)
    gate, bins, weight = cfg.min_motion_px, cfg.bins, cfg.histogram_weight
    lm_hist = direction_histogram(lm_mag, lm_ang, status, bins, gate, weight)
    eye_hist = direction_histogram(eye_mag, eye_ang, mask, bins, gate, weight)
    lm_count = vector_count(gated(lm_mag, status, gate))
    eye_count = vector_count(gated(eye_mag, mask, gate))

    valid = has_evidence(lm_count, eye_count, cfg.min_landmark_vectors, cfg.min_eye_vectors)
    score = tf.where(valid, chi_square_score(lm_hist, eye_hist), 0.0)
    ratio, motion, judged = planarity(points, face_flow, face_status, cfg)
    return {
        "score": score,
        "is_live": decide(score, valid, cfg.threshold),
        "valid": valid,
        "landmark_hist": lm_hist,
        "eye_hist": eye_hist,
        "landmark_vectors": lm_count,
        "eye_vectors": eye_count,
        "landmark_flow": flow,
        "landmark_status": status,
        "eye_boxes": boxes,
        "planarity": ratio,
        "planarity_valid": judged,
        "motion": motion,
    }
