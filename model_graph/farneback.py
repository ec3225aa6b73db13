"""Dense Farneback flow on small patches: the mathematics of ``cv2.calcOpticalFlowFarneback``.

Single-level (the eye patches are below the 32 px at which OpenCV adds a pyramid level; see
:func:`farneback_levels`). Steps, as in OpenCV with ``flags = 0``:

1. both patches are smoothed by the 3x3 Gaussian ``[1 2 1]/4`` (reflect-101), which OpenCV applies
   to its finest level too;
2. polynomial expansion (Farneback 2003): Gaussian-weighted correlations of width
   ``2 * poly_n + 1``, replicate borders, solved with the closed-form inverse of the basis Gram
   matrix. Steps 1 and 2 are linear and separable: one constant matrix (:func:`expansion_matrix`,
   borders and smoothing folded in) applied down the columns and then along the rows, two
   ``FULLY_CONNECTED`` for both patches of the pair;
3. the 2x2 systems ``G d = h`` from the two expansions at the current flow (``R1`` sampled
   bilinearly, one gathered row of 2x2 neighbourhoods per pixel; outside the patch OpenCV's
   fallback), damped within 5 px of the border;
4. box-average ``G`` and ``h`` over ``window`` x ``window`` (replicate borders; two products with
   :func:`box_filter`), solve ``d = G^-1 h`` in closed form (``det + 1e-3``); steps 3-4 run
   ``iterations`` times from zero flow, as a loop (one copy of the update in the graph).

Coefficients, systems and flow are *channels first* (``[N, C, H, W]``): a channel is then a
contiguous slice and every pass of a constant matrix a ``FULLY_CONNECTED`` on the last axis,
which TFLite's XNNPACK runs several times faster than the strided channel slices, small
convolutions and broadcast batched products of a channels-last layout.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


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


def correlation_matrix(size: int, taps: np.ndarray, border: str) -> np.ndarray:
    """``[size, size]`` float64 ``M`` such that ``M @ x`` correlates ``x`` (along its first axis)
    with the odd-length ``taps`` centred on each sample, with ``border`` (``reflect101`` or
    ``replicate``): ``M[i, j]`` sums the taps that land on ``j`` once the border folds them in."""
    half = len(taps) // 2
    reach = np.arange(size)[:, None] + np.arange(-half, half + 1)            # [size, taps]
    if border == "replicate":
        reach = np.clip(reach, 0, size - 1)
    else:                                      # reflect-101 (taps shorter than the signal)
        reach = np.abs(reach)
        reach = np.where(reach > size - 1, 2 * (size - 1) - reach, reach)
    matrix = np.zeros((size, size))
    np.add.at(matrix, (np.repeat(np.arange(size), len(taps)), reach.ravel()),
              np.tile(np.asarray(taps, np.float64), size))
    return matrix


def expansion_matrix(size: int, n: int, sigma: float) -> tuple[np.ndarray, float]:
    """The polynomial expansion of a ``size`` x ``size`` patch (after the 3x3 ``[1 2 1]/4``
    smoothing with reflect-101 borders) as passes of one constant matrix: ``[size, 3 * size]``
    float32, the transposed correlations ``g``, ``ig11 x g`` and ``ig03 g + ig33 x^2 g``
    (replicate borders, smoothing folded in), side by side; and the factor that takes the
    ``x g``-by-``x g`` product to ``r_xy`` (``ig55 / ig11^2``)."""
    g, xg, xxg, (ig11, ig03, ig33, ig55) = poly_kernels(n, sigma)
    smooth = correlation_matrix(size, np.array([0.25, 0.5, 0.25]), "reflect101")
    corr = [correlation_matrix(size, taps.astype(np.float64), "replicate") @ smooth
            for taps in (g, xg, xxg)]
    passes = (corr[0], ig11 * corr[1], ig03 * corr[0] + ig33 * corr[2])
    return np.concatenate([m.T for m in passes], 1).astype(np.float32), ig55 / ig11 ** 2


def poly_expansion(image: tf.Tensor, n: int, sigma: float) -> tf.Tensor:
    """``[N, 5, H, W]`` coefficients ``(r_y, r_x, r_yy, r_xx, r_xy)`` (OpenCV's order in
    ``FarnebackPolyExp``) of ``[N, S, S]`` float patches, after OpenCV's 3x3 smoothing.

    Both separable passes with their borders (reflect-101 smoothing, replicate correlations) are
    products with the matrix of :func:`expansion_matrix`, each one ``FULLY_CONNECTED``: the
    three passes down the columns of the transposed patch, then the three along the rows of each
    result; five of the nine products are the coefficients.
    """
    size = image.shape[1]
    passes, xy_factor = expansion_matrix(size, n, sigma)
    down = tf.matmul(tf.transpose(image, [0, 2, 1]), passes)                  # [N, W, 3H]
    down = tf.transpose(tf.reshape(down, [-1, size, 3, size]), [0, 2, 3, 1])   # [N, 3, H, W]
    both = tf.reshape(tf.matmul(down, passes), [-1, 3, size, 3, size])  # [N, down, H, across, W]
    products = tf.reshape(tf.transpose(both, [0, 1, 3, 2, 4]), [-1, 9, size, size])
    # Product (down, across) is plane 3 x down + across: r_y (1, 0), r_x (0, 1), r_yy (2, 0),
    # r_xx (0, 2), r_xy (1, 1); whole planes, since slices of a few floats are slow in XNNPACK.
    coefficients = tf.concat([products[:, i:i + 1] for i in (3, 1, 6, 2, 4)], 1)
    return coefficients * np.array([1.0, 1.0, 1.0, 1.0, xy_factor], np.float32).reshape(1, 5, 1, 1)


def _border_damping(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's damping of the systems within 5 px of the border: ``[1, 1, H, 1]`` down the
    columns and ``[1, 1, 1, W]`` along the rows (their product is the damping)."""
    def ramp(size: int) -> np.ndarray:
        r = np.ones(size, np.float32)
        k = min(len(_BORDER_DAMPING), size)
        r[:k] *= _BORDER_DAMPING[:k]
        r[size - k:] *= _BORDER_DAMPING[:k][::-1]
        return r
    return ramp(height).reshape(1, 1, -1, 1), ramp(width).reshape(1, 1, 1, -1)


