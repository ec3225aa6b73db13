"""Per-clip aggregation as TensorFlow ops: the host pipeline's rule (SPEC §5) for one clip.

Given the pair results of one clip (all pairs have a face: the caller made the crops), the clip is
``undecided`` with ``too_few_pairs`` when it has fewer than ``min_pairs`` pairs, ``undecided`` with
``insufficient_motion`` when fewer than ``min_pairs`` pairs have a score, else ``live`` or
``spoof`` by the median score (``median``) or the majority of pair decisions (``vote``).
"""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig

#: Integer codes of the clip outputs (also written into the export manifest).
VERDICT_CODES = {"live": 0, "spoof": 1, "undecided": 2}
REASON_CODES = {"none": 0, "too_few_pairs": 1, "insufficient_motion": 2}


def masked_median(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Median of ``values [N]`` where ``mask [N]``; 0 when the mask is empty.

    >>> float(masked_median(tf.constant([5.0, 1.0, 9.0, 3.0]), tf.constant([True, True, False, True])))
    3.0
    """
    count = tf.reduce_sum(tf.cast(mask, tf.int32))
    ordered = tf.sort(tf.where(mask, values, tf.float32.max))
    low = tf.gather(ordered, tf.maximum((count - 1) // 2, 0))
    high = tf.gather(ordered, tf.maximum(count // 2, 0))
    return tf.where(count > 0, (low + high) * 0.5, 0.0)


def aggregate_clip(score: tf.Tensor, valid: tf.Tensor, is_live: tf.Tensor,
                   cfg: LivenessConfig) -> dict[str, tf.Tensor]:
    """Clip outputs from the ``[P]`` pair outputs of one clip.

    Returns ``verdict`` and ``reason`` (int32 codes, :data:`VERDICT_CODES`, :data:`REASON_CODES`),
    ``clip_score`` (median pair score, float32), ``live_fraction`` (float32) and ``pairs_used``
    (int32), all scalars.
    """
    pairs = tf.size(score)
    used = tf.reduce_sum(tf.cast(valid, tf.int32))
    median = masked_median(score, valid)
    live = tf.reduce_sum(tf.cast(is_live & valid, tf.float32))
    live_fraction = tf.math.divide_no_nan(live, tf.cast(used, tf.float32))
    if cfg.aggregation == "vote":
        decided_live = live_fraction > 0.5
    else:
        decided_live = median > cfg.threshold
    too_few = pairs < cfg.min_pairs
    still = ~too_few & (used < cfg.min_pairs)
    reason = tf.where(too_few, REASON_CODES["too_few_pairs"],
                      tf.where(still, REASON_CODES["insufficient_motion"], REASON_CODES["none"]))
    verdict = tf.where(reason != 0, VERDICT_CODES["undecided"],
                       tf.where(decided_live, VERDICT_CODES["live"], VERDICT_CODES["spoof"]))
    return {"verdict": tf.cast(verdict, tf.int32), "reason": tf.cast(reason, tf.int32),
            "clip_score": median, "live_fraction": live_fraction, "pairs_used": used}
