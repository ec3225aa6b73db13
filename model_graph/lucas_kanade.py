"""Pyramidal iterative Lucas-Kanade at points, in float: the method of ``cv2.calcOpticalFlowPyrLK``
with a fixed number of Newton steps, from ops that TFLite's XNNPACK and XLA run well.

Per level, from the coarsest, for each point:

1. the window of ``prev`` around the point (plus a one-pixel ring) is read as ``window + 3`` rows
   of a *strip table* (row ``y``, column ``x`` holds the ``window + 3`` pixels ``x..x+window+2`` of
   row ``y``), so a window costs ``window + 3`` gathered rows rather than hundreds of pixels;
2. bilinear interpolation at the point's sub-pixel offset, and the 3x3 Scharr derivatives at the
   window's pixels (0 outside the image, as in OpenCV) interpolated likewise, are small matrices
   on the left and right of that window (``L @ V @ R``, batched matrix products);
3. the 2x2 gradient matrix gives OpenCV's minimum-eigenvalue and determinant tests, and folds into
   a projection ``P = -A^-1 G`` so that each Newton step is one table gather, two interpolation
   products and ``P @ window``;
4. :data:`STEPS_FINEST` steps at full resolution and :data:`STEPS_COARSER` at each coarser level
   (never more than ``iterations``). OpenCV's stopping rules apply as masks: a point stops when its
   step is shorter than ``epsilon``, or when two steps cancel (it then goes back half a step).

The result of a level, doubled, starts the next. Borders as in OpenCV: intensities outside the
image are reflect-101, derivatives outside are 0; a point whose window starts more than a window
outside the image is not tracked. OpenCV rounds its windows to 14-bit fixed point; this module
does not, which moves the flow by far less than SPEC's budget (``liveness parity`` measures it).
Why these choices: ``docs/decisions.md`` ("Lucas-Kanade in float").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from model_graph.padding import pad
from model_graph.pyramid import build_pyramid

#: Newton steps at level 0 and at each coarser level. On 420 pairs of the shared clips (forward
#: LK at 117 points vs OpenCV's 20 per level): 5/1 left 1 % of points more than 6 px off and
#: changed 3.3 % of the motion cue's pair decisions; 5/3 changes 1.7 %, 20/20 0.5 % (the rest is
#: OpenCV's 14-bit rounding). docs/decisions.md, "Lucas-Kanade in float".
STEPS_FINEST = 5
STEPS_COARSER = 3
FLT_SCALE = 1.0 / (1 << 20)
FLT_EPSILON = float(np.finfo(np.float32).eps)
#: OpenCV's windows hold intensities x 32 (``W_BITS1 - 5``); its steps carry that factor.
_INTENSITY_SCALE = 32.0


@dataclass(frozen=True)
class StripPyramid:
    """The pyramids of ``K`` images as one strip table.

    ``table [R, window + 3]`` float32: for level ``l``, row ``bases[l] + (k * rows[l] + r) *
    columns[l] + c`` holds the ``window + 3`` pixels of image ``k``'s reflect-101 padded row ``r``
    from column ``c``; padded row/column 0 is image row/column ``-(window + 1)``. ``sizes[l]`` is
    the level's ``(width, height)``. One table lets the windows of every level be read at once.
    """

    table: tf.Tensor
    bases: tuple[tf.Tensor, ...]
    rows: tuple[int, ...]
    columns: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]
    window: int

    @property
    def levels(self) -> int:
        """The highest level (0 = no pyramid)."""
        return len(self.rows) - 1


def strip_pyramid(images: tf.Tensor, levels: int, window: int) -> StripPyramid:
    """The strip tables of ``levels + 1`` pyramid levels of ``images [K, H, W]`` float (0..255)."""
    strip = window + 3
    tables, bases, rows, columns, sizes = [], [], [], [], []
    base = tf.constant(0)
    for image in build_pyramid(images, levels):
        padded = pad(pad(image, 1, window + 1, window + 1, "reflect101"),
                     2, window + 1, window + 2, "reflect101")
        width = padded.shape[2] - strip + 1
        # Stacking along a middle axis copies whole rows (fast); one transpose puts strips last.
        shifted = tf.stack([padded[:, :, k:k + width] for k in range(strip)], 2)
        tables.append(tf.reshape(tf.transpose(shifted, [0, 1, 3, 2]), [-1, strip]))
        bases.append(base)
        base = base + tf.shape(tables[-1])[0]
        rows.append(padded.shape[1])
        columns.append(width)
        sizes.append((image.shape[2], image.shape[1]))
    return StripPyramid(tf.concat(tables, 0), tuple(bases), tuple(rows), tuple(columns),
                        tuple(sizes), window)


def _shifts(rows: int, columns: int, shift: int) -> np.ndarray:
    """``[rows, columns]`` float32 with ones at ``(i, i + shift)``."""
    return np.eye(rows, columns, shift, dtype=np.float32)


#: Step functions in float arithmetic. TFLite's XNNPACK delegate runs float ops but no
#: comparisons or logic; every op it cannot run splits the graph and runs alone, so the tests of
#: the Newton steps are written as ``clip(ceil(difference x 2^64), 0, 1)``.
_STEEP = float(2.0 ** 64)


def _below(value: tf.Tensor, bound) -> tf.Tensor:
    """1.0 where ``value < bound``, else 0.0."""
    return tf.clip_by_value(tf.math.ceil((bound - value) * _STEEP), 0.0, 1.0)


def _at_most(value: tf.Tensor, bound) -> tf.Tensor:
    """1.0 where ``value <= bound``, else 0.0."""
    return 1.0 - _below(bound, value)


def _inside(position: tf.Tensor, size) -> tf.Tensor:
    """1.0 where integer-valued ``position`` lies in ``0..size-1``, else 0.0."""
    return tf.clip_by_value(position + 1.0, 0.0, 1.0) * tf.clip_by_value(size - position, 0.0, 1.0)


def _both(value: tf.Tensor) -> tf.Tensor:
    """``[M, 1, 1]`` product of the x and y rows of ``value [M, 2, 1]``."""
    return value[:, 0:1] * value[:, 1:2]


class _Windows:
    """Window reads for ``M`` points on the levels ``levels`` of a pyramid (level-major: point
    ``i`` of level ``levels[j]`` is row ``j * M + i`` of every ``[L * M, ...]`` argument):
    strip-table rows and OpenCV's bounds."""

    def __init__(self, pyramid: StripPyramid, levels: list[int], image: tf.Tensor) -> None:
        self.pyramid, self.levels, self.window = pyramid, levels, pyramid.window
        self.image = tf.reshape(image, [-1, 1])                                  # [M, 1] int32

    def _per_level(self, value: tf.Tensor) -> list[tf.Tensor]:
        return tf.split(value, len(self.levels), 0) if len(self.levels) > 1 else [value]

    def size(self, like: tf.Tensor) -> tf.Tensor:
        """``[L * M, 2, 1]`` (width, height) of each point's level (``like`` gives the shape)."""
        return tf.concat([tf.zeros_like(part) + np.array([[w], [h]], np.float32)
                          for part, (w, h) in zip(self._per_level(like),
                                                  (self.pyramid.sizes[l] for l in self.levels))], 0)

    def rows(self, corner: tf.Tensor, count: int) -> tf.Tensor:
        """``[L * M, count, window + 3]`` pixels of ``count`` rows from the integer-valued top-left
        ``corner [L * M, 2, 1]`` (x, y; image pixels, clamped into the table)."""
        pyramid, k = self.pyramid, self.window
        index = []
        for part, level in zip(self._per_level(corner), self.levels):
            rows, columns = pyramid.rows[level], pyramid.columns[level]
            limit = np.array([[columns - 1.0], [rows - count]], np.float32)
            start = tf.cast(tf.clip_by_value(part + (k + 1.0), 0.0, limit), tf.int32)
            column, row = tf.split(tf.reshape(start, [-1, 2]), 2, 1)                   # [M, 1]
            first = pyramid.bases[level] + self.image * (rows * columns)
            index.append(first + (row + np.arange(count, dtype=np.int32)) * columns + column)
        return tf.gather(pyramid.table, tf.concat(index, 0) if len(index) > 1 else index[0])

    def in_bounds(self, corner: tf.Tensor) -> tf.Tensor:
        """``[L * M, 1, 1]`` 1.0 where OpenCV tracks a window with integer top-left ``corner``: it
        starts at most a window outside the image."""
        k = self.window
        return _both(tf.clip_by_value(corner + (k + 1.0), 0.0, 1.0)
                     * tf.clip_by_value(self.size(corner) - corner, 0.0, 1.0))


