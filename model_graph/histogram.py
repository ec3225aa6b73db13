"""Stage S4b in TensorFlow: direction histograms with the motion gate (twin of the reference).

Built from ``one_hot`` and ``reduce_sum`` (``histogram_fixed_width`` and ``bincount`` do not
convert to TFLite built-ins).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


def direction_bin(angle: tf.Tensor, bins: int) -> tf.Tensor:
    """Bin index (int32) of angles in ``[0, 2*pi]``; the formula of ``conventions.direction_bin``."""
    return tf.cast(_bin_position(angle, bins), tf.int32)


def _bin_position(angle: tf.Tensor, bins: int) -> tf.Tensor:
    """:func:`direction_bin` as a float (an integer value ``0 .. bins - 1``)."""
    index = tf.floor(angle * np.float32(bins / (2 * math.pi)))
    return tf.clip_by_value(tf.where(index >= bins, index - bins, index), 0.0, bins - 1.0)


def direction_histogram(magnitude: tf.Tensor, angle: tf.Tensor, valid: tf.Tensor, bins: int,
                        min_motion_px: float | tf.Tensor, weight: str = "count") -> tf.Tensor:
    """``[B, bins]`` float32 histogram of the valid vectors at least ``min_motion_px`` long.

    ``magnitude``, ``angle`` and ``valid`` are ``[B, ...]``; all axes after the first are counted.
    ``weight``: ``count`` (raw counts) or ``magnitude`` (each vector weighs its length, pixels).

    >>> direction_histogram(tf.constant([[1.0, 1.0, 0.1]]), tf.constant([[0.1, 3.2, 1.0]]),
    ...                     tf.constant([[True, True, True]]), 10, 0.5).numpy().tolist()
    [[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]
    """
    keep = gated(magnitude, valid, min_motion_px)
    # A vector's votes are relu(1 - |bin - k|): 1 in its bin k, else 0, as one_hot gives them
    # without TFLite's ONE_HOT kernel (24 against 70 µs for the eye patches, an ad-hoc run). A
    # vector not kept goes to bin -2, which votes nowhere, whatever its angle.
    position = tf.where(keep, _bin_position(angle, bins), -2.0)
    votes = tf.nn.relu(1.0 - tf.abs(position[..., None] - np.arange(bins, dtype=np.float32)))
    if weight == "magnitude":
        votes = votes * tf.where(keep, magnitude, 0.0)[..., None]
    batch = tf.shape(votes)[0]
    return tf.reduce_sum(tf.reshape(votes, [batch, -1, bins]), axis=1)


def gated(magnitude: tf.Tensor, valid: tf.Tensor, min_motion_px: float | tf.Tensor) -> tf.Tensor:
    """Bool mask of the valid vectors at least ``min_motion_px`` long (the ones histogrammed);
    the gate is a number or ``[B]`` (one per batch row)."""
    gate = tf.convert_to_tensor(min_motion_px, tf.float32)
    if gate.shape.rank == 1:
        gate = tf.reshape(gate, [-1] + [1] * (magnitude.shape.rank - 1))
    return valid & (magnitude >= gate)


def vector_count(mask: tf.Tensor) -> tf.Tensor:
    """``[B]`` int32: how many vectors of each batch row ``mask [B, ...]`` keeps."""
    batch = tf.shape(mask)[0]
    return tf.reduce_sum(tf.reshape(tf.cast(mask, tf.int32), [batch, -1]), axis=1)
