"""Stage S5b in TensorFlow: which pairs have a score, and the per-pair decision."""

from __future__ import annotations

import tensorflow as tf


def has_evidence(landmark_vectors: tf.Tensor, eye_vectors: tf.Tensor, min_landmark_vectors: int,
                 min_eye_vectors: int) -> tf.Tensor:
    """``[B]`` bool: both histograms hold enough vectors (``[B]`` int32 counts) for a score (SPEC §3)."""
    return ((landmark_vectors >= max(min_landmark_vectors, 1))
            & (eye_vectors >= max(min_eye_vectors, 1)))


def decide(score: tf.Tensor, valid: tf.Tensor, threshold: float) -> tf.Tensor:
    """``[B]`` bool: live when the pair has a score and ``score > threshold``.

    >>> decide(tf.constant([120.0, 100.0, 150.0]), tf.constant([True, True, False]), 100.0).numpy().tolist()
    [True, False, False]
    """
    return valid & (score > threshold)
