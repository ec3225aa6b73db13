"""Dense Farneback flow on small patches: the mathematics of ``cv2.calcOpticalFlowFarneback``.

Single-level (the eye patches are below the 32 px at which OpenCV adds a pyramid level; see
:func:`farneback_levels`). Steps, as in OpenCV with ``flags = 0``:

1. both patches are smoothed by the 3x3 Gaussian ``[1 2 1]/4`` (reflect-101), which OpenCV applies
   to its finest level too;
2. polynomial expansion (Farneback 2003): Gaussian-weighted correlations of width
   ``2 * poly_n + 1``, replicate borders, solved with the closed-form inverse of the basis Gram
   matrix (a constant computed here in numpy) — two separable ``CONV_2D`` for both patches of the
   pair;
3. the 2x2 systems ``G d = h`` from the two expansions at the current flow (``R1`` sampled
   bilinearly, one gathered row of 2x2 neighbourhoods per pixel; outside the patch OpenCV's
   fallback), damped within 5 px of the border;
4. ``iterations`` times: box-average ``G`` and ``h`` over ``window`` x ``window`` (replicate
   borders; two products with :func:`box_filter`), solve ``d = G^-1 h`` in closed form
   (``det + 1e-3``), and rebuild the systems (a loop of a fixed count after the first solve).

From step 3 on, coefficients, systems and flow are *channels first* (``[N, C, H, W]``): a
channel is then a contiguous slice and the box mean's row pass a ``FULLY_CONNECTED``, which
TFLite's XNNPACK runs several times faster than the strided channel slices and broadcast batched
products of the channels-last layout.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model_graph.padding import pad

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


def smooth3(image: tf.Tensor) -> tf.Tensor:
    """``[N, H, W]`` smoothed by ``[1 2 1]/4`` both ways, reflect-101 borders (cv2.GaussianBlur 3x3)."""
    padded = pad(pad(image, 1, 1, 1, "reflect101"), 2, 1, 1, "reflect101")[..., None]
    k = np.array([0.25, 0.5, 0.25], np.float32)
    kernel = tf.constant(np.outer(k, k)[:, :, None, None])
    return tf.nn.conv2d(padded, kernel, 1, "VALID")[..., 0]


def poly_expansion(image: tf.Tensor, n: int, sigma: float) -> tf.Tensor:
    """``[N, H, W, 5]`` coefficients ``(r_y, r_x, r_yy, r_xx, r_xy)`` of ``[N, H, W]`` float images
    (OpenCV's channel order in ``FarnebackPolyExp``).

    OpenCV's separable correlations with replicate borders, as two ``CONV_2D`` of the image padded
    by replication on both axes: along rows with ``g, x g, x^2 g`` (three channels), then down
    the columns with kernels that mix those channels into the five coefficients (the inverse Gram
    matrix folded in).
    """
    g, xg, xxg, (ig11, ig03, ig33, ig55) = poly_kernels(n, sigma)
    across = np.stack([g, xg, xxg], -1)[None, :, None, :]                 # [1, 2n+1, 1, 3]
    down = np.zeros((2 * n + 1, 1, 3, 5), np.float32)        # [dy, 1, (g, xg, xxg), coefficient]
    down[:, 0, 0, 0] = ig11 * xg                              # r_y:  x g down, g across
    down[:, 0, 1, 1] = ig11 * g                               # r_x:  g down, x g across
    down[:, 0, 0, 2] = ig03 * g + ig33 * xxg                  # r_yy
    down[:, 0, 0, 3] = ig03 * g                               # r_xx: g down, g and x^2 g across
    down[:, 0, 2, 3] = ig33 * g
    down[:, 0, 1, 4] = ig55 * xg                              # r_xy: x g down, x g across
    padded = pad(pad(image[..., None], 1, n, n, "replicate"), 2, n, n, "replicate")
    rows = tf.nn.conv2d(padded, tf.constant(across.astype(np.float32)), 1, "VALID")
    return tf.nn.conv2d(rows, tf.constant(down), 1, "VALID")


def _border_damping(height: int, width: int) -> np.ndarray:
    def ramp(size: int) -> np.ndarray:
        r = np.ones(size, np.float32)
        k = min(len(_BORDER_DAMPING), size)
        r[:k] *= _BORDER_DAMPING[:k]
        r[size - k:] *= _BORDER_DAMPING[:k][::-1]
        return r
    return np.outer(ramp(height), ramp(width))[None, None]


def _neighbourhoods(r1: tf.Tensor) -> tf.Tensor:
    """``[N * (H-1) * (W-1), 20]``: the 2x2 neighbourhood of each pixel of ``r1 [N, H, W, 5]``
    (top-left, top-right, bottom-left, bottom-right), so a bilinear sample is one gathered row."""
    quads = tf.concat([r1[:, :-1, :-1], r1[:, :-1, 1:], r1[:, 1:, :-1], r1[:, 1:, 1:]], -1)
    return tf.reshape(quads, [-1, 4 * r1.shape[-1]])


def _sample(quads: tf.Tensor, height: int, width: int, flow: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Bilinear samples ``[N, 5, H, W]`` of the expansion behind ``quads`` at ``pixel + flow [N, 2,
    H, W]``, and ``[N, 1, H, W]`` 1.0 where the sample's 2x2 neighbourhood lies inside the patch
    (elsewhere the sample is not used), else 0.0."""
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32),
                                np.arange(height, dtype=np.float32)))[None]     # (x, y) first
    where = grid + flow
    corner = tf.floor(where)
    last = np.array([width - 2.0, height - 2.0], np.float32).reshape(2, 1, 1)   # last 2x2 corner
    margin = tf.minimum(corner + 1.0, last + 1.0 - corner)              # >= 1 inside
    inside = tf.clip_by_value(tf.reduce_min(margin, 1, keepdims=True), 0.0, 1.0)
    clipped = tf.clip_by_value(corner, 0.0, last)
    image = tf.reshape(tf.range(tf.shape(flow)[0]) * ((height - 1) * (width - 1)), [-1, 1, 1])
    index = image + tf.cast(clipped[:, 0] + clipped[:, 1] * (width - 1.0), tf.int32)  # [N, H, W]
    taps = tf.gather(quads, index)                     # [N, H, W, 20]: top-left, -right, bottom-..
    frac = where - corner
    ax, ay = frac[:, 0, :, :, None], frac[:, 1, :, :, None]                    # [N, H, W, 1]
    columns = taps[..., :10] + (taps[..., 10:] - taps[..., :10]) * ay          # left, right
    sampled = columns[..., :5] + (columns[..., 5:] - columns[..., :5]) * ax
    return tf.transpose(sampled, [0, 3, 1, 2]), inside


