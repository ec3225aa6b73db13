"""Dense Farneback flow on small patches: the mathematics of ``cv2.calcOpticalFlowFarneback``.

Single-level (the eye patches are below the 32 px at which OpenCV adds a pyramid level; see
:func:`farneback_levels`). Steps, as in OpenCV with ``flags = 0``:

1. both patches are smoothed by the 3x3 Gaussian ``[1 2 1]/4`` (reflect-101), which OpenCV applies
   to its finest level too;
2. polynomial expansion (Farneback 2003): six Gaussian-weighted separable correlations of width
   ``2 * poly_n + 1``, replicate borders, solved with the closed-form inverse of the basis Gram
   matrix (a constant computed here in numpy);
3. the 2x2 systems ``G d = h`` from the two expansions at the current flow (``R1`` sampled
   bilinearly; outside the patch OpenCV's fallback), damped within 5 px of the border;
4. ``iterations`` times: box-average ``G`` and ``h`` over ``window`` x ``window`` (replicate
   borders), solve ``d = G^-1 h`` in closed form (``det + 1e-3``), and rebuild the systems.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model_graph.sampling import gather_pixels

_BORDER_DAMPING = np.array([0.14, 0.14, 0.4472, 0.4472, 0.4472], np.float32)
MIN_LEVEL_SIZE = 32


def farneback_levels(size: int, pyr_scale: float, levels: int) -> int:
    """Index of the coarsest level OpenCV really uses for a ``size`` px image (0 = one level)."""
    scale, used = 1.0, 0
    while used < levels:
        scale *= pyr_scale
        if size * scale < MIN_LEVEL_SIZE:
            break
        used += 1
    return used


def poly_kernels(n: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """``g, x g, x^2 g`` (float32, ``2n+1`` taps) and ``(ig11, ig03, ig33, ig55)`` of the inverse
    Gram matrix of the basis ``1, x, y, x^2, y^2, xy`` under the weight ``g(x) g(y)``."""
    if sigma < np.finfo(np.float32).eps:
        sigma = n * 0.3
    x = np.arange(-n, n + 1, dtype=np.float64)
    g = np.exp(-x * x / (2 * sigma * sigma))
    g = (g / g.sum()).astype(np.float32)
    xg, xxg = (x * g).astype(np.float32), (x * x * g).astype(np.float32)
    gy, gx = np.meshgrid(g.astype(np.float64), g.astype(np.float64), indexing="ij")
    yy, xx = np.meshgrid(x, x, indexing="ij")
    w = gy * gx
    gram = np.zeros((6, 6))
    gram[0, 0] = w.sum()
    gram[1, 1] = gram[2, 2] = gram[0, 3] = gram[0, 4] = gram[3, 0] = gram[4, 0] = (w * xx**2).sum()
    gram[3, 3] = gram[4, 4] = (w * xx**4).sum()
    gram[5, 5] = gram[3, 4] = gram[4, 3] = (w * xx**2 * yy**2).sum()
    inv = np.linalg.inv(gram)
    return g, xg, xxg, (inv[1, 1], inv[0, 3], inv[3, 3], inv[5, 5])


def _clamped(image: tf.Tensor, axis: int, pad: int) -> tf.Tensor:
    """``image [N, H, W, C]`` padded by ``pad`` along ``axis`` (1 or 2) replicating the edge."""
    size = image.shape[axis]
    index = np.clip(np.arange(-pad, size + pad), 0, size - 1)
    return tf.gather(image, index, axis=axis)


def _correlate(image: tf.Tensor, taps: np.ndarray, axis: int) -> tf.Tensor:
    """1-D correlation of ``[N, H, W, C]`` (each channel alike) along ``axis``, replicate borders."""
    pad = len(taps) // 2
    padded = _clamped(image, axis, pad)
    channels = image.shape[-1]
    shape = (len(taps), 1) if axis == 1 else (1, len(taps))
    kernel = np.tile(taps.reshape(*shape, 1, 1), (1, 1, channels, 1)).astype(np.float32)
    return tf.nn.depthwise_conv2d(padded, tf.constant(kernel), [1, 1, 1, 1], "VALID")


def smooth3(image: tf.Tensor) -> tf.Tensor:
    """``[N, H, W]`` smoothed by ``[1 2 1]/4`` both ways, reflect-101 borders (cv2.GaussianBlur 3x3)."""
    padded = tf.pad(image, [[0, 0], [1, 1], [1, 1]], mode="REFLECT")[..., None]
    k = np.array([0.25, 0.5, 0.25], np.float32)
    kernel = tf.constant(np.outer(k, k)[:, :, None, None])
    return tf.nn.conv2d(padded, kernel, 1, "VALID")[..., 0]


def poly_expansion(image: tf.Tensor, n: int, sigma: float) -> tf.Tensor:
    """``[N, H, W, 5]`` coefficients ``(r_y, r_x, r_yy, r_xx, r_xy)`` of ``[N, H, W]`` float images
    (OpenCV's channel order in ``FarnebackPolyExp``)."""
    g, xg, xxg, (ig11, ig03, ig33, ig55) = poly_kernels(n, sigma)
    image = image[..., None]
    rows = tf.concat([_correlate(image, k, axis=1) for k in (g, xg, xxg)], -1)  # t0, t1, t2
    t0, t1, t2 = rows[..., 0:1], rows[..., 1:2], rows[..., 2:3]
    b1 = _correlate(t0, g, 2)
    b2 = _correlate(t0, xg, 2)
    b3 = _correlate(t1, g, 2)
    b4 = _correlate(t0, xxg, 2)
    b5 = _correlate(t2, g, 2)
    b6 = _correlate(t1, xg, 2)
    return tf.concat([b3 * ig11, b2 * ig11, b1 * ig03 + b5 * ig33, b1 * ig03 + b4 * ig33,
                      b6 * ig55], -1)


def _border_damping(height: int, width: int) -> np.ndarray:
    def ramp(size: int) -> np.ndarray:
        r = np.ones(size, np.float32)
        k = min(len(_BORDER_DAMPING), size)
        r[:k] *= _BORDER_DAMPING[:k]
        r[size - k:] *= _BORDER_DAMPING[:k][::-1]
        return r
    return np.outer(ramp(height), ramp(width))[None, :, :, None]


def update_matrices(r0: tf.Tensor, r1: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """``[N, H, W, 5]`` systems ``(G11, G12, G22, h1, h2)`` from expansions ``r0, r1`` at ``flow``."""
    height, width = r0.shape[1], r0.shape[2]
    ys, xs = np.meshgrid(np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32),
                         indexing="ij")
    fx = xs[None] + flow[..., 0]
    fy = ys[None] + flow[..., 1]
    x1f, y1f = tf.floor(fx), tf.floor(fy)
    ax, ay = (fx - x1f)[..., None], (fy - y1f)[..., None]
    x1, y1 = tf.cast(x1f, tf.int32), tf.cast(y1f, tf.int32)
    inside = ((x1 >= 0) & (x1 < width - 1) & (y1 >= 0) & (y1 < height - 1))[..., None]
    taps = [gather_pixels(r1, x1 + dx, y1 + dy, "replicate") for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1))]
    sampled = ((1 - ax) * (1 - ay) * taps[0] + ax * (1 - ay) * taps[1] + (1 - ax) * ay * taps[2]
               + ax * ay * taps[3])
    r2 = tf.where(inside[..., 0], sampled[..., 0], 0.0)
    r3 = tf.where(inside[..., 0], sampled[..., 1], 0.0)
    r4 = tf.where(inside[..., 0], (r0[..., 2] + sampled[..., 2]) * 0.5, r0[..., 2])
    r5 = tf.where(inside[..., 0], (r0[..., 3] + sampled[..., 3]) * 0.5, r0[..., 3])
    r6 = tf.where(inside[..., 0], (r0[..., 4] + sampled[..., 4]) * 0.25, r0[..., 4] * 0.5)
    dx, dy = flow[..., 0], flow[..., 1]
    r2 = (r0[..., 0] - r2) * 0.5 + r4 * dy + r6 * dx
    r3 = (r0[..., 1] - r3) * 0.5 + r6 * dy + r5 * dx
    damping = tf.constant(_border_damping(height, width)[..., 0])
    r2, r3, r4, r5, r6 = (r * damping for r in (r2, r3, r4, r5, r6))
    return tf.stack([r4 * r4 + r6 * r6, (r4 + r5) * r6, r5 * r5 + r6 * r6, r4 * r2 + r6 * r3,
                     r6 * r2 + r5 * r3], -1)