def _template_matrices(frac: tf.Tensor, corner: tf.Tensor, size: tf.Tensor, window: int,
                       columns: bool) -> tf.Tensor:
    """``[M, 3, K, K+3]`` matrices that take the ring window along one axis to: its bilinear
    samples; the Scharr smoothing ``[3 10 3]`` of the derivatives; their difference ``[-1 0 1]``
    (derivatives at the K+1 pixels, 0 outside ``0..size-1``, then interpolated). With ``columns``
    they are transposed, ``[M, 3, K+3, K]``, to multiply the ring from the right.

    ``frac``, ``corner``, ``size``: ``[M, 1, 1]`` sub-pixel offset, integer top-left and image
    size along the axis.
    """
    k = window
    smooth = np.zeros((k + 1, k + 3), np.float32)
    diff = np.zeros((k + 1, k + 3), np.float32)
    for p in range(k + 1):
        smooth[p, p:p + 3] = (3.0, 10.0, 3.0)
        diff[p, p], diff[p, p + 2] = -1.0, 1.0
    shape = [1, 1, k] if columns else [1, k, 1]
    pixels = np.arange(k + 1, dtype=np.float32).reshape([1, 1, k + 1] if columns else [1, k + 1, 1])
    inside = _inside(corner + pixels, size)
    first, second = ((inside[:, :, :k], inside[:, :, 1:]) if columns
                     else (inside[:, :k], inside[:, 1:]))
    w0, w1 = (1.0 - frac) * np.ones(shape, np.float32), frac * np.ones(shape, np.float32)
    d0, d1 = w0 * first, w1 * second
    pairs = ((w0, w1, _shifts(k, k + 3, 1), _shifts(k, k + 3, 2)),
             (d0, d1, smooth[:k], smooth[1:]), (d0, d1, diff[:k], diff[1:]))
    parts = [(a * (r0.T if columns else r0) + b * (r1.T if columns else r1))
             for a, b, r0, r1 in pairs]
    return tf.stack(parts, 1)


