"""Pyramidal iterative Lucas-Kanade at points, in float: the method of ``cv2.calcOpticalFlowPyrLK``
with a fixed number of Newton steps, from ops that TFLite's XNNPACK and XLA run well.

Per level, from the coarsest (a loop over the levels: one copy of a level's tracking in the graph
and in the TFLite file), for each point:

1. the window of ``prev`` around the point (plus a one-pixel ring, and one more for the bilinear
   step) is read as ``window + 3`` rows of a *strip table*: every ``step`` columns of
   each row, the next ``width`` pixels (enough for any read that starts in those columns), so a
   window costs ``window + 3`` gathered rows rather than hundreds of pixels. The rows go to the
   window's columns, interpolated at the point's sub-pixel offset, in one of two ways
   (:data:`WINDOW_READS`): a bilinear shift product per point, or a second gather of rows from
   the transposed strips. Under XLA a third way needs no strips: one gather slices each point's
   square out of the padded level whole;
2. the 3x3 Scharr derivatives are taken at the window's pixels of the interpolated ring (0
   outside the image, as in OpenCV): along the last axis as products with constant matrices,
   along the other as differences of slices;
3. the 2x2 gradient matrix gives OpenCV's minimum-eigenvalue and determinant tests, and folds into
   a projection ``P = -A^-1 G`` so that each Newton step is one interpolated window read and
   ``P @ window``;
4. :data:`STEPS_FINEST` steps at full resolution, :data:`STEPS_COARSEST` at the coarsest level
   and :data:`STEPS_BETWEEN` at each level between (never more than ``iterations``), a loop of
   that count (one copy of the step). OpenCV's
   stopping rules apply as masks: a point stops when its step is at most ``epsilon``, or when
   two steps cancel (it then goes back half a step).

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

from tensorflow.compiler.tf2xla.python import xla
from tensorflow.compiler.xla import xla_data_pb2

from model_graph.padding import pad
from model_graph.pyramid import build_pyramid

#: Newton steps at level 0, at each level between, and at the coarsest level (above level 0).
#: On 420 pairs of the shared clips (forward LK at 117 points vs OpenCV's 20 per level): 5/1/1
#: left 1 % of points more than 6 px off and changed 3.3 % of the motion cue's pair decisions;
#: 5/3/3 changes 1.7 %, 20/20/20 0.5 % (the rest is OpenCV's 14-bit rounding). On the 1222 pairs
#: of ``liveness parity``, 5/3/2 moved no decision figure by more than 0.2 points from 5/3/3's;
#: 5/2/2 moved the motion cue's by 0.2-0.4; 4/3/2 missed SPEC's parity targets (pairs the motion
#: cue judges alike 97.95 %, target 98). docs/decisions.md, "Lucas-Kanade in float".
STEPS_FINEST, STEPS_BETWEEN, STEPS_COARSEST = 5, 3, 2
FLT_SCALE = 1.0 / (1 << 20)
FLT_EPSILON = float(np.finfo(np.float32).eps)
#: OpenCV's windows hold intensities x 32 (``W_BITS1 - 5``); its steps carry that factor.
_INTENSITY_SCALE = 32.0


#: How a window read takes strip rows to the window's columns (the ``window_reads`` argument),
#: and the strip step each is fastest with (:func:`strip_pyramid`):
#:
#: - ``"products"``: a bilinear shift product per point, windows ``[M, y, x]`` — what TensorFlow
#:   and XLA run best; strips start every 6th column (24 wide for window 15);
#: - ``"gathers"``: the strips transposed, the window's columns gathered as rows and interpolated,
#:   then transposed back and interpolated between rows — TFLite's XNNPACK runs a batched product
#:   of a hundred small matrices several times slower than a product of the same size with one
#:   matrix; every 9th column (27 wide: the table holds each pixel three times, not four, and
#:   the wider strips cost a gather less than they cost a product).
#:
#: - ``"windows"``: each point's square sliced whole out of the padded level by one XLA gather
#:   (``XlaGather``, a window-sized slice per start), then interpolated between rows and between
#:   columns, windows ``[M, y, x]``: for a graph that XLA compiles (TFLite has no such op, and a
#:   TensorFlow runtime without XLA no kernel for it); the table holds whole padded rows (step
#:   0); its window sums go row by row (:func:`_apply`). Under XLA at batch 64 it takes about
#:   0.7x the time of ``"products"``.
#:
#: Every read gives windows ``[M, y, x]``. Same arithmetic up to float rounding;
#: docs/decisions.md ("Lucas-Kanade in float").
WINDOW_READS = {"products": 6, "gathers": 9, "windows": 0}


def strip_step(reads: str) -> int:
    """The strip step of ``reads``, one of :data:`WINDOW_READS` (``ValueError`` for another);
    0: whole padded rows."""
    if reads not in WINDOW_READS:
        raise ValueError(f"window reads must be one of {tuple(WINDOW_READS)}, got {reads!r}")
    return WINDOW_READS[reads]


@dataclass(frozen=True)
class StripPyramid:
    """The pyramids of ``K`` images as one strip table.

    ``table [R, width]`` float32: for level ``l``, row ``bases[l] + (k * rows[l] + r) *
    blocks[l] + b`` holds the ``width`` pixels of image ``k``'s reflect-101 padded row ``r`` from
    column ``b * step``; padded row/column 0 is image row/column ``-(window + 1)``. Step 0:
    one block per row, the whole padded row (level 0's width at every level).
    ``bases [L + 1]`` int32; ``rows``, ``blocks`` ``[L + 1]`` and ``sizes [L + 1, 2]`` (each level's
    width, height) are numpy constants. A read of ``window + 3`` pixels from any column
    ``0 .. width_l + window`` fits in one strip; one table serves every level, so the loop over
    the levels reads it by the level's base row (and a window read of step 0 by its first
    row and column).
    """

    table: tf.Tensor
    bases: tf.Tensor
    rows: np.ndarray
    blocks: np.ndarray
    sizes: np.ndarray
    window: int
    step: int

    @property
    def levels(self) -> int:
        """The highest level (0 = no pyramid)."""
        return len(self.rows) - 1


def strip_pyramid(images: tf.Tensor, levels: int, window: int, step: int) -> StripPyramid:
    """The strip tables of ``levels + 1`` pyramid levels of ``images [K, H, W]`` float (0..255),
    strips starting every ``step`` columns: a read from any column lies in one strip, at a shift
    of ``0 .. step - 1`` that the window read undoes. Step 1 would need no shift but makes the
    table ``window + 3`` times the image (the table is bound by the bytes it writes); a larger
    step, wider strips. Step 0: the table is the padded levels' rows whole (reads of step 0
    slice their windows out of it)."""
    reach = window + 3                                   # pixels a read takes from its column
    tables, rows, blocks, sizes = [], [], [], []
    whole = images.shape[2] + 2 * window + 3 if step == 0 else None        # level 0's columns
    for image in build_pyramid(images, levels):
        starts = image.shape[2] + window + 1             # columns a read may start from
        if step == 0:
            count, columns = 1, whole
        else:
            per_strip = -(-(reach + step - 1) // step)                  # blocks in one strip
            count = -(-starts // step)                   # strips per row
            columns = (count - 1 + per_strip) * step
        padded = pad(pad(image, 1, window + 1, window + 1, "reflect101"),
                     2, window + 1, columns - starts, "reflect101")
        if step == 0:
            tables.append(tf.reshape(padded, [-1, columns]))
        else:
            grid = tf.reshape(padded, [-1, padded.shape[1], columns // step, step])
            strips = tf.stack([grid[:, :, j:j + count] for j in range(per_strip)], 3)
            tables.append(tf.reshape(strips, [-1, per_strip * step]))
        rows.append(padded.shape[1])
        blocks.append(count)
        sizes.append((image.shape[2], image.shape[1]))
    rows, blocks = np.array(rows, np.int32), np.array(blocks, np.int32)
    bases = tf.shape(images)[0] * (np.cumsum(rows * blocks) - rows * blocks).astype(np.int32)
    return StripPyramid(tf.concat(tables, 0), bases, rows, blocks,
                        np.array(sizes, np.float32), window, step)


#: An ``XlaGather`` from a 2-D table at ``[M, 2]`` (row, column) starts: one slice per start,
#: the slice's two axes the output's axes 1 and 2.
_WINDOW_SLICE = xla_data_pb2.GatherDimensionNumbers(offset_dims=[1, 2], start_index_map=[0, 1],
                                                    index_vector_dim=1)


def _shift_matrix(offset: tf.Tensor, rows: int, columns: int) -> tf.Tensor:
    """``[M, rows, columns]`` bilinear weights that take a strip (on the left) to ``columns``
    samples from ``offset [M, 1, 1]`` (strip pixels, float): ``max(0, 1 - |i - j - offset|)``."""
    grid = np.subtract.outer(np.arange(rows), np.arange(columns)).astype(np.float32)
    return tf.nn.relu(1.0 - tf.abs(grid - offset))


def _below(value: tf.Tensor, bound) -> tf.Tensor:
    """1.0 where ``value < bound``, else 0.0, as a step function in float arithmetic: TFLite's
    XNNPACK delegate runs float ops but no comparisons or logic (every op it cannot run splits
    the graph and runs alone). ``bound - value`` of two different floats is not 0 (denormals aside),
    and ``ceil`` takes any positive difference to at least 1 and any other to at most 0."""
    return tf.clip_by_value(tf.math.ceil(bound - value), 0.0, 1.0)


def _inside(position: tf.Tensor, size) -> tf.Tensor:
    """1.0 where integer-valued ``position`` lies in ``0..size-1``, else 0.0."""
    return tf.clip_by_value(position + 1.0, 0.0, 1.0) * tf.clip_by_value(size - position, 0.0, 1.0)


class _Windows:
    """Window reads on one level of a pyramid (``level``: an int32 scalar, or an int) for ``M``
    points in the images ``image [M]`` int32, made by ``reads`` (:data:`WINDOW_READS`), and
    OpenCV's bounds."""

    def __init__(self, pyramid: StripPyramid, level: tf.Tensor | int, image: tf.Tensor,
                 reads: str = "products") -> None:
        strip_step(reads)                                     # a known way of reading
        self.pyramid, self.window = pyramid, pyramid.window
        #: Columns by a second gather (else by a shift product).
        self._by_gathers = reads == "gathers"
        #: Squares sliced out of whole rows by an XLA gather (else strips, then a second step).
        self._sliced = reads == "windows"
        #: Sums over a window row by row (:func:`_apply`): under XLA (reads by ``"windows"``).
        self.by_rows = self._sliced
        self._first = tf.reshape(tf.gather(pyramid.bases, level) + image * tf.gather(
            pyramid.rows * pyramid.blocks, level), [-1, 1])                      # [M, 1] int32
        self._blocks = tf.gather(pyramid.blocks.astype(np.float32), level)
        #: (width, height) of the level ``[1, 2, 1]``.
        self.size = tf.reshape(tf.gather(pyramid.sizes, level), [1, 2, 1])
        # The last padded column a read may start from, and the padded rows.
        self._ends = tf.reshape(tf.stack([tf.gather(pyramid.sizes[:, 0] + self.window, level),
                                          tf.gather(pyramid.rows.astype(np.float32), level)]),
                                [1, 2, 1])

    def _start(self, corner: tf.Tensor, count: int) -> tf.Tensor:
        """The padded-level column and row ``[M, 2, 1]`` float of a read of ``count`` rows from
        the integer-valued top-left ``corner [M, 2, 1]`` (image pixels), clamped into the table."""
        return tf.clip_by_value(corner + (self.window + 1.0), 0.0,
                                self._ends - np.array([[[0.0], [count]]], np.float32))

    def rows(self, corner: tf.Tensor, count: int) -> tuple[tf.Tensor, tf.Tensor]:
        """``count`` rows from the integer-valued top-left ``corner [M, 2, 1]`` (x, y; image
        pixels, clamped into the table): the strips that hold them ``[M, count, width]`` and the
        column of ``x`` in the strips ``[M, 1, 1]``."""
        start = self._start(corner, count)
        x, y = start[:, 0:1], start[:, 1:2]
        step = self.pyramid.step
        block = tf.floor((x + 0.5) * (1.0 / step))             # (+ 0.5: 1 / step rounds)
        offsets = block + (y + np.arange(count, dtype=np.float32)) * self._blocks
        index = self._first + tf.cast(tf.reshape(offsets, [-1, count]), tf.int32)
        return tf.gather(self.pyramid.table, index), x - block * step

    def read(self, corner: tf.Tensor, frac: tf.Tensor, count: int) -> tf.Tensor:
        """``count`` x ``count`` pixels interpolated at ``corner + frac`` (integer-valued top-left
        ``corner [M, 2, 1]``, clamped into the table; ``frac [M, 2, 1]`` in ``[0, 1)``):
        ``[M, count (y), count (x)]``."""
        if self._sliced:
            return self._slice(corner, frac, count)
        strips, shift = self.rows(corner, count + 1)                 # [M, count + 1, width]
        if not self._by_gathers:
            across = tf.matmul(strips, _shift_matrix(shift + frac[:, 0:1], strips.shape[2], count))
            return _lerp(across, frac[:, 1:2], count)                   # [M, count (y), count (x)]
        columns = tf.transpose(strips, [0, 2, 1])                       # [M, width, count + 1]
        first = tf.cast(tf.reshape(shift, [-1, 1]) + np.arange(count + 1, dtype=np.float32),
                        tf.int32)
        # Each point's columns from its own strips (batch_dims, not a flattened copy of them),
        # interpolated before the rows: count + 1 columns, not the strips' width.
        across = _lerp(tf.gather(columns, first, batch_dims=1), frac[:, 0:1], count)
        return _lerp(tf.transpose(across, [0, 2, 1]), frac[:, 1:2], count)

    def _slice(self, corner: tf.Tensor, frac: tf.Tensor, count: int) -> tf.Tensor:
        """:meth:`read` from a table of whole rows (step 0): the ``count + 1`` square at
        ``corner`` sliced out by one XLA gather (clamped into the table, as :meth:`rows`),
        interpolated between rows, then between columns: ``[M, count, count]`` (y, x)."""
        first = tf.cast(tf.reshape(self._start(corner, count + 1), [-1, 2]), tf.int32)  # (x, y)
        index = tf.stack([self._first[:, 0] + first[:, 1], first[:, 0]], 1)    # (row, column)
        square = tf.reshape(xla.gather(self.pyramid.table, index, _WINDOW_SLICE,
                                       [count + 1, count + 1], indices_are_sorted=False),
                            [-1, count + 1, count + 1])
        rows = _lerp(square, frac[:, 1:2], count)                    # [M, count, count + 1]
        return rows[..., :count] + (rows[..., 1:] - rows[..., :count]) * frac[:, 0:1]

    def in_bounds(self, corner: tf.Tensor) -> tf.Tensor:
        """``[M, 1, 1]`` 1.0 where OpenCV tracks a window with integer top-left ``corner``: it
        starts at most a window outside the image."""
        margin = tf.minimum(corner + (self.window + 1.0), self.size - corner)
        return tf.clip_by_value(tf.minimum(margin[:, 0:1], margin[:, 1:2]), 0.0, 1.0)


