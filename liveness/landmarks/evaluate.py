"""Landmark accuracy of the backends against dlib's 68-point annotations.

Error per point = distance to the annotation / inter-ocular distance (outer eye corners 36-45),
averaged per region. Faces MTCNN does not find are counted as misses, not as errors. The backends'
data were built from the *training* XML, so the default here is the *testing* XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from liveness.conventions import REGIONS
from liveness.detect import FaceDetector
from liveness.landmarks import landmark_backend
from liveness.landmarks.dlib_xml import match_face, read_annotations


@dataclass(frozen=True)
class BackendAccuracy:
    """Mean normalised error per region (``REGIONS`` keys plus ``all``) of one backend."""

    backend: str
    faces: int
    missed: int
    errors: dict[str, float]


def evaluate_backends(xml_path: Path, backends: list[str]) -> list[BackendAccuracy]:
    """Run MTCNN and each backend on every annotated face of ``xml_path``."""
    faces = read_annotations(xml_path)
    detector = FaceDetector(min_face_px=20, min_confidence=0.5)
    fitters = [landmark_backend(name) for name in backends]
    per_backend: list[list[np.ndarray]] = [[] for _ in fitters]
    missed = 0
    detections_by_image: dict[Path, tuple[np.ndarray, list]] = {}
    for face in faces:
        if face.image not in detections_by_image:
            rgb = cv2.cvtColor(cv2.imread(str(face.image)), cv2.COLOR_BGR2RGB)
            detections_by_image[face.image] = (rgb, detector.detect(rgb))
        rgb, detections = detections_by_image[face.image]
        index = match_face(face, [d.box for d in detections])
        if index is None:
            missed += 1
            continue
        for errors, fitter in zip(per_backend, fitters):
            points = fitter.fit(rgb, detections[index])
            errors.append(np.linalg.norm(points - face.points, axis=1) / face.interocular)
    results = []
    for fitter, errors in zip(fitters, per_backend):
        stacked = np.stack(errors)
        table = {region: float(stacked[:, list(idx)].mean()) for region, idx in REGIONS.items()}
        table["all"] = float(stacked.mean())
        results.append(BackendAccuracy(fitter.name, len(errors), missed, table))
    return results


def markdown_table(results: list[BackendAccuracy]) -> str:
    """The results as a Markdown table, one row per backend."""
    columns = [*REGIONS, "all"]
    lines = ["| backend | faces | missed | " + " | ".join(columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for r in results:
        cells = " | ".join(f"{r.errors[c]:.3f}" for c in columns)
        lines.append(f"| {r.backend} | {r.faces} | {r.missed} | {cells} |")
    return "\n".join(lines)