def _template(windows: _Windows, corner_f: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The window of ``prev`` at float top-left ``corner_f [M, 2, 1]``: ``(integer corner,
    intensity [M, 1, K*K], derivatives (Ix, Iy) [M, 2, K*K])``."""
    k = windows.window
    corner = tf.floor(corner_f)
    frac = corner_f - corner
    ring = windows.rows(corner - 1.0, k + 3)                                  # [M, K+3, K+3]
    size = windows.size(corner)
    width, height = size[:, 0:1], size[:, 1:2]
    lefts = _template_matrices(frac[:, 1:2], corner[:, 1:2], height, k, False)
    rights = _template_matrices(frac[:, 0:1], corner[:, 0:1], width, k, True)
    # Ix smooths down and differences across; Iy the other way round.
    rights = tf.concat([rights[:, 0:1], rights[:, 2:3], rights[:, 1:2]], 1)
    left_ring = tf.matmul(tf.reshape(lefts, [-1, 3 * k, k + 3]), ring)         # [M, 3K, K+3]
    values = tf.matmul(tf.reshape(left_ring, [-1, 3, k, k + 3]), rights)      # [M, 3, K, K]
    values = tf.reshape(values, [-1, 3, k * k])
    return corner, values[:, 0:1], values[:, 1:3]


def _projection(grads: tf.Tensor, window: int, min_eigenvalue: float) -> tuple[tf.Tensor, tf.Tensor]:
    """``P [M, 2, K*K]`` with ``step (dx, dy) = P @ (next window - prev window)``, and ``[M, 1, 1]``
    1.0 where the gradient matrix passes OpenCV's eigenvalue and determinant tests."""
    ix, iy = grads[:, 0:1], grads[:, 1:2]
    a11 = tf.reduce_sum(ix * ix, -1, keepdims=True) * FLT_SCALE                 # [M, 1, 1]
    a12 = tf.reduce_sum(ix * iy, -1, keepdims=True) * FLT_SCALE
    a22 = tf.reduce_sum(iy * iy, -1, keepdims=True) * FLT_SCALE
    det = a11 * a22 - a12 * a12
    min_eig = (a22 + a11 - tf.sqrt((a11 - a22) ** 2 + 4.0 * a12 * a12)) / (2.0 * window * window)
    usable = (1.0 - _below(min_eig, min_eigenvalue)) * (1.0 - _below(det, FLT_EPSILON))
    scale = (_INTENSITY_SCALE * FLT_SCALE) / (det * usable + (1.0 - usable))
    return tf.concat([(a12 * iy - a22 * ix) * scale, (a12 * ix - a11 * iy) * scale], 1), usable


def _templates(pyramid: StripPyramid, source: tf.Tensor, points: tf.Tensor,
               min_eigenvalue: float) -> list[tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """The windows of ``points [M, 2, 1]`` (level-0 pixels) in image ``source [M]`` on every
    level, read in one batch (they do not depend on the tracking). Per level, from 0:
    ``(projection [M, 2, K*K], offset [M, 2, 1], usable [M, 1, 1])``; the step of a window of
    ``next`` is ``projection @ window - offset``."""
    k = pyramid.window
    levels = list(range(pyramid.levels + 1))
    scales = np.array([1.0 / (1 << l) for l in levels], np.float32).reshape(-1, 1, 1, 1)
    corners = tf.reshape(tf.expand_dims(points, 0) * scales - (k - 1) * 0.5, [-1, 2, 1])
    windows = _Windows(pyramid, levels, source)
    corner, template, grads = _template(windows, corners)
    projection, usable = _projection(grads, k, min_eigenvalue)
    usable = usable * windows.in_bounds(corner)
    offset = tf.reduce_sum(projection * template, -1, keepdims=True)
    return list(zip(*(tf.split(t, len(levels), 0) for t in (projection, offset, usable))))


def _track_level(windows: _Windows, projection: tf.Tensor, offset: tf.Tensor, usable: tf.Tensor,
                 start: tf.Tensor, steps: int, epsilon2: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Newton steps on one level from the window centre ``start [M, 2, 1]`` through ``windows``
    of ``next``. Returns ``(centre [M, 2, 1], lost [M, 1, 1])``: 1.0 where a step's window left
    the image."""
    k = windows.window
    half = (k - 1) * 0.5
    down = (_shifts(k, k + 1, 0), _shifts(k, k + 1, 1))                     # rows y.., y+1..
    across = (_shifts(k, k + 3, 1).T, _shifts(k, k + 3, 2).T)               # ring columns
    position = start - half
    active, lost = usable, tf.zeros_like(usable)
    previous = None
    for _ in range(steps):
        corner = tf.floor(position)
        frac = position - corner
        inside = windows.in_bounds(corner)
        lost = tf.maximum(lost, active * (1.0 - inside))
        active = active * inside
        fx, fy = frac[:, 0:1], frac[:, 1:2]
        rows = windows.rows(corner - tf.constant([[1.0], [0.0]]), k + 1)    # [M, K+1, K+3]
        moved = tf.matmul(tf.matmul((1.0 - fy) * down[0] + fy * down[1], rows),
                          (1.0 - fx) * across[0] + fx * across[1])             # [M, K, K]
        delta = (tf.reduce_sum(projection * tf.reshape(moved, [-1, 1, k * k]), -1, keepdims=True)
                 - offset) * active
        position = position + delta
        stop = _at_most(tf.reduce_sum(delta * delta, 1, keepdims=True), epsilon2)
        if previous is not None:
            undo = tf.abs(delta + previous)
            cancels = _below(tf.maximum(undo[:, 0:1], undo[:, 1:2]), 0.01)
            position = position - delta * (0.5 * active * (1.0 - stop) * cancels)
            stop = tf.maximum(stop, cancels)
        active = active * (1.0 - stop)
        previous = delta
    return position + half, lost


def track(pyramid: StripPyramid, source: tf.Tensor, target: tf.Tensor, points: tf.Tensor, *,
          iterations: int, epsilon: float, min_eigenvalue: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Track ``points [B, N, 2]`` (x, y) from image ``source [B]`` to image ``target [B]`` (int32
    indices into the images of ``pyramid``).

    Returns ``(next_points [B, N, 2] float32, status [B, N] bool)``. Parameters are OpenCV's:
    criteria ``(COUNT | EPS, iterations, epsilon)``, ``minEigThreshold``; the pyramid's window
    is ``winSize`` and its depth ``maxLevel``.
    """
    count = tf.shape(points)[1]
    source, target = (tf.reshape(tf.tile(tf.reshape(i, [-1, 1]), [1, count]), [-1])
                      for i in (source, target))
    flat = tf.reshape(points, [-1, 2, 1])
    epsilon2 = float(min(max(epsilon, 0.0), 10.0)) ** 2
    iterations = min(max(iterations, 0), 100)
    levels = pyramid.levels
    templates = _templates(pyramid, source, flat, min_eigenvalue)
    centre = flat * (1.0 / (1 << levels))
    status = None
    for level in range(levels, -1, -1):
        if level < levels:
            centre = centre * 2.0
        steps = min(iterations, STEPS_FINEST if level == 0 else STEPS_COARSER)
        projection, offset, usable = templates[level]
        centre, lost = _track_level(_Windows(pyramid, [level], target), projection, offset,
                                    usable, centre, steps, epsilon2)
        if level == 0:
            status = usable * (1.0 - lost)
    # OpenCV checks the final window once more at level 0 (where it computes the error).
    half = (pyramid.window - 1) * 0.5
    status = status * _Windows(pyramid, [0], source).in_bounds(tf.floor(centre - half))
    shape = tf.shape(points)
    return tf.reshape(centre, shape), tf.reshape(status > 0.5, shape[:2])