def _neighbourhoods(r1: tf.Tensor) -> tf.Tensor:
    """``[N * (H-1) * (W-1), 20]``: the 2x2 neighbourhood of each pixel of ``r1 [N, 5, H, W]``
    (top-left, top-right, bottom-left, bottom-right, 5 channels each), so a bilinear sample is
    one gathered row. Shifted planes side by side, then one transpose: a concatenation of
    5-float pieces along the last axis is slow in XNNPACK."""
    quads = tf.concat([r1[:, :, :-1, :-1], r1[:, :, :-1, 1:], r1[:, :, 1:, :-1], r1[:, :, 1:, 1:]], 1)
    return tf.reshape(tf.transpose(quads, [0, 2, 3, 1]), [-1, 4 * r1.shape[1]])


def _sample(quads: tf.Tensor, height: int, width: int, flow: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Bilinear samples ``[N, 5, H, W]`` of the expansion behind ``quads`` at ``pixel + flow [N, 2,
    H, W]``, and ``[N, 1, H, W]`` 1.0 where the sample's 2x2 neighbourhood lies inside the patch
    (elsewhere the sample is not used), else 0.0. The gathered neighbourhoods are transposed so
    that the interpolation slices whole planes: slices of a few floats per pixel (and
    ``x[:, 0]``-style ones) are slow in XNNPACK."""
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32),
                                np.arange(height, dtype=np.float32)))[None]     # (x, y) first
    where = grid + flow
    corner = tf.floor(where)
    last = np.array([width - 2.0, height - 2.0], np.float32).reshape(2, 1, 1)   # last 2x2 corner
    margin = tf.minimum(corner + 1.0, last + 1.0 - corner)              # >= 1 inside
    inside = tf.clip_by_value(tf.minimum(margin[:, 0:1], margin[:, 1:2]), 0.0, 1.0)
    clipped = tf.clip_by_value(corner, 0.0, last)
    image = tf.reshape(tf.range(tf.shape(flow)[0]) * ((height - 1) * (width - 1)), [-1, 1, 1, 1])
    index = image + tf.cast(clipped[:, 0:1] + clipped[:, 1:2] * (width - 1.0), tf.int32)
    taps = tf.transpose(tf.gather(quads, tf.reshape(index, [-1])))     # [20, N*H*W]: top-left, ..
    frac = tf.reshape(tf.transpose(where - corner, [1, 0, 2, 3]), [2, -1])      # [2, N*H*W]
    ax, ay = frac[0:1], frac[1:2]
    columns = taps[:10] + (taps[10:] - taps[:10]) * ay                         # left, right
    sampled = columns[:5] + (columns[5:] - columns[:5]) * ax                   # [5, N*H*W]
    # A permutation no op outside the update loop uses: TensorFlow 2.21's converter merges equal
    # transpose permutations inside and outside a loop and then cannot place the one it keeps.
    return tf.transpose(tf.reshape(sampled, [5, -1, height, width]), [1, 0, 2, 3]), inside


#: Per channel of ``(r_y, r_x, r_yy, r_xx, r_xy)``: OpenCV's update mixes the expansion of
#: ``prev`` (``r0``) and the sample of ``next``'s (``r1``) as ``keep * r0`` outside the patch and
#: ``keep * r0 + take * r1 + drop * r0`` inside: ``(r0 - r1) / 2`` for the linear terms, the mean
#: of the quadratic ones, the mixed term halved.
_KEEP = np.array([0.5, 0.5, 1.0, 1.0, 0.5], np.float32)
_TAKE = np.array([-0.5, -0.5, 0.5, 0.5, 0.25], np.float32)
_DROP = np.array([0.0, 0.0, -0.5, -0.5, -0.25], np.float32)


def update_matrices(r0: tf.Tensor, sampled: tf.Tensor, inside: tf.Tensor,
                    flow: tf.Tensor) -> tf.Tensor:
    """``[N, 5, H, W]`` systems ``(G11, G12, G22, h1, h2)`` from the expansion ``r0 [N, 5, H, W]``
    of ``prev`` and that of ``next`` sampled at ``pixel + flow [N, 2, H, W]`` (``inside [N, 1, H,
    W]``: 1.0 where OpenCV's test puts the sample within the patch, else 0.0)."""
    height, width = r0.shape[2], r0.shape[3]
    channels = [5, 1, 1]
    mixed = (r0 * _KEEP.reshape(channels) + inside * (sampled * _TAKE.reshape(channels)
                                                      + r0 * _DROP.reshape(channels)))
    down, across = _border_damping(height, width)
    r2, r3, r4, r5, r6 = tf.split(mixed * down * across, 5, 1)
    dx, dy = flow[:, 0:1], flow[:, 1:2]
    r2 = r2 + r4 * dy + r6 * dx
    r3 = r3 + r6 * dy + r5 * dx
    return tf.concat([r4 * r4 + r6 * r6, (r4 + r5) * r6, r5 * r5 + r6 * r6, r4 * r2 + r6 * r3,
                      r6 * r2 + r5 * r3], 1)


def box_filter(size: int, window: int) -> np.ndarray:
    """``[size, size]`` float32 ``B`` such that ``B @ x`` is the mean of ``x`` over ``window``
    neighbours along its first axis with replicate borders."""
    return correlation_matrix(size, np.full(window, 1.0 / window), "replicate").astype(np.float32)


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
    if height != width:
        raise ValueError(f"farneback takes square patches, got {height} x {width}")
    r0, r1 = tf.split(poly_expansion(tf.concat([prev, next], 0), poly_n, poly_sigma), 2, 0)
    quads = _neighbourhoods(r1)

    def iterate(i, flow):
        return i + 1, solve_flow(update_matrices(r0, *_sample(quads, height, width, flow), flow),
                                 window)

    # From zero flow (the first samples are r1 itself; outside the last 2x2 corner OpenCV's
    # fallback), a loop of a fixed count: one copy of the update in the graph. The zeros come
    # from r0 so that the converter does not store them as a constant in the file.
    _, flow = tf.while_loop(lambda i, _: i < iterations, iterate,
                            (tf.constant(0), r0[:, :2] * 0.0), maximum_iterations=iterations)
    return tf.transpose(flow, [0, 2, 3, 1])
