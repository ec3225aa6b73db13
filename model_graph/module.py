"""``LivenessCheck``: the batched pair check as one ``tf.Module`` with an exportable signature."""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.conventions import N_LANDMARKS
from model_graph.aggregate import aggregate_clip
from model_graph.check import check_pair
from model_graph.farneback import farneback_levels


class LivenessCheck(tf.Module):
    """The check of ``B`` frame pairs, built for one config and one crop size.

    Call it (or its ``check`` ``tf.function``) with ``prev``, ``next``: ``[B, S, S]`` uint8 grey face crops (0..255, the same window
    cut from two frames) and ``landmarks``: ``[B, 68, 2]`` float32 (x, y) in ``prev``'s crop
    pixels, where ``S = cfg.crop_size``. It returns the dict of ``model_graph.check.check_pair``.
    ``jit_compile=True`` compiles the graph with XLA.

    ``check_clip(frames, landmarks)`` checks a whole clip in one call: ``frames [T, S, S]`` uint8
    crops of *one fixed window* (so rigid motion stays in them) and ``landmarks [T, 68, 2]``; pairs
    are ``(t, t + 1)``, scored with the landmarks of ``t``, then aggregated
    (``model_graph.aggregate``). Outputs: ``pair_score``, ``pair_valid``, ``pair_is_live``,
    ``pair_planarity``, ``pair_planarity_valid`` ``[T-1]`` and the scalars ``verdict``, ``reason``,
    ``clip_score``, ``live_fraction``, ``pairs_used``, ``clip_planarity``, ``planarity_pairs``.

    Raises ``ValueError`` for a config the graph cannot run (eye patch large enough for OpenCV's
    Farneback to add a pyramid level, which this port does not implement).
    """

    def __init__(self, cfg: LivenessConfig, *, jit_compile: bool = False) -> None:
        super().__init__(name="liveness_check")
        if farneback_levels(cfg.eye_patch_px, cfg.fb_pyr_scale, cfg.fb_levels) > 0:
            raise ValueError(f"eye_patch_px={cfg.eye_patch_px} makes OpenCV's Farneback use more "
                             f"than one level; the graph supports patches below "
                             f"{int(32 / cfg.fb_pyr_scale)} px")
        self.cfg = cfg
        size = cfg.crop_size
        signature = [tf.TensorSpec([None, size, size], tf.uint8, name="prev"),
                     tf.TensorSpec([None, size, size], tf.uint8, name="next"),
                     tf.TensorSpec([None, N_LANDMARKS, 2], tf.float32, name="landmarks")]
        self.check = tf.function(self._check, input_signature=signature, jit_compile=jit_compile)
        clip_signature = [tf.TensorSpec([None, size, size], tf.uint8, name="frames"),
                          tf.TensorSpec([None, N_LANDMARKS, 2], tf.float32, name="landmarks")]
        self.check_clip = tf.function(self._check_clip, input_signature=clip_signature,
                                      jit_compile=jit_compile)

    def __call__(self, prev: tf.Tensor, next: tf.Tensor, landmarks: tf.Tensor) -> dict[str, tf.Tensor]:
        """Run the traced (and, with ``jit_compile``, XLA-compiled) check."""
        return self.check(prev, next, landmarks)

    def _check(self, prev: tf.Tensor, next: tf.Tensor, landmarks: tf.Tensor) -> dict[str, tf.Tensor]:
        return check_pair(prev, next, landmarks, self.cfg)

    def _check_clip(self, frames: tf.Tensor, landmarks: tf.Tensor) -> dict[str, tf.Tensor]:
        pairs = check_pair(frames[:-1], frames[1:], landmarks[:-1], self.cfg)
        clip = aggregate_clip(pairs["score"], pairs["valid"], pairs["is_live"], pairs["planarity"],
                              pairs["planarity_valid"], self.cfg)
        return {"pair_score": pairs["score"], "pair_valid": pairs["valid"],
                "pair_is_live": pairs["is_live"], "pair_planarity": pairs["planarity"],
                "pair_planarity_valid": pairs["planarity_valid"], **clip}
