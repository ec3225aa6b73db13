"""Stage S5a in TensorFlow: the chi-square score k (twin of ``reference/score.py``)."""

from __future__ import annotations

import tensorflow as tf


def chi_square_score(landmark_hist: tf.Tensor, eye_hist: tf.Tensor) -> tf.Tensor:
    """``[B]`` symmetric chi-square in ``[0, 200]`` of ``[B, bins]`` raw counts, each scaled to 100.

    Bins where both are zero are skipped. An empty histogram scores as all-zero (the caller's
    ``valid`` flag marks such pairs; see ``decision.decide``).

    >>> chi_square_score(tf.constant([[5.0, 0.0]]), tf.constant([[0.0, 9.0]])).numpy().tolist()
    [200.0]
    """
    f = landmark_hist * (100.0 / tf.maximum(tf.reduce_sum(landmark_hist, -1, keepdims=True), 1e-12))
    r = eye_hist * (100.0 / tf.maximum(tf.reduce_sum(eye_hist, -1, keepdims=True), 1e-12))
    return tf.reduce_sum(tf.math.divide_no_nan((f - r) ** 2, f + r), -1)
