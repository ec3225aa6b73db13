"""Stage S3 in TensorFlow: flow at the landmarks (LK) and in the eyeball boxes (Farneback).

Twin of ``liveness/reference/flow.py``: same names, arguments and conventions, batched.
Flow is ``(dx, dy)`` in crop pixels, from ``prev`` to ``next``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.conventions import EYE_BOX_CORNERS, N_LANDMARKS
from model_graph.farneback import farneback
from model_graph.lucas_kanade import strip_pyramid, strip_step, track
from model_graph.padding import reflect_index
from model_graph.pyramid import lk_levels


class PairPyramids:
    """The LK strip tables of ``B`` pairs ``prev``, ``next`` (``[B, H, W]`` float, 0..255), built
    once and tracked through in either direction (the forward-backward filter reads both), with
    windows read by ``window_reads`` (``model_graph.lucas_kanade.WINDOW_READS``)."""

    def __init__(self, prev: tf.Tensor, next: tf.Tensor, cfg: LivenessConfig,
                 window_reads: str = "products") -> None:
        self.cfg, self.window_reads = cfg, window_reads
        self.batch = tf.shape(prev)[0]
        levels = lk_levels(min(prev.shape[1], prev.shape[2]), cfg.lk_window, cfg.lk_max_level)
        self.pyramid = strip_pyramid(tf.concat([prev, next], 0), levels, cfg.lk_window,
                                     strip_step(window_reads))

    def _track(self, d: tf.Tensor | int, points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """LK at ``points [B, N, 2]`` from ``prev`` to ``next`` (``d`` 0) or back (``d`` 1):
        ``(moved points [B, N, 2], status [B, N])``, as :func:`track` returns them."""
        cfg, first = self.cfg, tf.range(self.batch)
        return track(self.pyramid, first + d * self.batch, first + (1 - d) * self.batch, points,
                     iterations=cfg.lk_iterations, epsilon=cfg.lk_epsilon,
                     min_eigenvalue=cfg.lk_min_eigenvalue, window_reads=self.window_reads)

    def flow(self, points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """LK at ``points [B, N, 2]`` (x, y) from ``prev`` to ``next``: ``flow [B, N, 2]`` float32
        (0 where not tracked) and ``status [B, N]`` bool."""
        moved, status = self._track(0, points)
        return _moved_by(moved, status, points), status

    def there_and_back(self, points: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """LK at ``points [B, N, 2]`` from ``prev`` to ``next``, then from where they landed back
        to ``prev`` (the forward-backward filter), as a loop over the two directions (one copy of
        the tracker in the graph). Returns the forward ``flow [B, N, 2]`` (0 where not tracked)
        and ``status [B, N]``, the round trip's ``error [B, N]`` (pixels from ``points``, 0 where
        not tracked back) and ``back_status [B, N]``."""
        start = (points, tf.ones(tf.shape(points)[:2], tf.bool))
        _, (moved, status), (returned, back_status) = tf.while_loop(
            lambda d, *_: d < 2, lambda d, _, latest: (d + 1, latest, self._track(d, latest[0])),
            (tf.constant(0), start, start), maximum_iterations=2)
        error = tf.sqrt(tf.reduce_sum((returned - points) ** 2, -1))
        return (_moved_by(moved, status, points), status, tf.where(back_status, error, 0.0),
                back_status)


def _moved_by(moved: tf.Tensor, status: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
    """``[B, N, 2]`` flow from ``points`` to ``moved``, 0 where ``status [B, N]`` is false."""
    return tf.where(tf.expand_dims(status, -1), moved - points, 0.0)


def landmark_flow(prev: tf.Tensor, next: tf.Tensor, points: tf.Tensor, cfg: LivenessConfig,
                  window_reads: str = "products") -> tuple[tf.Tensor, tf.Tensor]:
    """Pyramidal LK at ``points [B, N, 2]`` (x, y) between ``[B, H, W]`` float crops (0..255).

    Returns ``flow [B, N, 2]`` float32 (0 where not tracked) and ``status [B, N]`` bool;
    ``window_reads`` as for :class:`PairPyramids`.
    """
    return PairPyramids(prev, next, cfg, window_reads).flow(points)


def eye_boxes(landmarks: tf.Tensor, min_size: float, scale: float = 1.0,
              finite: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """``[B, 2, 4]`` eyeball boxes ``(x0, y0, x1, y1)`` from ``[B, 68, 2]`` landmarks, and
    ``[B, 2]`` bool: the box's corners are finite (``finite [B, 68]``; all when not given).

    The formula of ``liveness.conventions.eye_boxes``: corners 37/40 and 43/46, scaled by
    ``scale`` about their centre, grown to at least ``min_size`` per side. A box with a
    non-finite corner is all zeros.
    """
    boxes, valid = [], []
    for a, b in EYE_BOX_CORNERS:
        lo = tf.minimum(landmarks[:, a], landmarks[:, b])
        hi = tf.maximum(landmarks[:, a], landmarks[:, b])
        centre = (lo + hi) * 0.5
        half = tf.maximum((hi - lo) * (0.5 * scale), min_size * 0.5)
        ok = tf.ones_like(lo[:, 0], tf.bool) if finite is None else finite[:, a] & finite[:, b]
        boxes.append(tf.where(ok[:, None], tf.concat([centre - half, centre + half], -1), 0.0))
        valid.append(ok)
    return tf.stack(boxes, 1), tf.stack(valid, 1)


def face_grid(landmarks: tf.Tensor, size: int,
              finite: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """``[B, size * size, 2]`` grid points inside the face (the formula of
    ``conventions.face_grid``, over the finite inner points) and ``[B]`` bool: any inner point
    was finite (else the grid is all zeros and must not be tracked)."""
    inner = landmarks[:, 17:N_LANDMARKS]
    ok = tf.ones_like(inner[..., 0], tf.bool) if finite is None else finite[:, 17:N_LANDMARKS]
    lo = tf.reduce_min(tf.where(ok[..., None], inner, 1e9), 1)             # [B, 2]
    hi = tf.reduce_max(tf.where(ok[..., None], inner, -1e9), 1)
    any_ok = tf.reduce_any(ok, -1)
    lo = tf.where(any_ok[:, None], lo, 0.0)
    hi = tf.where(any_ok[:, None], hi, 0.0)
    steps = (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size)
    xs = lo[:, 0:1] + steps * (hi[:, 0:1] - lo[:, 0:1])                   # [B, size]
    ys = lo[:, 1:2] + steps * (hi[:, 1:2] - lo[:, 1:2])
    return tf.stack([tf.tile(xs, [1, size]), tf.repeat(ys, size, axis=1)], -1), any_ok


def eye_flow(prev: tf.Tensor, next: tf.Tensor, boxes: tf.Tensor,
             cfg: LivenessConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """Farneback flow on the ``eye_patch_px`` square centred on each box (reflect-101 outside).

    Args:
        prev, next: ``[B, H, W]`` float crops, 0..255.
        boxes: ``[B, 2, 4]`` float32 ``(x0, y0, x1, y1)``.

    Returns:
        ``flow [B, 2, P, P, 2]`` float32 and ``mask [B, 2, P, P]`` bool (pixel inside the box).
    """
    size = cfg.eye_patch_px
    height, width = prev.shape[1], prev.shape[2]
    centre = (boxes[..., :2] + boxes[..., 2:]) * 0.5
    origin = tf.floor(centre + 0.5) - float(size // 2)                  # [B, 2, 2]
    steps = np.arange(size, dtype=np.float32)
    xs = origin[..., 0:1] + steps                                       # [B, 2, P]
    ys = origin[..., 1:2] + steps
    # The patches' pixels, reflect-101 outside the crop, indexed along each axis first.
    column = reflect_index(tf.cast(xs, tf.int32), width)
    row = reflect_index(tf.cast(ys, tf.int32), height)
    row = row + tf.reshape(tf.range(tf.shape(boxes)[0]) * height, [-1, 1, 1])
    index = row[..., :, None] * width + column[..., None, :]           # [B, 2, P, P]
    patches = [tf.reshape(tf.gather(tf.reshape(image, [-1]), index), [-1, size, size])
               for image in (prev, next)]
    flow = farneback(patches[0], patches[1], window=cfg.fb_window, iterations=cfg.fb_iterations,
                     poly_n=cfg.fb_poly_n, poly_sigma=cfg.fb_poly_sigma)
    in_x = (xs >= boxes[..., 0:1]) & (xs <= boxes[..., 2:3])            # [B, 2, P]
    in_y = (ys >= boxes[..., 1:2]) & (ys <= boxes[..., 3:4])
    return tf.reshape(flow, [-1, 2, size, size, 2]), in_y[..., :, None] & in_x[..., None, :]
