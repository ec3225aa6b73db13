"""The cues as peers: evidence per pair or frame, one opinion per clip, one fusion function.

Every cue turns its clip evidence into a :class:`CueOpinion` — ``live``, ``spoof`` or no opinion
(with the reason), the clip statistic it looked at and the threshold it compared it with — and
:func:`fuse` composes the opinions into the clip verdict (SPEC §7): spoof when any cue says spoof,
live when none does and at least one says live, otherwise undecided with the first cue's reason.
A cue with no opinion never turns a clip live by itself, and an attack must fool every cue that
has an opinion.

- ``chi_square`` (the patent): the median pair score k (or the share of live pairs, ``vote``)
  against ``threshold``; live or spoof.
- ``motion`` (fail-closed, SPEC §4b): spoof when at least ``motion_planar_share`` of at least
  ``motion_min_pairs`` judged pairs are planar; otherwise no opinion. It never says live.
- ``texture`` (MiniFASNet): the median real-face probability of the scored frames against
  ``texture_threshold``; no opinion when too few frames were inside the network's domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from liveness.config import LivenessConfig, deciding_cues
from liveness.results import Reason, Verdict


class Opinion(str, Enum):
    """What one cue says about a clip."""

    LIVE = "live"
    SPOOF = "spoof"
    NONE = "no_opinion"


@dataclass(frozen=True)
class CueOpinion:
    """One cue's opinion of a clip, with the evidence behind it."""

    cue: str
    opinion: Opinion
    score: float | None
    """The clip statistic the cue compared (chi-square: median k; motion: share of judged pairs
    that are planar; texture: median real-face probability); None without evidence."""
    threshold: float
    used: int
    """Pairs (chi-square, motion: judged pairs) or frames (texture) that carried evidence."""
    reason: Reason | None = None
    """Why there is no opinion."""

    def to_dict(self) -> dict[str, object]:
        return {"opinion": self.opinion.value,
                "score": None if self.score is None else round(float(self.score), 4),
                "threshold": self.threshold, "used": self.used,
                "reason": None if self.reason is None else self.reason.value}


@dataclass(frozen=True)
class ClipEvidence:
    """The per-pair and per-frame values every cue's clip opinion is computed from (enough to
    re-decide a clip under other thresholds without checking it again)."""

    pairs_with_face: int
    pair_scores: tuple[float, ...] = ()
    """Chi-square scores of the pairs that have one."""
    motion_judged: int = 0
    motion_planar: int = 0
    texture_probabilities: tuple[float, ...] = field(default=())
    """Real-face probabilities of the frames scored by texture."""
    texture_too_close: int = 0
    """Frames left out of texture because the face filled the frame (``face_too_close``)."""


def _short(evidence: ClipEvidence, cfg: LivenessConfig) -> Reason:
    return (Reason.INSUFFICIENT_MOTION if evidence.pairs_with_face >= cfg.min_pairs
            else Reason.TOO_FEW_PAIRS)


def chi_square_opinion(evidence: ClipEvidence, cfg: LivenessConfig) -> CueOpinion:
    """The patent's cue: median score (or vote) against ``threshold``."""
    scores = np.asarray(evidence.pair_scores, np.float64)
    median = float(np.median(scores)) if len(scores) else None
    if len(scores) < cfg.min_pairs:
        return CueOpinion("chi_square", Opinion.NONE, median, cfg.threshold, len(scores),
                          _short(evidence, cfg))
    live = (np.mean(scores > cfg.threshold) > 0.5 if cfg.aggregation == "vote"
            else median > cfg.threshold)
    return CueOpinion("chi_square", Opinion.LIVE if live else Opinion.SPOOF, median,
                      cfg.threshold, len(scores))


def motion_opinion(evidence: ClipEvidence, cfg: LivenessConfig) -> CueOpinion:
    """Spoof on planar evidence, otherwise no opinion (never live).

    >>> from liveness.config import preset
    >>> motion_opinion(ClipEvidence(30, motion_judged=8, motion_planar=6), preset("default")).opinion.value
    'spoof'
    >>> motion_opinion(ClipEvidence(30, motion_judged=8, motion_planar=1), preset("default")).reason.value
    'not_planar'
    """
    judged, planar = evidence.motion_judged, evidence.motion_planar
    share = planar / judged if judged else None
    if judged < cfg.motion_min_pairs:
        return CueOpinion("motion", Opinion.NONE, share, cfg.motion_planar_share, judged,
                          _short(evidence, cfg))
    if share >= cfg.motion_planar_share:
        return CueOpinion("motion", Opinion.SPOOF, share, cfg.motion_planar_share, judged)
    return CueOpinion("motion", Opinion.NONE, share, cfg.motion_planar_share, judged,
                      Reason.NOT_PLANAR)


def texture_opinion(evidence: ClipEvidence, cfg: LivenessConfig) -> CueOpinion:
    """Median real-face probability against ``texture_threshold``."""
    probs = np.asarray(evidence.texture_probabilities, np.float64)
    median = float(np.median(probs)) if len(probs) else None
    if len(probs) < cfg.texture_min_frames:
        reason = (Reason.FACE_TOO_CLOSE if evidence.texture_too_close > len(probs)
                  else Reason.TOO_FEW_PAIRS if evidence.pairs_with_face < cfg.min_pairs
                  else Reason.NO_TEXTURE)
        return CueOpinion("texture", Opinion.NONE, median, cfg.texture_threshold, len(probs), reason)
    live = median > cfg.texture_threshold
    return CueOpinion("texture", Opinion.LIVE if live else Opinion.SPOOF, median,
                      cfg.texture_threshold, len(probs))


CUES = {"chi_square": chi_square_opinion, "motion": motion_opinion, "texture": texture_opinion}


def fuse(opinions: list[CueOpinion]) -> tuple[Verdict, Reason | None]:
    """The clip verdict from the deciding cues' opinions (rule in the module docstring).

    >>> live = CueOpinion("texture", Opinion.LIVE, 0.9, 0.5, 9)
    >>> still = CueOpinion("motion", Opinion.NONE, None, 0.5, 0, Reason.INSUFFICIENT_MOTION)
    >>> fuse([live, still])[0].value, fuse([still])[1].value
    ('live', 'insufficient_motion')
    """
    if any(o.opinion is Opinion.SPOOF for o in opinions):
        return Verdict.SPOOF, None
    if any(o.opinion is Opinion.LIVE for o in opinions):
        return Verdict.LIVE, None
    return Verdict.UNDECIDED, next((o.reason for o in opinions if o.reason), None)


def decide(evidence: ClipEvidence, cfg: LivenessConfig) -> tuple[Verdict, Reason | None, dict[str, CueOpinion]]:
    """Every cue's opinion of a clip with a face, and the verdict of the cues ``cfg`` decides by."""
    opinions = {name: opinion(evidence, cfg) for name, opinion in CUES.items()}
    verdict, reason = fuse([opinions[name] for name in deciding_cues(cfg.decision)])
    return verdict, reason, opinions
