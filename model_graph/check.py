"""The check of a batch of frame pairs as TensorFlow ops: stages S3-S5 composed.

Twin of ``liveness/reference/check.py``. No Python loop runs per pair: every op is batched.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.conventions import N_LANDMARKS
from model_graph.decision import decide, has_evidence
from model_graph.flow import PairPyramids, eye_boxes, eye_flow, face_grid
from model_graph.histogram import direction_histogram, gated, vector_count
from model_graph.motion import forward_backward_keep, motion_evidence
from model_graph.polar import cart_to_polar
from model_graph.score import chi_square_score


def check_pair(prev: tf.Tensor, next: tf.Tensor, landmarks: tf.Tensor, cfg: LivenessConfig,
               window_reads: str = "products") -> dict[str, tf.Tensor]:
    """Score ``B`` pairs of grey face crops.

    Args:
        prev, next: ``[B, S, S]`` uint8 (or float 0..255) grey crops of the same window.
        landmarks: ``[B, 68, 2]`` float32 (x, y) in ``prev``'s crop pixels, iBUG order. Points far
            outside the crop are clamped to within two crop sizes of it; they are not tracked.
            A non-finite point is an untracked point; an eyeball box with a non-finite corner is
            all zeros and holds no vector; no output is ever NaN.
        cfg: the configuration.
        window_reads: how LK reads its windows (``model_graph.lucas_kanade.WINDOW_READS``):
            ``"gathers"`` for a graph converted to TFLite, ``"windows"`` for one that XLA
            compiles, ``"products"`` otherwise.

    Returns:
        ``score [B]`` float32 (0 where not valid), ``is_live [B]`` bool (``score > threshold``),
        ``valid [B]`` bool, ``landmark_hist [B, bins]`` and ``eye_hist [B, bins]`` float32,
        ``landmark_vectors [B]`` and ``eye_vectors [B]`` int32 (vectors histogrammed),
        ``landmark_flow [B, 68, 2]`` float32 (dx, dy), ``landmark_status [B, 68]`` bool (tracked
        and kept by the forward-backward filter), ``eye_boxes [B, 2, 4]`` float32, and the motion
        cue's ``sigma``, ``sigma_valid``, ``motion``, ``plane_residual``, ``motion_judged``,
        ``planar`` and ``points_kept`` (``model_graph.motion.motion_evidence``).
    """
    size = float(prev.shape[1])
    a = tf.cast(prev, tf.float32)
    b = tf.cast(next, tf.float32)
    landmarks = tf.cast(landmarks, tf.float32)
    finite = tf.reduce_all(tf.math.is_finite(landmarks), -1)                  # [B, 68]
    marks = tf.clip_by_value(tf.where(finite[..., None], landmarks, 0.0), -2.0 * size, 3.0 * size)
    grid, grid_ok = face_grid(marks, cfg.motion_grid, finite)
    points = tf.concat([marks, grid], 1)
    trusted = tf.concat([finite, tf.tile(grid_ok[:, None], [1, cfg.motion_grid ** 2])], 1)
    pyramids = PairPyramids(a, b, cfg, window_reads)
    if cfg.forward_backward:
        face_flow, kept, error, back_status = pyramids.there_and_back(points)
        kept = forward_backward_keep(kept & trusted, back_status, error, cfg)
    else:
        face_flow, kept = pyramids.flow(points)
        kept = kept & trusted
    face_flow = tf.where(kept[..., None], face_flow, 0.0)
    motion = motion_evidence(points, face_flow, kept, cfg)
    flow, status = face_flow[:, :N_LANDMARKS], kept[:, :N_LANDMARKS]
    boxes, boxes_ok = eye_boxes(marks, cfg.eye_min_box_px, cfg.eye_box_scale, finite)
    dense, mask = eye_flow(a, b, boxes, cfg)
    mask = mask & boxes_ok[:, :, None, None]

    lm_mag, lm_ang = cart_to_polar(flow)
    eye_mag, eye_ang = cart_to_polar(dense)
    gate = significance_gate(motion["sigma"], motion["sigma_valid"], cfg)
    bins, weight = cfg.bins, cfg.histogram_weight
    lm_hist = direction_histogram(lm_mag, lm_ang, status, bins, gate, weight)
    eye_hist = direction_histogram(eye_mag, eye_ang, mask, bins, gate, weight)
    lm_count = vector_count(gated(lm_mag, status, gate))
    eye_count = vector_count(gated(eye_mag, mask, gate))

    valid = has_evidence(lm_count, eye_count, cfg.min_landmark_vectors, cfg.min_eye_vectors)
    score = tf.where(valid, chi_square_score(lm_hist, eye_hist), 0.0)
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
        **motion,
    }


def pair_output_specs(cfg: LivenessConfig) -> dict[str, tf.TensorSpec]:
    """What :func:`check_pair` returns for one pair: each output's shape without the batch axis
    and its dtype."""
    f32, i32, flag = tf.float32, tf.int32, tf.bool
    outputs = {"score": ((), f32), "is_live": ((), flag), "valid": ((), flag),
               "landmark_hist": ((cfg.bins,), f32), "eye_hist": ((cfg.bins,), f32),
               "landmark_vectors": ((), i32), "eye_vectors": ((), i32),
               "landmark_flow": ((N_LANDMARKS, 2), f32), "landmark_status": ((N_LANDMARKS,), flag),
               "eye_boxes": ((2, 4), f32), "sigma": ((), f32), "sigma_valid": ((), flag),
               "motion": ((), f32), "plane_residual": ((), f32), "motion_judged": ((), flag),
               "planar": ((), flag), "points_kept": ((), i32)}
    return {name: tf.TensorSpec(shape, dtype, name=name) for name, (shape, dtype) in outputs.items()}


def fit_rows(tensor: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """``tensor`` cut or zero-padded along its first axis to ``n`` rows."""
    pad = tf.zeros(tf.concat([[n], tf.shape(tensor)[1:]], 0), tensor.dtype)
    return tf.concat([tensor, pad], 0)[:n]


def check_in_chunks(prev: tf.Tensor, next: tf.Tensor, landmarks: tf.Tensor, cfg: LivenessConfig,
                    window_reads: str = "products", chunk: int | None = None) -> dict[str, tf.Tensor]:
    """:func:`check_pair` of ``B`` pairs, at most ``chunk`` pairs at a time in a loop, the same
    outputs. The batch splits into ``ceil(B / chunk)`` parts of equal size, zero pairs padding
    the last (fewer pairs than there are parts). ``chunk=None``, or a batch known when tracing to
    be at most ``chunk``: every pair at once. On a CPU the strip tables of a few pairs stay in
    cache where those of a large batch do not (docs/decisions.md, "Large batches in chunks")."""
    if chunk is None or (prev.shape[0] is not None and prev.shape[0] <= chunk):
        return check_pair(prev, next, landmarks, cfg, window_reads)
    batch = tf.shape(prev)[0]
    parts = tf.maximum((batch + chunk - 1) // chunk, 1)
    size = tf.maximum((batch + parts - 1) // parts, 1)

    def split(tensor: tf.Tensor) -> tf.Tensor:                     # [parts, size, ...]
        return tf.reshape(fit_rows(tensor, parts * size),
                          tf.concat([[parts, size], tf.shape(tensor)[1:]], 0))

    signature = {name: tf.TensorSpec([None, *spec.shape], spec.dtype)
                 for name, spec in pair_output_specs(cfg).items()}
    out = tf.map_fn(lambda part: check_pair(*part, cfg, window_reads),
                    (split(prev), split(next), split(landmarks)),
                    fn_output_signature=signature, parallel_iterations=1)
    return {name: tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], 0))[:batch]
            for name, value in out.items()}


def in_streams(check: Callable[..., dict[str, tf.Tensor]], inputs: list[tf.Tensor],
               streams: int) -> dict[str, tf.Tensor]:
    """``check(*inputs)`` of ``B >= 1`` rows (the first input's first axis; every input is cut or
    zero-padded to the parts' rows) as ``streams`` calls on parts of ``ceil(B / streams)`` rows,
    zero rows padding the last, their outputs concatenated and cut to ``B`` rows: the calls do
    not depend on one another, so TensorFlow runs them at the same time on its inter-op threads.
    ``check`` maps rows to rows (each output's first axis is its inputs')."""
    batch = tf.shape(inputs[0])[0]
    size = (batch + streams - 1) // streams
    padded = [fit_rows(t, streams * size) for t in inputs]
    outs = [check(*(t[i * size:(i + 1) * size] for t in padded)) for i in range(streams)]
    return {name: tf.concat([out[name] for out in outs], 0)[:batch] for name in outs[0]}


def significance_gate(sigma: tf.Tensor, sigma_valid: tf.Tensor, cfg: LivenessConfig) -> tf.Tensor:
    """``[B]`` motion gate of the histograms, pixels: ``max(min_motion_px, significance_sigma x σ)``
    (the formula of ``liveness.reference.check.significance_gate``; no σ: nothing passes)."""
    if cfg.significance_sigma == 0:
        return tf.fill(tf.shape(sigma), float(cfg.min_motion_px))
    gate = tf.maximum(cfg.min_motion_px, cfg.significance_sigma * sigma)
    return tf.where(sigma_valid, gate, tf.float32.max)