def _box_mean(matrices: tf.Tensor, window: int) -> tf.Tensor:
    pad = window // 2
    padded = _clamped(_clamped(matrices, 1, pad), 2, pad)
    return tf.nn.avg_pool2d(padded, window, 1, "VALID")


def solve_flow(matrices: tf.Tensor, window: int) -> tf.Tensor:
    """``[N, H, W, 2]`` flow from box-averaged systems (closed-form 2x2 solve, ``det + 1e-3``)."""
    m = _box_mean(matrices, window)
    g11, g12, g22, h1, h2 = (m[..., i] for i in range(5))
    inv_det = 1.0 / (g11 * g22 - g12 * g12 + 1e-3)
    return tf.stack([(g11 * h2 - g12 * h1) * inv_det, (g22 * h1 - g12 * h2) * inv_det], -1)


def farneback(prev: tf.Tensor, next: tf.Tensor, *, window: int, iterations: int, poly_n: int,
              poly_sigma: float) -> tf.Tensor:
    """Dense flow ``[N, H, W, 2]`` (dx, dy) from ``prev`` to ``next`` (``[N, H, W]`` float, 0..255)."""
    r0 = poly_expansion(smooth3(prev), poly_n, poly_sigma)
    r1 = poly_expansion(smooth3(next), poly_n, poly_sigma)
    flow = tf.zeros(tf.concat([tf.shape(prev), [2]], 0), tf.float32)
    matrices = update_matrices(r0, r1, flow)
    for i in range(iterations):
        flow = solve_flow(matrices, window)
        if i < iterations - 1:
            matrices = update_matrices(r0, r1, flow)
    return flow
