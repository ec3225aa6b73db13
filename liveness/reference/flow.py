"""Stage S3: optical flow between the two crops of a pair, with OpenCV.

Flow is ``(dx, dy)`` in crop pixels, from ``prev`` to ``next``.
"""

from __future__ import annotations

import cv2
import numpy as np

from liveness.config import LivenessConfig
from liveness.conventions import box_mask, patch_origin


def landmark_flow(prev: np.ndarray, next: np.ndarray, points: np.ndarray,
                  cfg: LivenessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``) at the landmarks (and any extra points).

    Args:
        prev, next: ``[height, width]`` uint8 grey crops.
        points: ``[N, 2]`` float32 (x, y) in ``prev``'s pixels (the 68 landmarks first).
        cfg: ``lk_window``, ``lk_max_level``, ``lk_iterations``, ``lk_epsilon``,
            ``lk_min_eigenvalue`` are used.

    Returns:
        ``flow [N, 2]`` float32 (dx, dy) and ``status [N]`` bool (the point was tracked). Flow of
        an untracked point is set to 0.

    Example:
        >>> from liveness.config import preset
        >>> img = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
        >>> flow, ok = landmark_flow(img, img, np.full((68, 2), 32, np.float32), preset("patent"))
        >>> bool(ok.all()), float(np.abs(flow).max())
        (True, 0.0)
    """
    pts = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, cfg.lk_iterations, cfg.lk_epsilon)
    moved, status, _err = cv2.calcOpticalFlowPyrLK(
        prev, next, pts, None,
        winSize=(cfg.lk_window, cfg.lk_window), maxLevel=cfg.lk_max_level, criteria=criteria,
        flags=0, minEigThreshold=cfg.lk_min_eigenvalue)
    ok = status.reshape(-1).astype(bool)
    flow = (moved - pts).reshape(-1, 2)
    flow[~ok] = 0.0
    return flow.astype(np.float32), ok


def forward_backward_error(prev: np.ndarray, next: np.ndarray, points: np.ndarray, flow: np.ndarray,
                           cfg: LivenessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Round-trip error of ``points [N, 2]`` moved by ``flow [N, 2]``: LK from ``next`` back to
    ``prev`` at ``points + flow`` (same parameters as :func:`landmark_flow`).

    Returns ``error [N]`` float32 (pixels between the start and the point tracked back; 0 where
    not tracked back) and ``status [N]`` bool (tracked back).
    """
    moved = np.asarray(points, np.float32) + np.asarray(flow, np.float32)
    back, status = landmark_flow(next, prev, moved, cfg)
    error = np.linalg.norm(moved + back - points, axis=1).astype(np.float32)
    return np.where(status, error, np.float32(0)), status


def eye_flow(prev: np.ndarray, next: np.ndarray, boxes: np.ndarray,
             cfg: LivenessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Dense Farneback flow (``cv2.calcOpticalFlowFarneback``) around each eyeball box.

    Each box gets a square patch of ``cfg.eye_patch_px`` pixels centred on it (see
    ``conventions.patch_origin``); parts of the patch beyond the crop are filled by reflect-101
    (``cv2.BORDER_REFLECT_101``). The flow is computed on the whole patch, so the small box has
    context for Farneback's windows, and the mask marks the patch pixels inside the box.

    Args:
        prev, next: ``[height, width]`` uint8 grey crops.
        boxes: ``[2, 4]`` float32 eyeball boxes ``(x0, y0, x1, y1)`` from ``conventions.eye_boxes``.
        cfg: ``eye_patch_px`` and the ``fb_*`` fields are used.

    Returns:
        ``flow [2, P, P, 2]`` float32 (dx, dy) and ``mask [2, P, P]`` bool, ``P = eye_patch_px``.
    """
    size = cfg.eye_patch_px
    flows, masks = [], []
    for box in np.asarray(boxes, dtype=np.float32):
        origin = patch_origin(box, size)
        a = _patch(prev, origin, size)
        b = _patch(next, origin, size)
        flows.append(cv2.calcOpticalFlowFarneback(
            a, b, None, pyr_scale=cfg.fb_pyr_scale, levels=cfg.fb_levels, winsize=cfg.fb_window,
            iterations=cfg.fb_iterations, poly_n=cfg.fb_poly_n, poly_sigma=cfg.fb_poly_sigma,
            flags=0))
        masks.append(box_mask(box, origin, size))
    return np.stack(flows).astype(np.float32), np.stack(masks)


def _patch(image: np.ndarray, origin: np.ndarray, size: int) -> np.ndarray:
    """``[size, size]`` window of ``image`` with top-left ``origin`` (x, y), reflect-101 outside."""
    h, w = image.shape
    x0, y0 = int(origin[0]), int(origin[1])
    pad = max(0, -x0, -y0, x0 + size - w, y0 + size - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(image[y0 + pad:y0 + pad + size, x0 + pad:x0 + pad + size])
