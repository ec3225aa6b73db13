"""Borders: padding from slices, reversals and one concatenation, and indices mapped inside.

TFLite's ``MIRROR_PAD`` costs about 0.2 ms per 160 px image and a ``GATHER`` along an axis runs
outside the XNNPACK delegate; a padded axis is here one concatenation: the original between
contiguous slices of it, some reversed (reflection) or repeated (replication), which XNNPACK runs
in microseconds.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: numpy's names for OpenCV's border rules: ``reflect`` is ``BORDER_REFLECT_101``
#: (``gfedcb|abcdefgh|gfedcba``), ``edge`` is ``BORDER_REPLICATE``.
_NUMPY_MODE = {"reflect101": "reflect", "replicate": "edge"}


def _runs(index: np.ndarray) -> list[tuple[int, int, int]]:
    """``index`` split into maximal runs of one step (+1, -1 or 0): ``[(first, last, length)]``.

    >>> _runs(np.array([2, 1, 0, 1, 2, 3, 3, 3]))
    [(2, 0, 3), (1, 3, 3), (3, 3, 2)]
    """
    runs: list[list[int]] = []
    for value in map(int, index):
        if runs:
            first, last, length = runs[-1]
            step = value - last
            if abs(step) <= 1 and (length == 1 or step == (last - first) // (length - 1)):
                runs[-1][1:] = [value, length + 1]
                continue
        runs.append([value, value, 1])
    return [tuple(run) for run in runs]


def pad(image: tf.Tensor, axis: int, before: int, after: int, border: str) -> tf.Tensor:
    """``image`` padded along ``axis`` (static size) by ``border`` (``reflect101`` or
    ``replicate``), any width.

    >>> x = tf.constant([[0.0, 1.0, 2.0, 3.0]])
    >>> pad(x, 1, 2, 3, "reflect101").numpy().tolist()
    [[2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0, 0.0]]
    >>> pad(x, 1, 1, 2, "replicate").numpy().tolist()
    [[0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0]]
    """
    size = image.shape[axis]
    index = np.pad(np.arange(size), (before, after), mode=_NUMPY_MODE[border])
    # The image itself is the middle part (not a slice of it: a slice is a copy).
    parts = []
    for first, last, length in _runs(index[:before]):
        parts.extend(_part(image, axis, first, last, length))
    parts.append(image)
    for first, last, length in _runs(index[before + size:]):
        parts.extend(_part(image, axis, first, last, length))
    return parts[0] if len(parts) == 1 else tf.concat(parts, axis)


def _part(image: tf.Tensor, axis: int, first: int, last: int, length: int) -> list[tf.Tensor]:
    """The pieces of a padded axis for one run of :func:`_runs` (``first .. last`` along
    ``axis``, ``length`` samples): one slice, reversed when the run descends, or one sample
    repeated."""
    begin, extent = [0] * image.shape.rank, [-1] * image.shape.rank
    begin[axis], extent[axis] = min(first, last), abs(last - first) + 1
    part = tf.slice(image, begin, extent)
    if first == last:
        return [part] * length
    return [tf.reverse(part, [axis]) if last < first else part]


def reflect_index(index: tf.Tensor, size: int) -> tf.Tensor:
    """int32 ``index`` mapped into ``0..size-1`` by reflect-101 (``gfedcb|abcdefgh|gfedcba``), one
    reflection deep (then clamped).

    >>> reflect_index(tf.constant([-2, 0, 4, 5, 6]), 5).numpy().tolist()
    [2, 0, 4, 3, 2]
    """
    index = tf.abs(index)
    index = tf.where(index > size - 1, 2 * (size - 1) - index, index)
    return tf.clip_by_value(index, 0, size - 1)