#: Per channel of ``(r_y, r_x, r_yy, r_xx, r_xy)``: OpenCV's update mixes the expansion of
#: ``prev`` (``r0``) and the sample of ``next``'s (``r1``) as ``keep * r0`` outside the patch and
#: ``keep * r0 + take * r1 + drop * r0`` inside: ``(r0 - r1) / 2`` for the linear terms, the mean
#: of the quadratic ones, the mixed term halved.
_KEEP = np.array([0.5, 0.5, 1.0, 1.0, 0.5], np.float32)
_TAKE = np.array([-0.5, -0.5, 0.5, 0.5, 0.25], np.float32)
_DROP = np.array([0.0, 0.0, -0.5, -0.5, -0.25], np.float32)


def update_matrices(r0: tf.Tensor, sampled: tf.Tensor, inside: tf.Tensor | np.ndarray,
                    flow: tf.Tensor | None) -> tf.Tensor:
    """``[N, 5, H, W]`` systems ``(G11, G12, G22, h1, h2)`` from the expansion ``r0 [N, 5, H, W]``
    of ``prev`` and that of ``next`` sampled at ``pixel + flow [N, 2, H, W]`` (``inside [N, 1, H,
    W]``: 1.0 where OpenCV's test puts the sample within the patch, else 0.0; ``flow`` None: zero
    flow)."""
    height, width = r0.shape[2], r0.shape[3]
    channels = [5, 1, 1]
    mixed = (r0 * _KEEP.reshape(channels) + inside * (sampled * _TAKE.reshape(channels)
                                                      + r0 * _DROP.reshape(channels)))
    r2, r3, r4, r5, r6 = tf.split(mixed * _border_damping(height, width), 5, 1)
    if flow is not None:
        dx, dy = flow[:, 0:1], flow[:, 1:2]
        r2 = r2 + r4 * dy + r6 * dx
        r3 = r3 + r6 * dy + r5 * dx
    return tf.concat([r4 * r4 + r6 * r6, (r4 + r5) * r6, r5 * r5 + r6 * r6, r4 * r2 + r6 * r3,
                      r6 * r2 + r5 * r3], 1)


