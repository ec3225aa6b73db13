"""Pyramidal iterative Lucas-Kanade at points: the mathematics of ``cv2.calcOpticalFlowPyrLK``.

Per level, from the coarsest: the window of ``prev`` around each point and its Scharr gradients
are sampled once (bilinear, with OpenCV's 14-bit fixed-point weights and rounding); the 2x2
gradient matrix gives the minimum-eigenvalue test; then up to ``iterations`` Newton steps solve
the 2x2 system in closed form. A point stops when its step is shorter than ``epsilon``, or when
two steps cancel (it then goes back half a step), as in OpenCV. The result of a level, doubled,
starts the next. The steps are a ``tf.while_loop`` over the whole batch: points that stopped are
masked, and the loop ends when all have stopped or after ``iterations`` steps. It converts to
TFLite's built-in WHILE and compiles with XLA.

Borders as in OpenCV: intensities outside the image are reflect-101, gradients outside are 0;
a point whose window starts more than a window outside the image is not tracked.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model_graph.pyramid import build_pyramid, lk_levels, scharr_gradients
from model_graph.sampling import gather_pixels

W_BITS = 14
FLT_SCALE = 1.0 / (1 << 20)
FLT_EPSILON = float(np.finfo(np.float32).eps)


def _weights(frac_x: tf.Tensor, frac_y: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """OpenCV's integer bilinear weights, summing to 2^14, as int32 ``[B, N, 1]`` each."""
    one = tf.constant(float(1 << W_BITS))
    w00 = tf.round((1.0 - frac_x) * (1.0 - frac_y) * one)
    w01 = tf.round(frac_x * (1.0 - frac_y) * one)
    w10 = tf.round((1.0 - frac_x) * frac_y * one)
    w00, w01, w10 = (tf.cast(w, tf.int32)[..., None] for w in (w00, w01, w10))
    return w00, w01, w10, (1 << W_BITS) - w00 - w01 - w10


def _window(image: tf.Tensor, origin: tf.Tensor, offsets: tf.Tensor, shift: int,
            border: str) -> tuple[tf.Tensor, tf.Tensor]:
    """Fixed-point bilinear window of ``image [B, H, W(, C)]`` at float top-left ``origin [B, N, 2]``.

    Returns ``([B, N, K(, C)]`` int32 values descaled by ``shift`` bits with rounding, and the
    integer top-left ``[B, N, 2]``). ``offsets [K, 2]`` are the window's integer (x, y) offsets.
    """
    corner = tf.floor(origin)
    w00, w01, w10, w11 = _weights(origin[..., 0] - corner[..., 0], origin[..., 1] - corner[..., 1])
    icorner = tf.cast(corner, tf.int32)
    x = icorner[..., 0:1] + offsets[:, 0]
    y = icorner[..., 1:2] + offsets[:, 1]
    taps = [tf.cast(gather_pixels(image, x + dx, y + dy, border), tf.int32)
            for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1))]
    if len(image.shape) == 4:
        w00, w01, w10, w11 = (w[..., None] for w in (w00, w01, w10, w11))
    total = taps[0] * w00 + taps[1] * w01 + taps[2] * w10 + taps[3] * w11
    return tf.math.floordiv(total + (1 << (shift - 1)), 1 << shift), icorner


def _in_bounds(icorner: tf.Tensor, width: int, height: int, window: int) -> tf.Tensor:
    x, y = icorner[..., 0], icorner[..., 1]
    return (x >= -window) & (x < width) & (y >= -window) & (y < height)


