"""Image pyramids for Lucas-Kanade, from ops that TFLite's XNNPACK and XLA run well.

- :func:`pyr_down` matches ``cv2.pyrDown`` on 8-bit images bit for bit: the 5x5 kernel
  ``[1 4 6 4 1]^T [1 4 6 4 1] / 256``, reflect-101 borders, every second pixel, and OpenCV's
  rounding ``(sum + 128) >> 8``. It is separable and strided by a reshape (rows paired into one
  row twice as wide), so no convolution and no strided slice runs.
- :func:`lk_levels` is the number of levels ``cv2.buildOpticalFlowPyramid`` really builds.
"""

from __future__ import annotations

import tensorflow as tf

from model_graph.padding import pad


def _blur_halve_rows(image: tf.Tensor) -> tf.Tensor:
    """``[B, H, W]`` to ``[B, (H+1)//2, W]``: rows correlated with ``[1 4 6 4 1]``, every second kept."""
    height, width = image.shape[1], image.shape[2]
    out = (height + 1) // 2
    padded = pad(image, 1, 2, 2 * out + 2 - height, "reflect101")               # 2 * out + 4 rows
    pairs = tf.reshape(padded, [-1, out + 2, 2 * width])                     # row 2j | row 2j+1

    def rows(first: int, odd: int) -> tf.Tensor:
        """Padded rows ``2 (first + j) + odd`` for ``j`` in ``0 .. out - 1``."""
        return pairs[:, first:first + out, odd * width:(odd + 1) * width]

    # [1 4 6 4 1] with the equal taps added first: every value is an integer below 2^24, so any
    # order of the sums is exact.
    return (rows(0, 0) + rows(2, 0)) + 4.0 * (rows(0, 1) + rows(1, 1)) + 6.0 * rows(1, 0)


def pyr_down(image: tf.Tensor) -> tf.Tensor:
    """``[B, H, W]`` float (integer values 0..255) to ``[B, (H+1)//2, (W+1)//2]``, like cv2.pyrDown.

    >>> pyr_down(tf.fill([1, 6, 5], 100.0)).numpy()[0].tolist()
    [[100.0, 100.0, 100.0], [100.0, 100.0, 100.0], [100.0, 100.0, 100.0]]
    """
    rows = _blur_halve_rows(image)
    both = _blur_halve_rows(tf.transpose(rows, [0, 2, 1]))
    return tf.floor((tf.transpose(both, [0, 2, 1]) + 128.0) * (1.0 / 256.0))


def lk_levels(size: int, window: int, max_level: int) -> int:
    """The highest pyramid level OpenCV's LK uses for a ``size`` px image (it stops halving once a
    level would be no larger than the window).

    >>> lk_levels(160, 15, 3), lk_levels(40, 15, 3)
    (3, 1)
    """
    level = 0
    while level < max_level:
        size = (size + 1) // 2
        if size <= window:
            break
        level += 1
    return level


def build_pyramid(image: tf.Tensor, levels: int) -> list[tf.Tensor]:
    """``[image, pyr_down(image), ...]``: ``levels + 1`` tensors of ``[B, H_l, W_l]``."""
    pyramid = [image]
    for _ in range(levels):
        pyramid.append(pyr_down(pyramid[-1]))
    return pyramid
