"""The OpenCV reference check of one frame pair: stages S3-S5 composed (SPEC §1-3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liveness.config import LivenessConfig
from liveness.conventions import N_LANDMARKS, eye_boxes, face_grid
from liveness.reference.decision import decide
from liveness.reference.flow import eye_flow, forward_backward_error, landmark_flow
from liveness.reference.histogram import direction_histogram, gated
from liveness.reference.motion import forward_backward_keep, motion_evidence
from liveness.reference.polar import cart_to_polar
from liveness.reference.score import chi_square_score


@dataclass(frozen=True)
class PairEvidence:
    """What one frame pair shows. Arrays are numpy; coordinates are crop pixels."""

    score: float | None
    """Chi-square score k in [0, 200], or None when too few vectors passed the gate."""
    is_live: bool | None
    """``score > threshold``, or None without a score."""
    landmark_hist: np.ndarray
    """``[bins]`` float32 raw counts of landmark flow directions."""
    eye_hist: np.ndarray
    """``[bins]`` float32 raw counts of eye-box flow directions."""
    landmark_flow: np.ndarray
    """``[68, 2]`` float32 (dx, dy); zero where not tracked."""
    landmark_status: np.ndarray
    """``[68]`` bool: the landmark was tracked."""
    eye_boxes: np.ndarray
    """``[2, 4]`` float32 ``(x0, y0, x1, y1)``: subject's right eye, then left eye."""
    landmark_vectors: int
    """Landmark vectors in the histogram (tracked and through the motion gate)."""
    eye_vectors: int
    """Eye-box vectors in the histogram."""
    sigma: float | None
    """Flow noise σ of the pair, crop pixels (None when the face grid could not measure it)."""
    motion: float
    """Median flow length of the kept face points, crop pixels."""
    plane_residual: float | None
    """Homography residual of the kept points in units of σ (None when the pair is not judged)."""
    motion_judged: bool
    """The pair moved at least ``motion_judge_sigma`` σ with enough kept points."""
    planar: bool
    """Judged, and one plane explains its motion to ``plane_residual_sigma`` σ."""
    points_kept: int
    """Face points (landmarks and grid) kept by LK's status and the forward-backward filter."""

    @classmethod
    def from_graph_outputs(cls, out: dict[str, np.ndarray]) -> PairEvidence:
        """The evidence of one pair from the graph's outputs (``LivenessCheck``, SavedModel or
        TFLite), each already indexed to that pair."""
        valid = bool(out["valid"])
        judged = bool(out["motion_judged"])
        return cls(score=float(out["score"]) if valid else None,
                   is_live=bool(out["is_live"]) if valid else None,
                   landmark_hist=np.asarray(out["landmark_hist"]), eye_hist=np.asarray(out["eye_hist"]),
                   landmark_flow=np.asarray(out["landmark_flow"]),
                   landmark_status=np.asarray(out["landmark_status"]).astype(bool),
                   eye_boxes=np.asarray(out["eye_boxes"]),
                   landmark_vectors=int(out["landmark_vectors"]), eye_vectors=int(out["eye_vectors"]),
                   sigma=float(out["sigma"]) if bool(out["sigma_valid"]) else None,
                   motion=float(out["motion"]),
                   plane_residual=float(out["plane_residual"]) if judged else None,
                   motion_judged=judged, planar=bool(out["planar"]),
                   points_kept=int(out["points_kept"]))


def check_pair(prev: np.ndarray, next: np.ndarray, landmarks: np.ndarray,
               cfg: LivenessConfig) -> PairEvidence:
    """Score one pair of grey face crops with the OpenCV reference path.

    Args:
        prev, next: ``[height, width]`` uint8 grey crops of the same window in two frames.
        landmarks: ``[68, 2]`` float (x, y) in ``prev``'s crop pixels, iBUG order.
        cfg: the configuration.

    Raises:
        TypeError: crops not uint8. ValueError: wrong ranks or shapes, non-finite landmarks.
    """
    validate_pair(prev, next, landmarks)
    points = np.asarray(landmarks, np.float32)
    points = np.concatenate([points, face_grid(points, cfg.motion_grid)])
    face_flow, kept = landmark_flow(prev, next, points, cfg)
    if cfg.forward_backward:
        error, back = forward_backward_error(prev, next, points, face_flow, cfg)
        kept = forward_backward_keep(kept, back, error, cfg)
        face_flow = np.where(kept[:, None], face_flow, np.float32(0))
    motion = motion_evidence(points, face_flow, kept, cfg)
    flow, status = face_flow[:N_LANDMARKS], kept[:N_LANDMARKS]
    boxes = eye_boxes(points[:N_LANDMARKS], cfg.eye_min_box_px, cfg.eye_box_scale)
    dense, mask = eye_flow(prev, next, boxes, cfg)

    lm_mag, lm_ang = cart_to_polar(flow)
    eye_mag, eye_ang = cart_to_polar(dense)
    gate = significance_gate(motion.sigma, cfg)
    bins, weight = cfg.bins, cfg.histogram_weight
    lm_hist = direction_histogram(lm_mag, lm_ang, status, bins, gate, weight)
    eye_hist = direction_histogram(eye_mag, eye_ang, mask, bins, gate, weight)
    lm_count = int(gated(lm_mag, status, gate).sum())
    eye_count = int(gated(eye_mag, mask, gate).sum())

    enough = lm_count >= max(cfg.min_landmark_vectors, 1) and eye_count >= max(cfg.min_eye_vectors, 1)
    score = chi_square_score(lm_hist, eye_hist) if enough else None
    return PairEvidence(score=score, is_live=decide(score, cfg.threshold), landmark_hist=lm_hist,
                        eye_hist=eye_hist, landmark_flow=flow, landmark_status=status,
                        eye_boxes=boxes, landmark_vectors=lm_count, eye_vectors=eye_count,
                        sigma=motion.sigma, motion=motion.motion, plane_residual=motion.residual,
                        motion_judged=motion.judged, planar=motion.planar,
                        points_kept=motion.points)


def significance_gate(sigma: float | None, cfg: LivenessConfig) -> float:
    """The histograms' motion gate, pixels: ``max(min_motion_px, significance_sigma x σ)``; with
    a significance test and no measured σ, nothing passes (infinite gate)."""
    if cfg.significance_sigma == 0:
        return cfg.min_motion_px
    if sigma is None:
        return float("inf")
    return max(cfg.min_motion_px, cfg.significance_sigma * sigma)


def validate_pair(prev: np.ndarray, next: np.ndarray, landmarks: np.ndarray) -> None:
    """Raise ``TypeError``/``ValueError`` saying what was expected when a pair is malformed."""
    for name, crop in (("prev", prev), ("next", next)):
        if not isinstance(crop, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(crop).__name__}")
        if crop.ndim != 2:
            raise ValueError(f"{name} must be a [height, width] grey crop, got shape {crop.shape}")
        if crop.dtype != np.uint8:
            raise TypeError(f"{name} must be uint8 (0..255), got {crop.dtype}")
    if prev.shape != next.shape:
        raise ValueError(f"prev and next must have the same shape, got {prev.shape} and {next.shape}")
    points = np.asarray(landmarks)
    if points.shape != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be [{N_LANDMARKS}, 2] (x, y), got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("landmarks must be finite")