def lucas_kanade(prev: tf.Tensor, next: tf.Tensor, points: tf.Tensor, *, window: int,
                 max_level: int, iterations: int, epsilon: float,
                 min_eigenvalue: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Track ``points [B, N, 2]`` (x, y) from ``prev`` to ``next`` (``[B, H, W]`` float, 0..255).

    Returns ``(next_points [B, N, 2] float32, status [B, N] bool)``. Parameters are OpenCV's:
    ``winSize = (window, window)``, ``maxLevel``, criteria ``(COUNT | EPS, iterations, epsilon)``,
    ``minEigThreshold``.
    """
    height, width = prev.shape[1], prev.shape[2]
    levels = lk_levels(min(height, width), window, max_level)
    iterations = min(max(iterations, 0), 100)
    eps2 = float(min(max(epsilon, 0.0), 10.0)) ** 2
    half = (window - 1) * 0.5
    grid = np.stack(np.meshgrid(np.arange(window), np.arange(window)), -1).reshape(-1, 2)
    offsets = tf.constant(grid, tf.int32)
    prev_pyr = build_pyramid(prev, levels)
    next_pyr = build_pyramid(next, levels)

    status = tf.ones(tf.shape(points)[:2], tf.bool)
    next_pts = points * (1.0 / (1 << levels))
    for level in range(levels, -1, -1):
        image, target = prev_pyr[level], next_pyr[level]
        h, w = image.shape[1], image.shape[2]
        if level < levels:
            next_pts = next_pts * 2.0
        prev_origin = points * (1.0 / (1 << level)) - half
        patch, icorner = _window(image, prev_origin, offsets, W_BITS - 5, "reflect101")
        grads, _ = _window(scharr_gradients(image), prev_origin, offsets, W_BITS, "zero")
        ix = tf.cast(grads[..., 0], tf.float32)
        iy = tf.cast(grads[..., 1], tf.float32)
        a11 = tf.reduce_sum(ix * ix, -1) * FLT_SCALE
        a12 = tf.reduce_sum(ix * iy, -1) * FLT_SCALE
        a22 = tf.reduce_sum(iy * iy, -1) * FLT_SCALE
        det = a11 * a22 - a12 * a12
        min_eig = (a22 + a11 - tf.sqrt((a11 - a22) ** 2 + 4.0 * a12 * a12)) / (2.0 * window * window)
        usable = _in_bounds(icorner, w, h, window) & (min_eig >= min_eigenvalue) & (det >= FLT_EPSILON)
        if level == 0:
            status = status & usable
        inv_det = 1.0 / tf.where(usable, det, 1.0)
        patch = tf.cast(patch, tf.float32)

        def keep_going(step, _origin, _next_pts, active, _status, _prev_delta):
            return (step < iterations) & tf.reduce_any(active)

        def newton_step(step, origin, next_pts, active, status, prev_delta):
            moved, inext = _window(target, origin, offsets, W_BITS - 5, "reflect101")
            inside = _in_bounds(inext, w, h, window)
            if level == 0:
                status = status & ~(active & ~inside)
            active = active & inside
            diff = tf.cast(moved, tf.float32) - patch
            b1 = tf.reduce_sum(diff * ix, -1) * FLT_SCALE
            b2 = tf.reduce_sum(diff * iy, -1) * FLT_SCALE
            delta = tf.stack([(a12 * b2 - a22 * b1) * inv_det, (a12 * b1 - a11 * b2) * inv_det], -1)
            step_mask = active[..., None]
            origin = tf.where(step_mask, origin + delta, origin)
            next_pts = tf.where(step_mask, origin + half, next_pts)
            converged = tf.reduce_sum(delta * delta, -1) <= eps2
            cancels = tf.reduce_all(tf.abs(delta + prev_delta) < 0.01, -1) & (step > 0)
            back = active & ~converged & cancels
            next_pts = tf.where(back[..., None], next_pts - delta * 0.5, next_pts)
            active = active & ~converged & ~cancels
            return step + 1, origin, next_pts, active, status, delta

        # A point that stopped is masked; the loop ends when every point of the batch stopped.
        state = (tf.constant(0), next_pts - half, next_pts, usable, status, tf.zeros_like(points))
        _, _, next_pts, _, status, _ = tf.while_loop(keep_going, newton_step, state)

    # OpenCV checks the final window once more at level 0 (it computes the error there).
    final_corner = tf.cast(tf.floor(next_pts - half), tf.int32)
    status = status & _in_bounds(final_corner, width, height, window)
    return next_pts, status
