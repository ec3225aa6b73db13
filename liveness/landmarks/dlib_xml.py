"""Reading dlib's imglab XML files of 68-point annotations (``*_with_face_landmarks.xml``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveness.conventions import N_LANDMARKS


@dataclass(frozen=True)
class AnnotatedFace:
    """One annotated face: its image file, dlib's box ``(x0, y0, x1, y1)`` and ``[68, 2]`` points."""

    image: Path
    box: np.ndarray
    points: np.ndarray

    @property
    def interocular(self) -> float:
        """Distance between the outer eye corners (points 36 and 45), the 300-W normaliser."""
        return float(np.linalg.norm(self.points[36] - self.points[45]))


def read_annotations(xml_path: str | Path) -> list[AnnotatedFace]:
    """Every face with all 68 parts in ``xml_path``; image paths resolved beside the XML."""
    xml_path = Path(xml_path)
    faces = []
    for image in ET.parse(xml_path).getroot().iter("image"):
        for box in image.iter("box"):
            parts = {int(p.get("name")): (float(p.get("x")), float(p.get("y")))
                     for p in box.iter("part")}
            if len(parts) != N_LANDMARKS:
                continue
            left, top = float(box.get("left")), float(box.get("top"))
            faces.append(AnnotatedFace(
                image=xml_path.parent / image.get("file"),
                box=np.array([left, top, left + float(box.get("width")),
                              top + float(box.get("height"))], np.float32),
                points=np.array([parts[i] for i in range(N_LANDMARKS)], np.float32)))
    return faces


def match_face(annotated: AnnotatedFace, boxes: list[np.ndarray]) -> int | None:
    """Index of the detected box that contains the annotated shape's centre and overlaps dlib's box
    best (IoU >= 0.3), or None."""
    best, best_iou = None, 0.3
    centre = annotated.points.mean(axis=0)
    for index, box in enumerate(boxes):
        inside = box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3]
        overlap = _iou(annotated.box, box)
        if inside and overlap >= best_iou:
            best, best_iou = index, overlap
    return best


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
