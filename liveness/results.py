"""Result types of the clip check: typed, JSON-ready, never dicts of numpy scalars."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Verdict(str, Enum):
    """The clip's outcome (SPEC §5)."""

    LIVE = "live"
    SPOOF = "spoof"
    UNDECIDED = "undecided"


class Reason(str, Enum):
    """Why a clip is undecided (SPEC §5)."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    INSUFFICIENT_MOTION = "insufficient_motion"
    TOO_FEW_PAIRS = "too_few_pairs"
    NOT_PLANAR = "not_planar"
    """The motion cue alone: enough motion, but not one plane (no evidence either way)."""
    FACE_TOO_CLOSE = "face_too_close"
    """The texture cue: the face fills so much of the frame that its patches lose their context;
    hold the camera farther away."""
    NO_TEXTURE = "no_texture"
    """The texture cue was not run on enough frames (``texture_every`` too large for the clip)."""


class PairStatus(str, Enum):
    """What became of one frame pair."""

    SCORED = "scored"
    INSUFFICIENT_MOTION = "insufficient_motion"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"


@dataclass(frozen=True)
class PairResult:
    """One frame pair of a clip. Coordinates are frame pixels (not crop pixels)."""

    prev_index: int
    next_index: int
    status: PairStatus
    score: float | None = None
    is_live: bool | None = None
    landmark_hist: tuple[float, ...] = ()
    eye_hist: tuple[float, ...] = ()
    landmark_vectors: int = 0
    eye_vectors: int = 0
    sigma: float | None = None
    """Flow noise σ, frame pixels (None when not measured)."""
    motion: float = 0.0
    """Median flow length of the kept face points, frame pixels."""
    plane_residual: float | None = None
    """Homography residual in units of σ (None when the pair is not judged)."""
    motion_judged: bool = False
    planar: bool = False
    landmarks: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``[68, 2]`` float32 (x, y) in ``prev``; kept for the report, not written to JSON."""
    landmark_flow: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``[68, 2]`` float32 (dx, dy) in frame pixels; zero where not tracked."""
    eye_boxes: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``[2, 4]`` float32 ``(x0, y0, x1, y1)`` in frame pixels."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: frame indices, status, score or null, histograms, vectors used."""
        return {
            "prev_index": self.prev_index,
            "next_index": self.next_index,
            "status": self.status.value,
            "score": None if self.score is None else round(float(self.score), 4),
            "is_live": self.is_live,
            "landmark_hist": [int(v) for v in self.landmark_hist],
            "eye_hist": [int(v) for v in self.eye_hist],
            "landmark_vectors": self.landmark_vectors,
            "eye_vectors": self.eye_vectors,
            "sigma": None if self.sigma is None else round(float(self.sigma), 4),
            "motion": round(float(self.motion), 3),
            "plane_residual": (None if self.plane_residual is None
                               else round(float(self.plane_residual), 3)),
            "motion_judged": self.motion_judged,
            "planar": self.planar,
        }


@dataclass(frozen=True)
class FrameTexture:
    """The texture cue on one frame."""

    index: int
    probability: float
    """Real-face probability in [0, 1]."""
    context: float
    """The smaller of the two patches' kept scale fractions (1 = upstream's full 2.7x / 4.0x
    context; less when the face fills the frame and the patch was capped)."""
    reason: str | None = None
    """``face_too_close`` when ``context`` is below ``texture_min_scale``: the probability is
    reported but not used."""

    @property
    def used(self) -> bool:
        return self.reason is None

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "probability": round(self.probability, 4),
                "context": round(self.context, 3), "reason": self.reason}


@dataclass(frozen=True)
class ClipVerdict:
    """The verdict of one clip with the evidence behind it: every cue's opinion, per pair and per
    frame values. ``cues`` maps ``chi_square``, ``motion`` and ``texture`` to their
    ``liveness.cues.CueOpinion``; ``decision`` names the cue (or ``fused``) that decided."""

    verdict: Verdict
    reason: Reason | None
    decision: str
    cues: dict = field(default_factory=dict)
    preset: str = "custom"
    frames: int = 0
    pairs: tuple[PairResult, ...] = ()
    texture: tuple[FrameTexture, ...] = ()
    source: str = ""
    fps: float | None = None
    decoding: dict[str, object] = field(default_factory=dict)
    """What the decoder saw (``liveness.video.DecodeReport.to_dict``); empty for in-memory clips."""
    config: dict[str, object] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        """Median chi-square score of the scored pairs (None without any)."""
        cue = self.cues.get("chi_square")
        return None if cue is None else cue.score

    @property
    def pairs_used(self) -> int:
        """Pairs with a chi-square score."""
        return sum(1 for p in self.pairs if p.status is PairStatus.SCORED)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict with the keys documented in the README."""
        return {
            "source": self.source,
            "verdict": self.verdict.value,
            "reason": None if self.reason is None else self.reason.value,
            "decision": self.decision,
            "preset": self.preset,
            "cues": {name: cue.to_dict() for name, cue in self.cues.items()},
            "frames": self.frames,
            "fps": self.fps,
            "decoding": self.decoding,
            "config": self.config,
            "pairs": [p.to_dict() for p in self.pairs],
            "texture": [t.to_dict() for t in self.texture],
        }

    def to_json(self) -> str:
        """The verdict as indented JSON."""
        return json.dumps(self.to_dict(), indent=1)

    def summary(self) -> str:
        """One human line, e.g. ``live (texture live 0.93 > 0.5 over 40 frames; motion no opinion:
        not_planar; preset default)``."""
        head = self.verdict.value + (f": {self.reason.value}" if self.reason else "")
        from liveness.config import deciding_cues

        evidence = [_cue_summary(name, self.cues[name]) for name in deciding_cues(self.decision)
                    if name in self.cues]
        return f"{head} ({'; '.join(evidence) or 'no cue evidence'}; preset {self.preset})"


def _cue_summary(name: str, cue) -> str:
    used = f"over {cue.used} {'frames' if name == 'texture' else 'pairs'}"
    if cue.opinion.value == "no_opinion":
        return f"{name} no opinion: {cue.reason.value if cue.reason else '?'} ({used})"
    value = "n/a" if cue.score is None else f"{cue.score:.3g}"
    op = ">" if cue.score is not None and cue.score > cue.threshold else "<="
    if name == "motion":
        op = ">=" if cue.score is not None and cue.score >= cue.threshold else "<"
        return f"motion {cue.opinion.value}: planar share {value} {op} {cue.threshold:g} {used}"
    return f"{name} {cue.opinion.value} {value} {op} {cue.threshold:g} {used}"
