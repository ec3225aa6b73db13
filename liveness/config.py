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
Decision = Literal["chi_square", "planarity", "fused"]
HistogramWeight = Literal["count", "magnitude"]
DECISIONS: tuple[str, ...] = ("chi_square", "planarity", "fused")


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

    # --- planarity: one affine motion fitted to the face's flow (docs/decisions.md) -------------
    planarity_grid: int = 0
    """LK also runs at a ``planarity_grid`` x ``planarity_grid`` grid inside the face (brows to
    mouth) and the fit uses those points too; 0 = the 68 landmarks only."""
    planarity_min_points: int = 12
    """A pair with fewer tracked points has no planarity value."""
    planarity_min_motion_px: float = 0.5
    """A pair whose median point motion is below this is too still to judge: no planarity value."""
    planarity_threshold: float = 0.15
    """The clip moves as one plane (a print or a screen) when its median residual ratio (median
    distance of the points from the fitted affine motion / median motion) is below this."""

    # --- decision --------------------------------------------------------------------------------
    decision: Decision = "chi_square"
    """Which cue decides the clip: ``chi_square`` (the patent's score k against ``threshold``),
    ``planarity`` (residual ratio against ``planarity_threshold``), or ``fused`` (live only when
    both cues say live; spoof when either says spoof; otherwise undecided)."""

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
    """Faces with a lower MTCNN confidence are ignored."""
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
                     "min_face_px", "planarity_min_points")
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
    if not isinstance(cfg.planarity_grid, int) or not 0 <= cfg.planarity_grid <= 16:
        raise ValueError(f"planarity_grid must be an integer in 0..16, got {cfg.planarity_grid!r}")
    if cfg.planarity_min_points < 6:
        raise ValueError(f"planarity_min_points must be at least 6 (an affine fit has 6 "
                         f"unknowns), got {cfg.planarity_min_points}")
    if cfg.planarity_min_motion_px <= 0 or cfg.planarity_threshold <= 0:
        raise ValueError("planarity_min_motion_px and planarity_threshold must be positive")
    if not 0.5 <= cfg.eye_box_scale <= 4.0:
        raise ValueError(f"eye_box_scale must be in [0.5, 4], got {cfg.eye_box_scale}")
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
    # (the clip verdict is the majority of the pair decisions).
    "patent": LivenessConfig(preset="patent"),
    # Chosen by measurement (docs/decisions.md, docs/accuracy.md): a 0.3 px motion gate, the
    # median pair score per clip, and the fused decision (live needs the chi-square score and a
    # non-planar motion).
    "default": LivenessConfig(
        preset="default",
        min_motion_px=0.3,
        min_landmark_vectors=10,
        min_eye_vectors=10,
        threshold=30.0,
        aggregation="median",
        min_pairs=5,
        decision="fused",
    ),
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def preset(name: str) -> LivenessConfig:
    """The named preset. Raises ``ValueError`` listing the valid names when ``name`` is unknown."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESET_NAMES)}") from None
