"""The face detector a config names: ``mtcnn``, ``blazeface`` or ``auto`` (MTCNN, falling back
to BlazeFace on frames where MTCNN finds no face). All run on LiteRT, without TensorFlow."""

from __future__ import annotations

from pathlib import Path

from liveness.config import DETECTORS
from liveness.detect import FallbackDetector


def make_detector(name: str, *, min_face_px: int, min_confidence: float,
                  mtcnn_dir: Path | None = None, threads: int | None = None):
    """The detector called ``name`` with the size and confidence policy; ``ValueError`` for an
    unknown name, ``FileNotFoundError`` naming the fetch command when BlazeFace is missing."""
    from liveness.blazeface import BlazeFace
    from liveness.lite_mtcnn import MODEL_DIR, LiteMTCNN

    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; valid: {', '.join(DETECTORS)}")
    if name == "blazeface":
        return BlazeFace(threads=threads, min_face_px=min_face_px)
    mtcnn = LiteMTCNN(mtcnn_dir or MODEL_DIR, threads=threads, min_face_px=min_face_px,
                      min_confidence=min_confidence)
    if name == "mtcnn":
        return mtcnn
    return FallbackDetector(mtcnn, BlazeFace(threads=threads, min_face_px=min_face_px))
