"""Stage S2: 68 iBUG landmarks for a detected face, from one of two backends.

``template``: a mean 68-point shape fitted to MTCNN's five keypoints by a similarity transform.
``facemesh``: MediaPipe's 468-point face mesh model, mapped to the 68 iBUG points.
Both return ``[68, 2]`` float32 (x, y) in frame pixels.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from liveness.detect import Face


class LandmarkBackend(Protocol):
    """Anything that places 68 iBUG landmarks on a detected face."""

    name: str

    def fit(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """``[68, 2]`` float32 (x, y) frame pixels for ``face`` in the ``[H, W, 3]`` RGB frame."""
        ...


def landmark_backend(name: str) -> LandmarkBackend:
    """The backend called ``name`` (``template`` or ``facemesh``); ``ValueError`` otherwise."""
    if name == "template":
        from liveness.landmarks.template import TemplateLandmarks

        return TemplateLandmarks()
    if name == "facemesh":
        from liveness.landmarks.facemesh import FaceMeshLandmarks

        return FaceMeshLandmarks()
    raise ValueError(f"unknown landmark backend {name!r}; valid: template, facemesh")
