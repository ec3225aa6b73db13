"""The TensorFlow graph as a pair scorer for the clip loop (``ClipChecker(scorer=...)``)."""

from __future__ import annotations

import numpy as np

from liveness.config import LivenessConfig
from liveness.reference import PairEvidence


class GraphScorer:
    """Scores one pair with ``model_graph.LivenessCheck`` (built once, traced on first use)."""

    def __init__(self, cfg: LivenessConfig) -> None:
        from model_graph.module import LivenessCheck  # imports TensorFlow

        self.module = LivenessCheck(cfg)

    def __call__(self, prev: np.ndarray, next: np.ndarray, landmarks: np.ndarray,
                 cfg: LivenessConfig) -> PairEvidence:
        out = self.module(prev[None], next[None], np.asarray(landmarks, np.float32)[None])
        return PairEvidence.from_graph_outputs({k: v.numpy()[0] for k, v in out.items()})
