"""The accepted inputs of the check, in one place (docs/inputs.md lists them with the errors).

| input | shape | dtype | range |
|---|---|---|---|
| ``prev``, ``next`` (pair crops), ``frames`` (clip crops) | ``[B, S, S]`` / ``[T, S, S]``, ``S = crop_size`` | uint8 | 0..255 |
| ``landmarks`` | ``[B, 68, 2]`` / ``[T, 68, 2]`` (x, y) crop pixels | float32 or float64 | any; NaN/inf = an untracked point |
| ``patches`` (texture) | ``[B, 2, 80, 80, 3]`` BGR, scale 2.7 then 4.0 | uint8 | 0..255 |
| ``patch_context`` | ``[B]`` | float32 or float64 | 0..1 |

Every leading axis is the same ``B`` (or ``T``), at least 1 for pairs and at least 2 frames for a
clip. Anything else raises ``TypeError`` (dtype) or ``ValueError`` (shape, size, range) naming what
was expected and what came. Inside the exported graph, where nothing can raise, a call whose
inputs disagree on the batch size gives no valid pair (``valid``, ``texture_used`` false).
"""

from __future__ import annotations

import numpy as np

from liveness.conventions import N_LANDMARKS

PATCH_SHAPE = (2, 80, 80, 3)


def _array(name: str, value, dtypes: tuple[str, ...]) -> np.ndarray:
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    if array.dtype.name not in dtypes:
        raise TypeError(f"{name} must be {' or '.join(dtypes)}, got {array.dtype.name}")
    return array


def validate_batch(prev, next, landmarks, patches, patch_context, crop_size: int, *,
                   minimum: int = 1, names: tuple[str, str] = ("prev", "next")):
    """The five inputs of a pair check as numpy arrays (``patches``/``patch_context`` of ``None``
    become blank, unused texture input), or ``TypeError``/``ValueError``.

    >>> validate_batch(np.zeros((2, 64, 64), np.uint8), np.zeros((2, 64, 64), np.uint8),
    ...                np.zeros((1, 68, 2), np.float32), None, None, 64)
    Traceback (most recent call last):
    ...
    ValueError: every input must have the same batch size: prev (2, 64, 64), next (2, 64, 64), landmarks (1, 68, 2), patches (2, 2, 80, 80, 3), patch_context (2,)
    """
    crops = []
    for name, value in zip(names, (prev, next)):
        crop = _array(name, value, ("uint8",))
        if crop.ndim != 3 or crop.shape[1:] != (crop_size, crop_size):
            raise ValueError(f"{name} must be [batch, {crop_size}, {crop_size}] uint8 grey crops "
                             f"(the model's crop size), got shape {crop.shape}")
        crops.append(crop)
    marks = _array("landmarks", landmarks, ("float32", "float64")).astype(np.float32)
    if marks.ndim != 3 or marks.shape[1:] != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be [batch, {N_LANDMARKS}, 2] (x, y), got shape {marks.shape}")
    batch = crops[0].shape[0]
    if patches is None:
        patches = np.zeros((batch, *PATCH_SHAPE), np.uint8)
        patch_context = np.zeros(batch, np.float32)
    patches = _array("patches", patches, ("uint8",))
    if patches.ndim != 5 or patches.shape[1:] != PATCH_SHAPE:
        raise ValueError(f"patches must be [batch, 2, 80, 80, 3] uint8 BGR, got shape {patches.shape}")
    context = _array("patch_context", patch_context, ("float32", "float64")).astype(np.float32)
    if context.ndim != 1 or not np.all((context >= 0) & (context <= 1)):
        raise ValueError(f"patch_context must be [batch] in 0..1, got shape {context.shape}")
    arrays = dict(zip(names, crops), landmarks=marks, patches=patches, patch_context=context)
    if len({a.shape[0] for a in arrays.values()}) > 1:
        listed = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
        raise ValueError(f"every input must have the same batch size: {listed}")
    if batch < minimum:
        raise ValueError(f"expected at least {minimum} {'frames' if minimum > 1 else 'pair'}, "
                         f"got {batch}")
    return crops[0], crops[1], marks, patches, context
