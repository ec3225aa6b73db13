"""Image pyramids and the image gradients of OpenCV's pyramidal Lucas-Kanade.

- :func:`pyr_down` matches ``cv2.pyrDown`` on 8-bit images bit for bit: the 5x5 kernel
  ``[1 4 6 4 1]^T [1 4 6 4 1] / 256``, reflect-101 borders, every second pixel, and OpenCV's
  fixed-point rounding ``(sum + 128) >> 8``.
- :func:`scharr_gradients` is the 3x3 Scharr pair LK uses (``calcSharrDeriv``): unnormalised
  (32 x the central difference), reflect-101 borders.
- :func:`lk_levels` is the number of levels ``cv2.buildOpticalFlowPyramid`` really builds.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32)
_SCHARR_SMOOTH = np.array([3.0, 10.0, 3.0], np.float32)
_SCHARR_DIFF = np.array([-1.0, 0.0, 1.0], np.float32)


def _conv(image: tf.Tensor, kernel: np.ndarray, pad: int, stride: int = 1) -> tf.Tensor:
    """Correlate ``[B, H, W]`` with a 2-D ``kernel`` after reflect-101 padding of ``pad`` pixels."""
    padded = tf.pad(image, [[0, 0], [pad, pad], [pad, pad]], mode="REFLECT")
    weights = tf.constant(kernel[:, :, None, None], tf.float32)
    out = tf.nn.conv2d(padded[..., None], weights, strides=stride, padding="VALID")
    return out[..., 0]


def pyr_down(image: tf.Tensor) -> tf.Tensor:
    """``[B, H, W]`` float (integer values 0..255) to ``[B, (H+1)//2, (W+1)//2]``, like cv2.pyrDown.

    >>> pyr_down(tf.fill([1, 6, 5], 100.0)).numpy()[0].tolist()
    [[100.0, 100.0, 100.0], [100.0, 100.0, 100.0], [100.0, 100.0, 100.0]]
    """
    total = _conv(image, np.outer(_BINOMIAL, _BINOMIAL), pad=2, stride=2)
    return tf.floor((total + 128.0) / 256.0)


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


def scharr_gradients(image: tf.Tensor) -> tf.Tensor:
    """``[B, H, W, 2]`` (Ix, Iy) of ``[B, H, W]``: 3x3 Scharr, unnormalised, reflect-101 borders.

    >>> ramp = tf.tile(tf.range(5, dtype=tf.float32)[None, None], [1, 4, 1])
    >>> scharr_gradients(ramp).numpy()[0, 1, 2].tolist()
    [32.0, 0.0]
    """
    gx = _conv(image, np.outer(_SCHARR_SMOOTH, _SCHARR_DIFF), pad=1)
    gy = _conv(image, np.outer(_SCHARR_DIFF, _SCHARR_SMOOTH), pad=1)
    return tf.stack([gx, gy], axis=-1)
