"""Conventions shared by every path, in one place (SPEC §2). Pure numpy: no cv2, no TensorFlow.

- Images are row-major, ``y`` down, ``x`` right; pixel centres sit at integer coordinates.
- Points are ``(x, y)`` and flow is ``(dx, dy)``, float32 pixels, from ``prev`` to ``next``.
- Direction ``theta = atan2(dy, dx)`` taken into ``[0, 2*pi)``: measured from +x towards +y, i.e.
  clockwise on screen, the angle ``cv2.cartToPolar`` returns.
- Bin ``i`` of ``bins`` holds ``theta`` in ``[i, i+1) * 2*pi / bins``; ``theta = 2*pi`` wraps to 0.
- Landmarks follow the iBUG 68-point scheme, zero-based. The subject's right eye (on the image's
  left) is points 36-41, the left eye 42-47.

>>> direction_bin(np.array([0.0, np.pi / 2, 2 * np.pi - 1e-5, 2 * np.pi]), 10).tolist()
[0, 2, 9, 0]
>>> eye_boxes(np.arange(136, dtype=np.float32).reshape(68, 2), 4.0).tolist()[0]
[74.0, 75.0, 80.0, 81.0]
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 68

#: Corner landmarks of the eyeball boxes (SPEC §1): (top-left, bottom-right) for the subject's
#: right eye (image left) and left eye (image right).
EYE_BOX_CORNERS: tuple[tuple[int, int], tuple[int, int]] = ((37, 40), (43, 46))

#: iBUG-68 regions, used for per-region landmark error.
REGIONS: dict[str, range] = {
    "jaw": range(0, 17),
    "brows": range(17, 27),
    "nose": range(27, 36),
    "eyes": range(36, 48),
    "mouth": range(48, 68),
}

#: Planarity: a point set whose spread matrix has ``det < PLANARITY_DEGENERATE * trace**2``
#: (nearly collinear points) is not judged.
PLANARITY_DEGENERATE = 1e-4

RIGHT_EYE = range(36, 42)  # subject's right eye, on the image's left; MTCNN's "left_eye"
LEFT_EYE = range(42, 48)


def direction_bin(theta: np.ndarray, bins: int) -> np.ndarray:
    """Bin index in ``0..bins-1`` of angles ``theta`` in radians, ``[0, 2*pi]`` (2*pi wraps to 0).

    Computed in float32 as ``floor(theta * float32(bins / (2*pi)))``, the graph's exact formula,
    so an angle within float32 rounding (about 1e-6 rad) of a bin edge may fall on either side of
    it, but on the same side in both paths.
    """
    scale = np.float32(bins / (2 * np.pi))
    index = np.floor(np.asarray(theta, dtype=np.float32) * scale).astype(np.int64)
    return np.clip(np.where(index >= bins, index - bins, index), 0, bins - 1)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """Centres ``[2, 2]`` (x, y) of the subject's right then left eye from ``[..., 68, 2]`` points."""
    pts = np.asarray(landmarks, dtype=np.float32)
    return np.stack([pts[..., RIGHT_EYE, :].mean(axis=-2), pts[..., LEFT_EYE, :].mean(axis=-2)],
                    axis=-2)


def eye_boxes(landmarks: np.ndarray, min_size: float, scale: float = 1.0) -> np.ndarray:
    """Eyeball boxes ``[2, 4]`` as ``(x0, y0, x1, y1)`` float pixels, from ``[68, 2]`` landmarks.

    Each box spans its two corner landmarks (37/40 and 43/46), ordered so ``x0 <= x1`` and
    ``y0 <= y1``, is scaled by ``scale`` about its centre, then grown symmetrically to at least
    ``min_size`` per side. A pixel ``(x, y)`` belongs to the box when ``x0 <= x <= x1`` and
    ``y0 <= y <= y1``.
    """
    pts = np.asarray(landmarks, dtype=np.float32)
    boxes = []
    for a, b in EYE_BOX_CORNERS:
        lo = np.minimum(pts[a], pts[b])
        hi = np.maximum(pts[a], pts[b])
        centre = (lo + hi) * np.float32(0.5)
        half = np.maximum((hi - lo) * np.float32(0.5 * scale), np.float32(min_size * 0.5))
        boxes.append(np.concatenate([centre - half, centre + half]))
    return np.stack(boxes).astype(np.float32)


def face_grid(landmarks: np.ndarray, size: int) -> np.ndarray:
    """``[size * size, 2]`` float32 (x, y) points on a regular grid inside the face, row by row.

    The grid spans the bounding box of the inner landmarks (17-67: brows, nose, eyes, mouth) at
    fractions ``(i + 0.5) / size`` of its sides, in float32 (the graph's exact formula).

    >>> face_grid(np.tile(np.float32([[0, 0], [40, 20]]), (34, 1)), 2).tolist()
    [[10.0, 5.0], [30.0, 5.0], [10.0, 15.0], [30.0, 15.0]]
    """
    inner = np.asarray(landmarks, dtype=np.float32)[17:]
    lo, hi = inner.min(axis=0), inner.max(axis=0)
    steps = (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size)
    xs = lo[0] + steps * (hi[0] - lo[0])
    ys = lo[1] + steps * (hi[1] - lo[1])
    return np.stack([np.tile(xs, size), np.repeat(ys, size)], axis=1).astype(np.float32)


def patch_origin(box: np.ndarray, patch: int) -> np.ndarray:
    """Integer top-left ``(x, y)`` of the ``patch``-pixel square centred on a ``(x0, y0, x1, y1)`` box.

    ``floor((lo + hi) * 0.5 + 0.5) - patch // 2`` in float32, the graph's exact formula.
    """
    box = np.asarray(box, dtype=np.float32)
    centre = (box[:2] + box[2:]) * np.float32(0.5)
    return (np.floor(centre + np.float32(0.5)) - patch // 2).astype(np.int64)


def box_mask(box: np.ndarray, origin: np.ndarray, patch: int) -> np.ndarray:
    """``[patch, patch]`` bool mask of the patch pixels (top-left at ``origin``) inside ``box``."""
    coords = np.arange(patch, dtype=np.float32)
    xs = coords + np.float32(origin[0])
    ys = coords + np.float32(origin[1])
    in_x = (xs >= box[0]) & (xs <= box[2])
    in_y = (ys >= box[1]) & (ys <= box[3])
    return in_y[:, None] & in_x[None, :]
