"""The one frozen configuration of the check, and its named presets.

Every stage (OpenCV reference, TensorFlow graph, clip pipeline) reads its parameters from a
:class:`LivenessConfig`; nothing passes loose keyword arguments through layers. Presets are looked up
by name with :func:`preset`; an unknown name raises ``ValueError`` listing the valid ones.

>>> preset("patent").threshold
100.0
>>> preset("default").replace(threshold=20.0).threshold
20.0
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

Aggregation = Literal["median", "vote"]
LandmarkBackendName = Literal["template", "facemesh"]
DetectorName = Literal["mtcnn", "blazeface", "auto"]
DETECTORS: tuple[str, ...] = ("mtcnn", "blazeface", "auto")
Decision = Literal["chi_square", "motion", "texture", "fused"]
HistogramWeight = Literal["count", "magnitude"]
DECISIONS: tuple[str, ...] = ("chi_square", "motion", "texture", "fused")
#: The cues that ``fused`` composes, in the order their reasons are reported.
FUSED_CUES: tuple[str, ...] = ("texture", "motion")


def deciding_cues(decision: str) -> tuple[str, ...]:
    """The cues a ``decision`` composes: :data:`FUSED_CUES` for ``fused``, else that one cue.

    >>> deciding_cues("fused"), deciding_cues("motion")
    (('texture', 'motion'), ('motion',))
    """
    return FUSED_CUES if decision == "fused" else (decision,)


@dataclass(frozen=True)
class LivenessConfig:
    """Parameters of the liveness check. Pixel values refer to the square face crop."""

    preset: str = "custom"
    """Name of the preset this config came from (``custom`` when built by hand)."""

    # --- face crop -------------------------------------------------------------------------------
    crop_size: int = 160
    """Side of the square grey face crop in pixels; both frames of a pair use the same window."""
    crop_scale: float = 1.4
    """Crop side divided by the larger side of the 68 landmarks' bounding box."""

    # --- pyramidal Lucas-Kanade at the 68 landmarks (cv2.calcOpticalFlowPyrLK) -------------------
    lk_window: int = 15
    """Side of the square LK integration window, pixels (odd)."""
    lk_max_level: int = 2
    """Highest pyramid level (0 = no pyramid); OpenCV's ``maxLevel``."""
    lk_iterations: int = 20
    """Maximum LK iterations per level (``TERM_CRITERIA_COUNT``)."""
    lk_epsilon: float = 0.01
    """Stop iterating when the update is shorter than this, pixels (``TERM_CRITERIA_EPS``)."""
    lk_min_eigenvalue: float = 1e-4
    """OpenCV's ``minEigThreshold``: a point whose normalised gradient matrix has a smaller minimum
    eigenvalue is not tracked (status false)."""

    # --- dense flow inside the eyeball boxes (cv2.calcOpticalFlowFarneback) ----------------------
    eye_patch_px: int = 32
    """Side of the square patch, centred on each eyeball box, on which the dense flow is computed;
    only pixels inside the box are histogrammed. The rest is context for the flow's windows."""
    eye_min_box_px: float = 6.0
    """Boxes narrower or shorter than this are grown symmetrically about their centre to this size."""
    eye_box_scale: float = 1.0
    """Each eyeball box is scaled about its centre by this factor before ``eye_min_box_px``
    applies (1 = the patent's box from the corner landmarks)."""
    fb_pyr_scale: float = 0.5
    """Farneback ``pyr_scale``: image scale between pyramid levels."""
    fb_levels: int = 2
    """Farneback ``levels``: number of pyramid levels including the full-resolution one."""
    fb_window: int = 9
    """Farneback ``winsize``: averaging window, pixels."""
    fb_iterations: int = 3
    """Farneback ``iterations`` per pyramid level."""
    fb_poly_n: int = 5
    """Farneback ``poly_n``: neighbourhood of the polynomial expansion, pixels."""
    fb_poly_sigma: float = 1.1
    """Farneback ``poly_sigma``: Gaussian sigma of the polynomial expansion."""

    # --- histograms, motion gate, score ----------------------------------------------------------
    bins: int = 10
    """Direction bins over [0, 2*pi); bin i holds [i, i+1) * 2*pi / bins."""
    min_motion_px: float = 0.0
    """Motion gate: vectors shorter than this carry no direction and are left out (0 = no gate)."""
    min_landmark_vectors: int = 1
    """A pair with fewer landmark vectors after the gate has no score."""
    min_eye_vectors: int = 1
    """A pair with fewer eye-box vectors after the gate has no score."""
    histogram_weight: HistogramWeight = "count"
    """``count``: each vector adds 1 to its direction bin (the patent); ``magnitude``: it adds its
    length in pixels, so sub-pixel noise weighs less than real motion."""
    threshold: float = 100.0
    """Live when the score k is above this (k is in [0, 200])."""

    # --- the motion cue: noise, forward-backward filter, plane test (SPEC §4b) ------------------
    motion_grid: int = 7
    """LK also runs at a ``motion_grid`` x ``motion_grid`` grid inside the face (bounding box of
    points 17-67); the grid's flow roughness gives the noise σ and its points join the plane fit."""
    forward_backward: bool = True
    """Track every point back from ``next`` to ``prev`` and drop the points whose round trip
    misses (the ``patent`` preset keeps LK's status alone)."""
    fb_max_ratio: float = 3.0
    """A point is kept when its round-trip error is at most this x the pair's median error ..."""
    fb_floor_px: float = 0.1
    """... or at most this many pixels."""
    sigma_floor_px: float = 0.02
    """The noise σ is never taken below this, pixels (the roughness of a perfectly smooth flow)."""
    significance_sigma: float = 0.0
    """A flow vector enters the direction histograms only when it is at least this x σ long (and
    at least ``min_motion_px``); 0 = no significance test (the patent)."""
    motion_min_points: int = 12
    """A pair with fewer kept points is not judged by the plane test."""
    motion_judge_sigma: float = 10.0
    """A pair is judged when the kept points' median motion is at least this x σ ..."""
    motion_min_px: float = 0.5
    """... and at least this many crop pixels: under it a face's depth relief would move the nose
    against the cheeks by hundredths of a pixel, so a still live face (or a shaking camera) cannot
    be told from a print (docs/decisions.md)."""
    plane_residual_sigma: float = 1.75
    """A judged pair is planar evidence when the homography explains its flow to a median
    distance of at most this x σ."""
    motion_min_pairs: int = 5
    """The motion cue needs at least this many judged pairs for an opinion."""
    motion_planar_share: float = 0.5
    """The motion cue says spoof when at least this share of the judged pairs is planar."""

    # --- the texture cue: MiniFASNet on two patches around the face (SPEC §7) -----------------
    texture_every: int = 1
    """Score texture on every this-many-th processed frame with one face."""
    texture_min_scale: float = 0.25
    """A frame is outside the network's domain (``face_too_close``) when either patch had to be
    capped below this fraction of its scale because the face fills the frame. 0.25 = the 4.0x
    patch still holds the whole face box (docs/decisions.md)."""
    texture_threshold: float = 0.5
    """The clip's texture says live when the median real-face probability is above this (0.5:
    upstream's rule; the ``default`` preset's is calibrated, docs/decisions.md)."""
    texture_min_frames: int = 3
    """The texture cue needs at least this many scored frames for an opinion."""

    # --- decision --------------------------------------------------------------------------------
    decision: Decision = "chi_square"
    """Which cue decides the clip: ``chi_square`` (the patent's score k against ``threshold``),
    ``motion`` (spoof on planar motion evidence, otherwise no opinion), ``texture`` (MiniFASNet's
    real-face probability against ``texture_threshold``) or ``fused`` (the cues of
    :data:`FUSED_CUES` through ``liveness.cues.fuse``: spoof when any cue says spoof, live when
    none does and at least one says live)."""

    # --- clip -----------------------------------------------------------------------------------
    aggregation: Aggregation = "vote"
    """``vote``: the clip is live when most scored pairs are live (the patent's per-pair decision);
    ``median``: the clip is live when the median pair score is above the threshold."""
    frame_step: int = 1
    """Pairs are (t, t + frame_step) over decoded frames; 1 = adjacent frames."""
    min_pairs: int = 3
    """A clip with fewer scored pairs is undecided."""
    detect_every: int = 10
    """Run the face detector at least every this many processed frames; in between, landmarks are
    followed with the landmark flow and re-detected as soon as tracking fails."""
    min_tracked_fraction: float = 0.8
    """Tracking fails when fewer than this fraction of the 68 landmarks have status true."""
    max_track_residual: float = 0.05
    """Tracking fails when the tracked points stray from the similarity transform that follows the
    face by more than this fraction of the face size (median over points)."""
    min_face_px: int = 40
    """Faces whose MTCNN box is smaller than this on its shorter side are ignored, pixels."""
    min_face_confidence: float = 0.9
    """Faces with a lower MTCNN confidence are ignored (BlazeFace keeps MediaPipe's 0.5)."""
    detector: DetectorName = "mtcnn"
    """Face detector: ``mtcnn`` (the design's), ``blazeface`` (MediaPipe's short-range model;
    faster) or ``auto`` (MTCNN, and BlazeFace on frames where MTCNN finds no face)."""
    landmarks: LandmarkBackendName = "template"
    """68-point landmark backend: ``template`` (mean shape fitted to MTCNN's keypoints) or
    ``facemesh`` (MediaPipe face mesh mapped to iBUG-68)."""

    def __post_init__(self) -> None:
        _check_config(self)

    def replace(self, **changes: object) -> LivenessConfig:
        """A copy with ``changes`` applied (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """The config as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The config as a JSON string with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True)