def box_filter(size: int, window: int) -> np.ndarray:
    """``[size, size]`` float32 ``B`` such that ``B @ x`` is the mean of ``x`` over ``window``
    neighbours along its first axis with replicate borders: ``B[i, j]`` is the share of the taps
    ``i - window // 2 .. i + window // 2``, clamped into ``0 .. size - 1``, that land on ``j``."""
    half = window // 2
    taps = np.clip(np.arange(size)[:, None] + np.arange(-half, half + 1), 0, size - 1)
    weights = np.zeros((size, size), np.float64)
    np.add.at(weights, (np.repeat(np.arange(size), window), taps.ravel()), 1.0 / window)
    return weights.astype(np.float32)


def _box_mean(matrices: tf.Tensor, window: int) -> tf.Tensor:
    """Mean over ``window`` x ``window`` (replicate borders) of ``[N, C, H, W]``: along the rows
    (a product with the transposed :func:`box_filter` on the last axis), then, transposed, down
    the columns."""
    height, width = matrices.shape[2], matrices.shape[3]
    across = tf.transpose(tf.matmul(matrices, box_filter(width, window).T), [0, 1, 3, 2])
    return tf.transpose(tf.matmul(across, box_filter(height, window).T), [0, 1, 3, 2])


def solve_flow(matrices: tf.Tensor, window: int) -> tf.Tensor:
    """``[N, 2, H, W]`` flow from box-averaged systems ``[N, 5, H, W]`` (closed-form 2x2 solve,
    ``det + 1e-3``)."""
    g11, g12, g22, h1, h2 = tf.split(_box_mean(matrices, window), 5, 1)
    inv_det = 1.0 / (g11 * g22 - g12 * g12 + 1e-3)
    return tf.concat([(g11 * h2 - g12 * h1) * inv_det, (g22 * h1 - g12 * h2) * inv_det], 1)


def farneback(prev: tf.Tensor, next: tf.Tensor, *, window: int, iterations: int, poly_n: int,
              poly_sigma: float) -> tf.Tensor:
    """Dense flow ``[N, H, W, 2]`` (dx, dy) from ``prev`` to ``next`` (``[N, H, W]`` float, 0..255)."""
    height, width = prev.shape[1], prev.shape[2]
    both = poly_expansion(smooth3(tf.concat([prev, next], 0)), poly_n, poly_sigma)
    # Channels first by a stack, not a transpose: TensorFlow 2.21's converter merges equal
    # transpose permutations inside and outside a loop into one it then cannot place.
    r0, r1 = tf.split(tf.stack(tf.unstack(both, axis=-1), 1), 2, 0)            # [N, 5, H, W]
    quads = _neighbourhoods(tf.split(both, 2, 0)[1])

    def iterate(i, flow):
        return i + 1, solve_flow(update_matrices(r0, *_sample(quads, height, width, flow), flow),
                                 window)

    # From zero flow (the first samples are r1 itself; outside the last 2x2 corner OpenCV's
    # fallback), a loop of a fixed count: one copy of the update in the graph. The zeros come
    # from r0 so that the converter does not store them as a constant in the file.
    _, flow = tf.while_loop(lambda i, _: i < iterations, iterate,
                            (tf.constant(0), r0[:, :2] * 0.0), maximum_iterations=iterations)
    return tf.stack([flow[:, 0], flow[:, 1]], -1)
