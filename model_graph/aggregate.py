"""Per-clip opinions and the fused verdict as TensorFlow ops: the host's rule (``liveness.cues``).

Given the pair and frame results of one clip (every pair has a face: the caller made the crops),
each cue gives an opinion code (:data:`OPINION_CODES`) and a reason code (:data:`REASON_CODES`),
and :func:`fuse` composes the cues ``cfg.decision`` names: spoof when any says spoof, live when
none does and one says live, otherwise undecided with the first cue's reason.
"""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig, deciding_cues
from model_graph.median import masked_median

#: Integer codes of the clip outputs (also written into the export manifest).
VERDICT_CODES = {"live": 0, "spoof": 1, "undecided": 2}
OPINION_CODES = {"live": 0, "spoof": 1, "no_opinion": 2}
REASON_CODES = {"none": 0, "too_few_pairs": 1, "insufficient_motion": 2, "not_planar": 3,
                "face_too_close": 4, "no_texture": 5}


def _opinion(live: tf.Tensor, reason: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    opinion = tf.where(reason != 0, OPINION_CODES["no_opinion"],
                       tf.where(live, OPINION_CODES["live"], OPINION_CODES["spoof"]))
    return opinion, reason


def _short(pairs: tf.Tensor, cfg: LivenessConfig) -> tf.Tensor:
    return tf.where(pairs < cfg.min_pairs, REASON_CODES["too_few_pairs"],
                    REASON_CODES["insufficient_motion"])


def fuse(opinions: list[tuple[tf.Tensor, tf.Tensor]]) -> tuple[tf.Tensor, tf.Tensor]:
    """``(verdict, reason)`` int32 codes from the deciding cues' ``(opinion, reason)`` codes."""
    spoof = tf.reduce_any(tf.stack([o == OPINION_CODES["spoof"] for o, _ in opinions]))
    live = tf.reduce_any(tf.stack([o == OPINION_CODES["live"] for o, _ in opinions]))
    reason = tf.constant(REASON_CODES["none"])
    for _, cue_reason in reversed(opinions):
        reason = tf.where(cue_reason != 0, cue_reason, reason)
    verdict = tf.where(spoof, VERDICT_CODES["spoof"],
                       tf.where(live, VERDICT_CODES["live"], VERDICT_CODES["undecided"]))
    return verdict, tf.where(spoof | live, REASON_CODES["none"], reason)


def aggregate_clip(pairs: dict[str, tf.Tensor], pair_count: tf.Tensor, texture: tf.Tensor,
                   texture_used: tf.Tensor, too_close: tf.Tensor,
                   cfg: LivenessConfig) -> dict[str, tf.Tensor]:
    """Clip outputs from the ``[P]`` pair outputs of ``model_graph.check.check_pair`` (``valid``
    already false for padding pairs), ``pair_count`` (int32, the real pairs), and per frame
    ``texture [T]`` with ``texture_used [T]`` (in the network's domain) and ``too_close [T]``
    (patches given but capped below ``texture_min_scale``).

    Returns scalars: ``verdict``, ``reason`` (int32 codes); per cue ``{cue}_opinion`` and
    ``{cue}_reason``; ``clip_score`` (median k), ``live_fraction``, ``pairs_used``,
    ``motion_judged``, ``motion_planar``, ``planar_share``, ``texture_score`` (median
    probability), ``texture_frames``.
    """
    valid, score = pairs["valid"], pairs["score"]
    used = tf.reduce_sum(tf.cast(valid, tf.int32))
    median = masked_median(score, valid)
    live_pairs = tf.reduce_sum(tf.cast(pairs["is_live"] & valid, tf.float32))
    live_fraction = tf.math.divide_no_nan(live_pairs, tf.cast(used, tf.float32))
    chi_live = live_fraction > 0.5 if cfg.aggregation == "vote" else median > cfg.threshold
    short = _short(pair_count, cfg)
    chi = _opinion(chi_live, tf.where(used < cfg.min_pairs, short, REASON_CODES["none"]))

    judged = tf.reduce_sum(tf.cast(pairs["motion_judged"], tf.int32))
    planar = tf.reduce_sum(tf.cast(pairs["planar"], tf.int32))
    share = tf.math.divide_no_nan(tf.cast(planar, tf.float32), tf.cast(judged, tf.float32))
    motion_reason = tf.where(judged < cfg.motion_min_pairs, short,
                             tf.where(share >= cfg.motion_planar_share, REASON_CODES["none"],
                                      REASON_CODES["not_planar"]))
    motion = (tf.where(motion_reason == 0, OPINION_CODES["spoof"], OPINION_CODES["no_opinion"]),
              motion_reason)

    frames = tf.reduce_sum(tf.cast(texture_used, tf.int32))
    too_close = tf.reduce_sum(tf.cast(too_close, tf.int32))
    texture_score = masked_median(texture, texture_used)
    texture_reason = tf.where(
        frames >= cfg.texture_min_frames, REASON_CODES["none"],
        tf.where(too_close > frames, REASON_CODES["face_too_close"],
                 tf.where(pair_count < cfg.min_pairs, REASON_CODES["too_few_pairs"],
                          REASON_CODES["no_texture"])))
    tex = _opinion(texture_score > cfg.texture_threshold, texture_reason)

    cues = {"chi_square": chi, "motion": motion, "texture": tex}
    verdict, reason = fuse([cues[name] for name in deciding_cues(cfg.decision)])
    out = {"verdict": verdict, "reason": reason, "clip_score": median,
           "live_fraction": live_fraction, "pairs_used": used, "motion_judged": judged,
           "motion_planar": planar, "planar_share": share, "texture_score": texture_score,
           "texture_frames": frames}
    for name, (opinion, cue_reason) in cues.items():
        out[f"{name}_opinion"], out[f"{name}_reason"] = opinion, cue_reason
    return {k: tf.cast(v, tf.float32 if v.dtype.is_floating else tf.int32) for k, v in out.items()}
