"""``LivenessCheck``: the batched pair check and the clip check as one ``tf.Module`` with the
exported signatures."""

from __future__ import annotations

import tensorflow as tf

from liveness.config import LivenessConfig
from liveness.conventions import N_LANDMARKS
from model_graph.aggregate import aggregate_clip
from model_graph.check import check_in_chunks, fit_rows, in_streams
from model_graph.farneback import farneback_levels
from model_graph.lucas_kanade import strip_step
from model_graph.texture import PATCH_PX, FrozenTexture

#: Pairs checked at a time when a batch is larger (``pair_chunk``). On this project's 2-core CPU
#: a batch of 64 took about 0.8x the time under XLA and in the reloaded SavedModel in chunks of
#: 16, which beat chunks of 8 and 32 (docs/decisions.md, "Large batches in chunks").
PAIR_CHUNK = 16

#: Under XLA, parts a batch of at least that many pairs is split into when it is checked in
#: chunks, each checked by its own compiled call; TensorFlow runs the calls at the same time on
#: its inter-op threads, which on this project's 2-core CPU gave more pairs per second than one
#: call using both cores op by op (docs/decisions.md, "Two XLA streams").
PAIR_STREAMS = 2

#: Outputs of ``check_pair`` that say "this pair has evidence": false for a call whose inputs do
#: not share one batch size, and for padding.
_FLAGS = ("valid", "is_live", "landmark_status", "sigma_valid", "motion_judged", "planar")