def _lerp(values: tf.Tensor, frac: tf.Tensor, count: int) -> tf.Tensor:
    """``count`` linear interpolations between neighbours along axis -2 of ``values`` at offset
    ``frac`` (broadcast against them): samples ``0 .. count - 1`` moved by ``frac``. (Along the
    last axis, slices of a few floats are slow in XNNPACK.)"""
    return values[:, :count] + (values[:, 1:count + 1] - values[:, :count]) * frac


def _scharr_matrices(window: int) -> tuple[np.ndarray, np.ndarray]:
    """``[K+2, K]`` matrices that take a line of ``K + 2`` pixels to the ``K`` central differences
    ``x[c+2] - x[c]`` and to the Scharr smoothing ``3 x[c] + 10 x[c+1] + 3 x[c+2]``."""
    difference = np.zeros((window + 2, window), np.float32)
    smoothing = np.zeros((window + 2, window), np.float32)
    columns = np.arange(window)
    difference[columns, columns], difference[columns + 2, columns] = -1.0, 1.0
    smoothing[columns, columns], smoothing[columns + 1, columns] = 3.0, 10.0
    smoothing[columns + 2, columns] = 3.0
    return difference, smoothing


def _template(windows: _Windows, corner_f: tf.Tensor
              ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """The window of ``prev`` at float top-left ``corner_f [M, 2, 1]``: ``(integer corner,
    intensity, Ix, Iy)``, each window ``[M, K (y), K (x)]``.

    The ring (the window plus one pixel around it) is interpolated at the sub-pixel offset
    first; the 3x3 Scharr derivatives of the interpolated ring are then OpenCV's interpolated
    derivatives, since both are convolutions. OpenCV's derivatives are 0 outside the image; here
    the derivative at a window pixel is 0 when the pixel it was interpolated from (its top-left
    neighbour) lies outside.
    """
    k = windows.window
    corner = tf.floor(corner_f)
    ring = windows.read(corner - 1.0, corner_f - corner, k + 2)                 # [M, K+2, K+2]
    # Along the last axis the Scharr difference and smoothing as products with constant matrices
    # (one FULLY_CONNECTED each); along the other, slices.
    difference, smoothing = _scharr_matrices(k)
    lines = tf.reshape(ring, [-1, k + 2])
    along = tf.reshape(tf.matmul(lines, difference), [-1, k + 2, k])           # [M, K+2, K]
    smooth = tf.reshape(tf.matmul(lines, smoothing), [-1, k + 2, k])
    ix = (along[:, :-2] + along[:, 2:]) * 3.0 + along[:, 1:-1] * 10.0         # [M, K (y), K (x)]
    iy = smooth[:, 2:] - smooth[:, :-2]
    pixels = np.arange(k, dtype=np.float32)
    size = windows.size
    inside = (_inside(corner[:, 0:1] + pixels.reshape(1, 1, -1), size[:, 0:1])
              * _inside(corner[:, 1:2] + pixels.reshape(1, -1, 1), size[:, 1:2]))  # [M, K, K]
    return corner, ring[:, 1:-1, 1:-1], ix * inside, iy * inside


def _projection(ix: tf.Tensor, iy: tf.Tensor, window: int, min_eigenvalue: float
                ) -> tuple[tuple[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The rows ``(px, py)`` ``[M, K, K]`` of ``P`` with ``step (dx, dy) = P @ (next window -
    prev window)`` from the derivatives ``ix``, ``iy`` ``[M, K, K]``, and ``[M, 1, 1]`` 1.0
    where the gradient matrix passes OpenCV's eigenvalue and determinant tests. (Two tensors, not
    one: a concatenation would be one more pass over the windows.)"""
    a11, a22, a12 = (tf.reduce_sum(a * b, [1, 2], keepdims=True) * FLT_SCALE
                     for a, b in ((ix, ix), (iy, iy), (ix, iy)))                # [M, 1, 1]
    det = a11 * a22 - a12 * a12
    min_eig = (a22 + a11 - tf.sqrt((a11 - a22) ** 2 + 4.0 * a12 * a12)) / (2.0 * window * window)
    usable = (1.0 - _below(min_eig, min_eigenvalue)) * (1.0 - _below(det, FLT_EPSILON))
    scale = (_INTENSITY_SCALE * FLT_SCALE) / (det * usable + (1.0 - usable))
    # P = scale * [[-a22, a12], [a12, -a11]] @ (Ix, Iy), one row at a time.
    mixed = a12 * scale
    return (mixed * iy - (a22 * scale) * ix, mixed * ix - (a11 * scale) * iy), usable


def _template_at(windows: _Windows, points: tf.Tensor, scale: tf.Tensor,
                 min_eigenvalue: float) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The window of ``points [M, 2, 1]`` (level-0 pixels) on the level of ``windows`` (``scale``:
    its pixels per level-0 pixel): ``(projection, offset [M, 2, 1], usable [M, 1, 1])``; the
    step of a window of ``next`` is ``_apply(projection, window, windows.by_rows) - offset``."""
    k = windows.window
    corner, template, ix, iy = _template(windows, points * scale - (k - 1) * 0.5)
    projection, usable = _projection(ix, iy, k, min_eigenvalue)
    usable = usable * windows.in_bounds(corner)
    return projection, _apply(projection, template, windows.by_rows), usable


def _apply(projection: tuple[tf.Tensor, tf.Tensor], window: tf.Tensor,
           by_rows: bool = False) -> tf.Tensor:
    """``P @ window``: ``[M, 2, 1]`` (x, y) from the rows of ``P`` and ``window``, ``[M, K, K]``
    each (windows stay square: flattening them is a copy in XNNPACK).

    ``by_rows``: each of the window's ``K`` rows summed first, then the row sums added by one
    product with ones. XLA's CPU compiler splits a sum of more than 32 values into two passes, a
    ``reduce-window`` of 32 and a sum of what it leaves, and stores the product it sums in
    between; a sum of ``K`` values fuses with its product, and a product with ones is not folded
    back into one sum. Else one sum over both axes (TFLite runs that faster)."""
    if not by_rows:
        return tf.concat([tf.reduce_sum(row * window, [1, 2], keepdims=True)
                          for row in projection], 1)
    k = window.shape[-1]
    sums = tf.stack([tf.reduce_sum(row * window, -1) for row in projection], 1)     # [M, 2, K]
    return tf.reshape(tf.matmul(tf.reshape(sums, [-1, k]), np.ones((k, 1), np.float32)),
                      [-1, 2, 1])


#: The step before the first: long enough that the first step never "cancels" it.
_NO_STEP = 1e6


def _track_level(windows: _Windows, projection: tuple[tf.Tensor, tf.Tensor], offset: tf.Tensor,
                 usable: tf.Tensor, start: tf.Tensor, steps: tf.Tensor,
                 epsilon2: float) -> tuple[tf.Tensor, tf.Tensor]:
    """``steps`` (a scalar int32) Newton steps on one level from the window centre ``start [M, 2,
    1]`` through ``windows`` of ``next``, as a loop (one copy of the step in the graph).
    Returns ``(centre [M, 2, 1], lost [M, 1, 1])``: 1.0 where a step's window left the image."""
    k = windows.window
    half = (k - 1) * 0.5

    def step(i, position, active, lost, previous):
        corner = tf.floor(position)
        frac = position - corner
        inside = windows.in_bounds(corner)
        lost = lost + active * (1.0 - inside)
        active = active * inside
        moved = windows.read(corner, frac, k)                                   # [M, K, K]
        delta = (_apply(projection, moved, windows.by_rows) - offset) * active
        position = position + delta
        # A point stops when its step is at most epsilon, or when two steps cancel (it then goes
        # back half a step). (x and y as slices: reductions over two values cost more.)
        moving = _below(epsilon2, delta[:, 0:1] ** 2 + delta[:, 1:2] ** 2)
        undo = tf.abs(delta + previous)
        undo = tf.maximum(undo[:, 0:1], undo[:, 1:2])
        cancels = _below(undo, 0.01) * moving
        position = position - delta * (0.5 * cancels)
        active = active * (moving - cancels)
        return i + 1, position, active, lost, delta

    start_state = (tf.constant(0), start - half, usable, tf.zeros_like(usable),
                   tf.fill(tf.shape(start), _NO_STEP))
    _, position, _, lost, _ = tf.while_loop(lambda i, *state: i < steps, step, start_state)
    return position + half, lost


def step_schedule(levels: int, iterations: int) -> np.ndarray:
    """Newton steps ``[levels + 1]`` int32 at levels ``0 .. levels``: :data:`STEPS_FINEST`,
    :data:`STEPS_BETWEEN` at each level between, :data:`STEPS_COARSEST`, none above
    ``iterations`` (OpenCV's count, taken as 0..100)."""
    iterations = min(max(iterations, 0), 100)
    return np.array([STEPS_FINEST] + [STEPS_BETWEEN] * (levels - 1)
                    + [STEPS_COARSEST] * (levels > 0), np.int32).clip(max=iterations)


def track(pyramid: StripPyramid, source: tf.Tensor, target: tf.Tensor, points: tf.Tensor, *,
          iterations: int, epsilon: float, min_eigenvalue: float,
          window_reads: str = "products") -> tuple[tf.Tensor, tf.Tensor]:
    """Track ``points [B, N, 2]`` (x, y) from image ``source [B]`` to image ``target [B]`` (int32
    indices into the images of ``pyramid``), level by level from the coarsest as a loop (one copy
    of a level's tracking in the graph).

    Returns ``(next_points [B, N, 2] float32, status [B, N] bool)``. Parameters are OpenCV's:
    criteria ``(COUNT | EPS, iterations, epsilon)``, ``minEigThreshold``; the pyramid's window
    is ``winSize`` and its depth ``maxLevel``. ``window_reads``: one of :data:`WINDOW_READS`.
    """
    count = tf.shape(points)[1]
    source, target = (tf.reshape(tf.tile(tf.reshape(i, [-1, 1]), [1, count]), [-1])
                      for i in (source, target))
    flat = tf.reshape(points, [-1, 2, 1])
    epsilon2 = float(min(max(epsilon, 0.0), 10.0)) ** 2
    levels = pyramid.levels
    steps = step_schedule(levels, iterations)
    scales = np.array([1.0 / (1 << l) for l in range(levels + 1)], np.float32)

    def level_step(level, centre, *_):
        in_source, in_target = (_Windows(pyramid, level, image, window_reads)
                                for image in (source, target))
        projection, offset, usable = _template_at(in_source, flat, tf.gather(scales, level),
                                                  min_eigenvalue)
        centre, lost = _track_level(in_target, projection, offset, usable, centre,
                                    tf.gather(steps, level), epsilon2)
        # To the next finer level's pixels (level 0's result stays).
        return level - 1, centre * (1.0 + tf.cast(level > 0, tf.float32)), usable, lost

    first = tf.zeros_like(flat[:, :1])
    start = (tf.constant(levels), flat * scales[-1], first, first)
    _, centre, usable, lost = tf.while_loop(lambda level, *_: level >= 0, level_step, start,
                                            maximum_iterations=levels + 1)
    # OpenCV checks the final window once more at level 0 (where it computes the error).
    half = (pyramid.window - 1) * 0.5
    status = usable * (1.0 - lost) * _Windows(pyramid, 0, source).in_bounds(tf.floor(centre - half))
    shape = tf.shape(points)
    return tf.reshape(centre, shape), tf.reshape(status > 0.5, shape[:2])
