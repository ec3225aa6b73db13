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
    planarity: float | None = None
    """Residual ratio of the face's flow against one affine motion (None: too still to judge)."""
    motion: float = 0.0
    """Median flow length of the tracked face points, frame pixels."""
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
            "planarity": None if self.planarity is None else round(float(self.planarity), 4),
            "motion": round(float(self.motion), 3),
        }


@dataclass(frozen=True)
class ClipVerdict:
    """The verdict of one clip with the evidence behind it."""

    verdict: Verdict
    reason: Reason | None
    score: float | None
    """Median chi-square score of the scored pairs (None without any)."""
    live_fraction: float | None
    """Fraction of scored pairs with ``score > threshold`` (None without any)."""
    threshold: float
    preset: str
    aggregation: str
    pairs_used: int
    """Pairs with a chi-square score."""
    frames: int
    pairs: tuple[PairResult, ...]
    source: str = ""
    fps: float | None = None
    config: dict[str, object] = field(default_factory=dict)
    decision: str = "chi_square"
    """The cue(s) that decided: ``chi_square``, ``planarity`` or ``fused``."""
    planarity: float | None = None
    """Median residual ratio of the pairs with a planarity value (None without any)."""
    planarity_threshold: float = 0.15
    planarity_pairs: int = 0
    """Pairs with a planarity value (enough motion to judge)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict with the keys documented in the README."""
        return {
            "source": self.source,
            "verdict": self.verdict.value,
            "reason": None if self.reason is None else self.reason.value,
            "score": None if self.score is None else round(float(self.score), 4),
            "live_fraction": None if self.live_fraction is None else round(self.live_fraction, 4),
            "threshold": self.threshold,
            "preset": self.preset,
            "aggregation": self.aggregation,
            "pairs_used": self.pairs_used,
            "decision": self.decision,
            "planarity": None if self.planarity is None else round(float(self.planarity), 4),
            "planarity_threshold": self.planarity_threshold,
            "planarity_pairs": self.planarity_pairs,
            "frames": self.frames,
            "fps": self.fps,
            "config": self.config,
            "pairs": [p.to_dict() for p in self.pairs],
        }

    def to_json(self) -> str:
        """The verdict as indented JSON."""
        return json.dumps(self.to_dict(), indent=1)

    def summary(self) -> str:
        """One human line, e.g. ``live (median score 41.2 > 30 over 120 pairs; preset default)``."""
        if self.verdict is Verdict.UNDECIDED:
            return (f"undecided: {self.reason.value if self.reason else '?'} "
                    f"({self.pairs_used} scored pairs, {self.planarity_pairs} moving enough to "
                    f"judge planarity, of {len(self.pairs)}; preset {self.preset})")
        evidence = []
        if self.decision != "planarity" and self.score is not None:
            if self.aggregation == "vote":
                evidence.append(f"{100 * self.live_fraction:.0f}% of {self.pairs_used} pairs score "
                                f"above {self.threshold:g}")
            else:
                op = ">" if self.score > self.threshold else "<="
                evidence.append(f"median score {self.score:.1f} {op} {self.threshold:g} over "
                                f"{self.pairs_used} pairs")
        if self.decision != "chi_square":
            if self.planarity is None:
                evidence.append("too still to judge planarity")
            else:
                op = ">=" if self.planarity >= self.planarity_threshold else "<"
                evidence.append(f"planarity {self.planarity:.3f} {op} {self.planarity_threshold:g} "
                                f"over {self.planarity_pairs} pairs")
        return f"{self.verdict.value} ({'; '.join(evidence)}; preset {self.preset})"