def _check_config(cfg: LivenessConfig) -> None:
    positive_ints = ("crop_size", "lk_window", "lk_iterations", "eye_patch_px", "fb_levels",
                     "fb_window", "fb_iterations", "fb_poly_n", "bins", "frame_step",
                     "detect_every", "min_landmark_vectors", "min_eye_vectors", "min_pairs",
                     "min_face_px", "motion_min_points", "motion_min_pairs", "texture_every",
                     "texture_min_frames")
    for name in positive_ints:
        value = getattr(cfg, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if cfg.lk_window % 2 == 0:
        raise ValueError(f"lk_window must be odd, got {cfg.lk_window}")
    if cfg.crop_size < 64:
        raise ValueError(f"crop_size must be at least 64 px, got {cfg.crop_size}")
    if not 0 <= cfg.lk_max_level <= 5:
        raise ValueError(f"lk_max_level must be in 0..5, got {cfg.lk_max_level}")
    if cfg.aggregation not in ("median", "vote"):
        raise ValueError(f"aggregation must be 'median' or 'vote', got {cfg.aggregation!r}")
    if cfg.decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {cfg.decision!r}")
    if cfg.histogram_weight not in ("count", "magnitude"):
        raise ValueError(f"histogram_weight must be 'count' or 'magnitude', got {cfg.histogram_weight!r}")
    if not isinstance(cfg.motion_grid, int) or not 3 <= cfg.motion_grid <= 16:
        raise ValueError(f"motion_grid must be an integer in 3..16, got {cfg.motion_grid!r}")
    if cfg.motion_min_points < 8:
        raise ValueError(f"motion_min_points must be at least 8 (a homography has 8 unknowns), "
                         f"got {cfg.motion_min_points}")
    for name in ("fb_max_ratio", "fb_floor_px", "sigma_floor_px", "motion_judge_sigma", "motion_min_px",
                 "plane_residual_sigma"):
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.significance_sigma < 0:
        raise ValueError(f"significance_sigma must be >= 0, got {cfg.significance_sigma}")
    if not 0 < cfg.motion_planar_share <= 1:
        raise ValueError(f"motion_planar_share must be in (0, 1], got {cfg.motion_planar_share}")
    if not 0 < cfg.texture_min_scale <= 1 or not 0 <= cfg.texture_threshold <= 1:
        raise ValueError("texture_min_scale must be in (0, 1] and texture_threshold in [0, 1]")
    if not 0.5 <= cfg.eye_box_scale <= 4.0:
        raise ValueError(f"eye_box_scale must be in [0.5, 4], got {cfg.eye_box_scale}")
    if cfg.detector not in DETECTORS:
        raise ValueError(f"detector must be 'mtcnn', 'blazeface' or 'auto', got {cfg.detector!r}")
    if cfg.landmarks not in ("template", "facemesh"):
        raise ValueError(f"landmarks must be 'template' or 'facemesh', got {cfg.landmarks!r}")
    if not 0.0 <= cfg.threshold <= 200.0:
        raise ValueError(f"threshold must be in [0, 200], got {cfg.threshold}")
    if cfg.min_motion_px < 0:
        raise ValueError(f"min_motion_px must be >= 0, got {cfg.min_motion_px}")
    if not 0 < cfg.fb_pyr_scale < 1:
        raise ValueError(f"fb_pyr_scale must be in (0, 1), got {cfg.fb_pyr_scale}")
    if cfg.eye_min_box_px > cfg.eye_patch_px - 2:
        raise ValueError(f"eye_min_box_px ({cfg.eye_min_box_px}) must leave context inside "
                         f"eye_patch_px ({cfg.eye_patch_px})")


_PRESETS: dict[str, LivenessConfig] = {
    # Faithful to the patent text: no motion gate, epsilon = 100, one decision per frame pair
    # (the clip verdict is the majority of the pair decisions), LK's status alone.
    "patent": LivenessConfig(preset="patent", forward_backward=False),
    # The fused check (docs/decisions.md, docs/accuracy.md): texture decides live or spoof, the
    # fail-closed motion cue can only add spoof on planar evidence. The chi-square settings
    # (a 0.3 px gate and 3 sigma significance, the median pair score against 30) apply when
    # --decision chi_square is asked for.
    "default": LivenessConfig(
        preset="default",
        min_motion_px=0.3,
        significance_sigma=3.0,
        min_landmark_vectors=10,
        min_eye_vectors=10,
        threshold=30.0,
        aggregation="median",
        min_pairs=5,
        decision="fused",
        # `liveness calibrate ../shared/data/clips/manifest.csv` (equal error, the middle of the
        # tied range between the highest accepted attack, 0.528, and the lowest live clip, 0.805).
        texture_threshold=0.667,
    ),
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def preset(name: str) -> LivenessConfig:
    """The named preset. Raises ``ValueError`` listing the valid names when ``name`` is unknown."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESET_NAMES)}") from None
