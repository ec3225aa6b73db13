"""Masked median along the last axis, with ops that convert to TFLite built-ins (sort, one_hot)."""

from __future__ import annotations

import tensorflow as tf


def masked_median(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Median of ``values [..., N]`` where ``mask [..., N]``, over the last axis; 0 where empty.

    >>> float(masked_median(tf.constant([5.0, 1.0, 9.0, 3.0]), tf.constant([True, True, False, True])))
    3.0
    >>> masked_median(tf.constant([[1.0, 2.0], [4.0, 8.0]]), tf.constant([[True, True], [False, False]])).numpy().tolist()
    [1.5, 0.0]
    """
    size = tf.shape(values)[-1]
    count = tf.reduce_sum(tf.cast(mask, tf.int32), -1)
    ordered = tf.sort(tf.where(mask, values, tf.float32.max), axis=-1)
    low = tf.reduce_sum(ordered * tf.one_hot(tf.maximum((count - 1) // 2, 0), size), -1)
    high = tf.reduce_sum(ordered * tf.one_hot(tf.maximum(count // 2, 0), size), -1)
    return tf.where(count > 0, (low + high) * 0.5, 0.0)
