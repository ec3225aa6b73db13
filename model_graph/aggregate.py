"""Per-clip aggregation as TensorFlow ops: the host pipeline's rule (``liveness.clip.clip_decision``).

Given the pair results of one clip (all pairs have a face: the caller made the crops), a cue with
fewer than ``min_pairs`` values is ``undecided`` (``too_few_pairs`` when the clip itself has fewer
pairs, else ``insufficient_motion``). The chi-square cue is live by the median score
(``median``) or the majority of pair decisions (``vote``); the planarity cue is live when the
median residual ratio reaches ``planarity_threshold``; ``fused`` is spoof when either decided cue
says spoof, else undecided when either is, else live.
"""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig
from model_graph.median import masked_median

#: Integer codes of the clip outputs (also written into the export manifest).
VERDICT_CODES = {"live": 0, "spoof": 1, "undecided": 2}
REASON_CODES = {"none": 0, "too_few_pairs": 1, "insufficient_motion": 2}


def _cue(live: tf.Tensor, used: tf.Tensor, pairs: tf.Tensor,
         cfg: LivenessConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """(verdict, reason) int32 codes of one cue from its decision and its number of values."""
    reason = tf.where(pairs < cfg.min_pairs, REASON_CODES["too_few_pairs"],
                      tf.where(used < cfg.min_pairs, REASON_CODES["insufficient_motion"],
                               REASON_CODES["none"]))
    verdict = tf.where(reason != 0, VERDICT_CODES["undecided"],
                       tf.where(live, VERDICT_CODES["live"], VERDICT_CODES["spoof"]))
    return verdict, reason


def aggregate_clip(score: tf.Tensor, valid: tf.Tensor, is_live: tf.Tensor, planarity: tf.Tensor,
                   planarity_valid: tf.Tensor, cfg: LivenessConfig) -> dict[str, tf.Tensor]:
    """Clip outputs from the ``[P]`` pair outputs of one clip.

    Returns ``verdict`` and ``reason`` (int32 codes, :data:`VERDICT_CODES`, :data:`REASON_CODES`),
    ``clip_score`` (median pair score, float32), ``live_fraction`` (float32), ``pairs_used``
    (int32), ``clip_planarity`` (median residual ratio, float32) and ``planarity_pairs`` (int32),
    all scalars.
    """
    pairs = tf.size(score)
    used = tf.reduce_sum(tf.cast(valid, tf.int32))
    median = masked_median(score, valid)
    live = tf.reduce_sum(tf.cast(is_live & valid, tf.float32))
    live_fraction = tf.math.divide_no_nan(live, tf.cast(used, tf.float32))
    chi_live = live_fraction > 0.5 if cfg.aggregation == "vote" else median > cfg.threshold
    planar_used = tf.reduce_sum(tf.cast(planarity_valid, tf.int32))
    clip_planarity = masked_median(planarity, planarity_valid)

    chi = _cue(chi_live, used, pairs, cfg)
    plane = _cue(clip_planarity >= cfg.planarity_threshold, planar_used, pairs, cfg)
    if cfg.decision == "chi_square":
        verdict, reason = chi
    elif cfg.decision == "planarity":
        verdict, reason = plane
    else:
        spoof = VERDICT_CODES["spoof"]
        undecided = VERDICT_CODES["undecided"]
        any_spoof = (chi[0] == spoof) | (plane[0] == spoof)
        chi_undecided = chi[0] == undecided
        verdict = tf.where(any_spoof, spoof, tf.maximum(chi[0], plane[0]))
        reason = tf.where(any_spoof, REASON_CODES["none"],
                          tf.where(chi_undecided, chi[1], plane[1]))
    return {"verdict": tf.cast(verdict, tf.int32), "reason": tf.cast(reason, tf.int32),
            "clip_score": median, "live_fraction": live_fraction, "pairs_used": used,
            "clip_planarity": clip_planarity, "planarity_pairs": planar_used}
