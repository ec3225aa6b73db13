"""Bilinear sampling and a dense image warp in plain TensorFlow (TFLite built-ins only).

The idiom of tensorflow-addons' ``dense_image_warp`` (end-of-life, does not import on TF 2.21),
written with ``gather`` on flattened indices so it converts to TFLite's GATHER.

Border rules, named by OpenCV's border types:

- ``"reflect101"``: an index ``i`` outside ``0..n-1`` reads ``-i`` (left) or ``2(n-1)-i`` (right),
  i.e. ``cv2.BORDER_REFLECT_101`` (``gfedcb|abcdefgh|gfedcba``), one reflection deep.
- ``"replicate"``: indices are clamped to ``0..n-1`` (``cv2.BORDER_REPLICATE``).
- ``"zero"``: pixels outside the image read 0 (``cv2.BORDER_CONSTANT`` with 0).
"""

from __future__ import annotations

import tensorflow as tf

BORDERS = ("reflect101", "replicate", "zero")


def border_index(index: tf.Tensor, size: int, border: str) -> tuple[tf.Tensor, tf.Tensor]:
    """Map int32 ``index`` into ``0..size-1`` by ``border``; also return where it was inside.

    >>> i, inside = border_index(tf.constant([-2, 0, 4, 5, 6]), 5, "reflect101")
    >>> i.numpy().tolist(), inside.numpy().tolist()
    ([2, 0, 4, 3, 2], [False, True, True, False, False])
    """
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    inside = (index >= 0) & (index < size)
    if border == "reflect101":
        mapped = tf.abs(index)
        mapped = tf.where(mapped > size - 1, 2 * (size - 1) - mapped, mapped)
        return tf.clip_by_value(mapped, 0, size - 1), inside
    return tf.clip_by_value(index, 0, size - 1), inside


def gather_pixels(image: tf.Tensor, x: tf.Tensor, y: tf.Tensor, border: str) -> tf.Tensor:
    """Pixels of ``image [B, H, W, (C)]`` at integer ``x, y`` of shape ``[B, ...]`` (int32).

    Returns ``[B, ..., (C)]`` in ``image``'s dtype; the border rule handles indices outside.
    """
    shape = tf.shape(image)
    height, width = image.shape[1], image.shape[2]
    xi, x_in = border_index(x, width, border)
    yi, y_in = border_index(y, height, border)
    batch = tf.reshape(tf.range(shape[0]), [-1] + [1] * (len(x.shape) - 1))
    flat_index = (batch * height + yi) * width + xi
    channels = image.shape[3:]
    flat = tf.reshape(image, [-1, *channels])
    values = tf.gather(flat, flat_index)
    if border == "zero":
        inside = tf.cast(x_in & y_in, image.dtype)
        values = values * (tf.reshape(inside, tf.concat([tf.shape(inside), [1] * len(channels)], 0))
                           if channels else inside)
    return values


def bilinear_sample(image: tf.Tensor, points: tf.Tensor, border: str = "reflect101") -> tf.Tensor:
    """Bilinear samples of ``image [B, H, W]`` float at ``points [B, ..., 2]`` (x, y) float pixels.

    Pixel centres are at integer coordinates (OpenCV's convention). Returns ``[B, ...]``.

    >>> img = tf.reshape(tf.range(12, dtype=tf.float32), [1, 3, 4])
    >>> bilinear_sample(img, tf.constant([[[1.5, 1.0], [0.0, 0.25]]])).numpy().tolist()
    [[5.5, 1.0]]
    """
    x, y = points[..., 0], points[..., 1]
    x0f, y0f = tf.floor(x), tf.floor(y)
    fx, fy = x - x0f, y - y0f
    x0, y0 = tf.cast(x0f, tf.int32), tf.cast(y0f, tf.int32)
    v00 = gather_pixels(image, x0, y0, border)
    v01 = gather_pixels(image, x0 + 1, y0, border)
    v10 = gather_pixels(image, x0, y0 + 1, border)
    v11 = gather_pixels(image, x0 + 1, y0 + 1, border)
    top = v00 + fx * (v01 - v00)
    bottom = v10 + fx * (v11 - v10)
    return top + fy * (bottom - top)


def dense_image_warp(image: tf.Tensor, flow: tf.Tensor, border: str = "replicate") -> tf.Tensor:
    """Warp ``image [B, H, W]`` by ``flow [B, H, W, 2]`` (dx, dy) pixels: ``out(p) = image(p + flow(p))``.

    This is backward warping: with ``flow`` from ``prev`` to ``next``, ``dense_image_warp(next, flow)``
    brings ``next`` back onto ``prev``. (tensorflow-addons' function uses ``image(p - flow(p))``.)
    Zero flow returns the image unchanged.

    >>> img = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4])
    >>> flow = tf.tile(tf.constant([[[[1.0, 0.0]]]]), [1, 4, 4, 1])
    >>> dense_image_warp(img, flow).numpy()[0, 0].tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    height, width = image.shape[1], image.shape[2]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32),
                         indexing="ij")
    grid = tf.stack([xs, ys], axis=-1)[None]
    return bilinear_sample(image, grid + flow, border)