class LivenessCheck(tf.Module):
    """The check of ``B`` frame pairs (``check``) or one clip (``check_clip``), for one config.

    ``check(prev, next, landmarks, patches, patch_context)``: ``prev``, ``next`` ``[B, S, S]``
    uint8 grey face crops of one window in two frames (``S = cfg.crop_size``), ``landmarks
    [B, 68, 2]`` float32 (x, y) in ``prev``'s crop pixels, ``patches [B, 2, 80, 80, 3]`` uint8 BGR
    texture patches of ``prev``'s frame (scale 2.7, then 4.0; ``liveness.texture.cut_patches``)
    and ``patch_context [B]`` float32 (their kept scale fraction). Returns the dict of
    ``model_graph.check.check_pair`` plus ``texture [B]`` (real-face probability) and
    ``texture_used [B]`` (``patch_context >= texture_min_scale``; a context of 0 means "no
    patches": not used, and not counted as ``face_too_close``).

    ``check_pair(prev, next, landmarks)``: the same pair outputs without the texture cue (no
    ``texture``, ``texture_used``), for a client that scores texture per frame on its own (the
    LiteRT demo runs ``texture.tflite``): the texture networks then run once per frame, not once
    per pair more.

    ``check_clip(frames, landmarks, patches, patch_context)``: ``frames [T, S, S]`` crops of *one
    fixed window*, ``landmarks [T, 68, 2]``, ``patches [T, 2, 80, 80, 3]``, ``patch_context [T]``;
    pairs are ``(t, t + 1)``; outputs ``pair_*`` ``[max(T - 1, 1)]``, ``frame_texture`` and
    ``frame_texture_used`` ``[T]``, and the clip scalars of ``model_graph.aggregate``. With
    ``T < 2`` the verdict is ``undecided: too_few_pairs``.

    Inside the graph (where TFLite cannot raise) a call whose inputs do not share one batch size
    gives no valid pair and no used texture; the Python call raises ``ValueError`` first.

    ``jit_compile``: ``check`` and ``check_pair`` are compiled by XLA (``check_clip`` never is: a
    clip's length changes from call to call, and XLA compiles every new input shape anew, 6-10 s
    each on this project's 2-core CPU; a server pins pair batches to a few sizes instead).

    ``pair_batch`` fixes ``B`` in ``check`` and ``check_pair`` (None: any); a batch of 1 is what
    a device scoring one pair per frame runs (``liveness_pair.tflite``). ``window_reads``: how LK
    reads its windows in ``check`` and ``check_pair`` (``model_graph.lucas_kanade.WINDOW_READS``):
    ``"gathers"`` for a module converted to TFLite (``export.exporter`` does so), ``"windows"``
    under XLA and ``"products"`` for TensorFlow without it (``None``, the default: ``"windows"``
    with ``jit_compile``, else ``"products"``). ``check_clip``, never compiled, reads by
    products where the pair signatures read by ``"windows"``.
    ``pair_chunk``: a larger batch is checked that many pairs at a time in a loop
    (``model_graph.check.check_in_chunks``), which keeps a CPU's caches warm; ``None`` checks
    every pair at once — for a GPU, and for a module converted to TFLite (one pair per call).
    ``pair_streams``: under XLA and with chunks, a batch of at least that many pairs is split
    into that many parts, each its own compiled call, checked at the same time
    (``model_graph.check.in_streams``): ``check`` and ``check_pair`` then compile the parts, not
    the split around them. Plain TensorFlow checks a batch as one part (it gained nothing).

    Constructing one turns TensorFloat-32 off in the process
    (``tf.config.experimental.enable_tensor_float_32_execution(False)``): on Ampere and later
    GPUs TensorFlow's default lets matrix products round their inputs to 10-bit mantissas, which
    moved landmark flow by up to 0.04 px and the plane residual by up to 3.9 on an H100 and
    changed decisions (docs/benchmarks.md, GPU). It changes nothing on a CPU.
    """

    def __init__(self, cfg: LivenessConfig, *, jit_compile: bool = False,
                 pair_batch: int | None = None, window_reads: str | None = None,
                 pair_chunk: int | None = PAIR_CHUNK, pair_streams: int = PAIR_STREAMS) -> None:
        super().__init__(name="liveness_check")
        tf.config.experimental.enable_tensor_float_32_execution(False)
        if pair_chunk is not None and pair_chunk < 1:
            raise ValueError(f"pair chunk must be at least 1 (or None: every pair at once), "
                             f"got {pair_chunk}")
        if pair_streams < 1:
            raise ValueError(f"pair streams must be at least 1, got {pair_streams}")
        if farneback_levels(cfg.eye_patch_px, cfg.fb_pyr_scale, cfg.fb_levels) > 0:
            raise ValueError(f"eye_patch_px={cfg.eye_patch_px} makes OpenCV's Farneback use more "
                             f"than one level; the graph supports patches below "
                             f"{int(32 / cfg.fb_pyr_scale)} px")
        if window_reads is None:
            window_reads = "windows" if jit_compile else "products"
        strip_step(window_reads)                                  # a known way of reading
        if window_reads == "windows" and not jit_compile:
            raise ValueError("window reads 'windows' need XLA (jit_compile=True): a TensorFlow "
                             "runtime without it has no kernel for their gather")
        self.cfg, self.window_reads, self.pair_chunk = cfg, window_reads, pair_chunk
        #: Parts of a batch checked at the same time (one without XLA or without chunks).
        self.pair_streams = pair_streams if jit_compile and pair_chunk is not None else 1
        self._texture_networks = FrozenTexture()
        size = cfg.crop_size

        def specs(batch: int | None) -> list[tf.TensorSpec]:
            return [tf.TensorSpec([batch, size, size], tf.uint8, name="prev"),
                    tf.TensorSpec([batch, size, size], tf.uint8, name="next"),
                    tf.TensorSpec([batch, N_LANDMARKS, 2], tf.float32, name="landmarks"),
                    tf.TensorSpec([batch, 2, PATCH_PX, PATCH_PX, 3], tf.uint8, name="patches"),
                    tf.TensorSpec([batch], tf.float32, name="patch_context")]

        signature = specs(pair_batch)
        if self.pair_streams == 1:
            self.check = tf.function(self._check, input_signature=signature,
                                     jit_compile=jit_compile)
            self.check_pair = tf.function(self._check_pair, input_signature=signature[:3],
                                          jit_compile=jit_compile)
        else:                       # each part one compiled call, the split around them not
            self._compiled_check = tf.function(self._check, jit_compile=True)
            self._compiled_check_pair = tf.function(self._check_pair, jit_compile=True)
            self.check = tf.function(self._check_in_streams, input_signature=signature)
            self.check_pair = tf.function(self._check_pair_in_streams,
                                          input_signature=signature[:3])
        clip_signature = [tf.TensorSpec([None, size, size], tf.uint8, name="frames"), *specs(None)[2:]]
        self.check_clip = tf.function(self._check_clip, input_signature=clip_signature)

    def __call__(self, prev, next, landmarks, patches=None, patch_context=None) -> dict[str, tf.Tensor]:
        """Validate the inputs (``ValueError``/``TypeError`` naming what came) and run ``check``.
        Without ``patches`` the texture outputs are for blank patches and not used."""
        from liveness.inputs import validate_batch

        prev, next, landmarks, patches, patch_context = validate_batch(
            prev, next, landmarks, patches, patch_context, self.cfg.crop_size)
        return self.check(prev, next, landmarks, patches, patch_context)

    def clip(self, frames, landmarks, patches=None, patch_context=None) -> dict[str, tf.Tensor]:
        """Validate (as :meth:`__call__`, at least two frames) and run ``check_clip``."""
        from liveness.inputs import validate_batch

        frames, _, landmarks, patches, patch_context = validate_batch(
            frames, frames, landmarks, patches, patch_context, self.cfg.crop_size, minimum=2,
            names=("frames", "frames"))
        return self.check_clip(frames, landmarks, patches, patch_context)

    def _texture(self, patches: tf.Tensor, context: tf.Tensor) -> dict[str, tf.Tensor]:
        probability = self._texture_networks.real_probability(patches)
        return {"texture": probability, "texture_used": context >= self.cfg.texture_min_scale}

    def _check(self, prev, next, landmarks, patches, patch_context) -> dict[str, tf.Tensor]:
        same = _same_batch(tf.shape(prev)[0], next, landmarks, patches, patch_context)
        return self._pairs(prev, next, landmarks, same, (patches, patch_context))

    def _check_pair(self, prev, next, landmarks) -> dict[str, tf.Tensor]:
        return self._pairs(prev, next, landmarks, _same_batch(tf.shape(prev)[0], next, landmarks))

    def _pairs(self, prev, next, landmarks, same, texture_inputs=None) -> dict[str, tf.Tensor]:
        """``check_pair`` (and the texture of ``(patches, patch_context)`` when given) with the
        flags false unless ``same``; batch 0 runs on one blank pair."""
        batch = tf.shape(prev)[0]
        inputs = [prev, next, landmarks, *(texture_inputs or ())]
        if not _one_static_batch(inputs):
            n = tf.maximum(batch, 1)
            inputs = [fit_rows(t, n) for t in inputs]
        out = self._check_pairs(*inputs[:3])
        if texture_inputs is not None:
            out.update(self._texture(*inputs[3:]))
        return {k: _mask(k, v, same)[:batch] for k, v in out.items()}

    def _check_in_streams(self, prev, next, landmarks, patches, patch_context
                          ) -> dict[str, tf.Tensor]:
        return self._in_streams(self._compiled_check,
                                [prev, next, landmarks, patches, patch_context])

    def _check_pair_in_streams(self, prev, next, landmarks) -> dict[str, tf.Tensor]:
        return self._in_streams(self._compiled_check_pair, [prev, next, landmarks])

    def _in_streams(self, check, inputs: list[tf.Tensor]) -> dict[str, tf.Tensor]:
        """``check(*inputs)`` (a compiled ``check`` or ``check_pair``) of a batch of at least
        :attr:`pair_streams` pairs as that many calls at once (``model_graph.check.in_streams``);
        of a smaller batch, one call. As in one call, inputs that do not share one batch size
        give no valid pair."""
        batch, streams = tf.shape(inputs[0])[0], self.pair_streams
        same = _same_batch(batch, *inputs[1:])

        def split() -> dict[str, tf.Tensor]:
            out = in_streams(check, inputs, streams)
            return {k: _mask(k, v, same) for k, v in out.items()}

        static = inputs[0].shape[0]
        if static is not None:
            return split() if static >= streams else check(*inputs)
        return tf.cond(batch >= streams, split, lambda: check(*inputs))

    def _check_pairs(self, prev, next, landmarks, reads: str | None = None) -> dict[str, tf.Tensor]:
        return check_in_chunks(prev, next, landmarks, self.cfg, reads or self.window_reads,
                               self.pair_chunk)

    def _check_clip(self, frames, landmarks, patches, patch_context) -> dict[str, tf.Tensor]:
        count = tf.shape(frames)[0]
        same = _same_batch(count, landmarks, patches, patch_context)
        n = tf.maximum(count, 2)                        # T < 2 runs on a blank pair, not valid
        frames, landmarks = fit_rows(frames, n), fit_rows(landmarks, n)
        # check_clip is never compiled: no XLA to run the "windows" gather.
        reads = "products" if self.window_reads == "windows" else self.window_reads
        pairs = self._check_pairs(frames[:-1], frames[1:], landmarks[:-1], reads)
        real = tf.range(n - 1) < count - 1
        pairs = {k: _mask(k, v, same & real) for k, v in pairs.items()}
        frames_n = tf.maximum(count, 1)                 # no frame runs on one blank patch pair
        texture = {k: v[:count] for k, v in self._texture(fit_rows(patches, frames_n),
                                                           fit_rows(patch_context, frames_n)).items()}
        used = texture["texture_used"] & same
        too_close = (fit_rows(patch_context, count) > 0) & ~texture["texture_used"] & same
        clip = aggregate_clip(pairs, tf.maximum(count - 1, 0), texture["texture"], used,
                              too_close, self.cfg)
        return {**{f"pair_{k}": pairs[k] for k in ("score", "valid", "is_live", "sigma", "motion",
                                                   "plane_residual", "motion_judged", "planar")},
                "frame_texture": texture["texture"], "frame_texture_used": used, **clip}


def _same_batch(batch: tf.Tensor, *tensors: tf.Tensor) -> tf.Tensor:
    same = tf.constant(True)
    for tensor in tensors:
        same = same & tf.equal(tf.shape(tensor)[0], batch)
    return same


def _one_static_batch(tensors: list[tf.Tensor]) -> bool:
    """Whether every tensor's first axis is known when tracing and the same, at least 1 (then
    none needs fitting; a constant of zeros would only grow the exported file)."""
    rows = {t.shape[0] for t in tensors}
    return len(rows) == 1 and None not in rows and min(rows) >= 1


def _mask(name: str, value: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    """Flags and texture use are false where ``keep`` (scalar or ``[B]``) is false."""
    if name not in _FLAGS and name != "texture_used":
        return value
    keep = tf.reshape(keep, [-1] + [1] * (value.shape.rank - 1)) if keep.shape.rank else keep
    return value & keep

