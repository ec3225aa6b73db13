"""Build the landmark backends' data files from dlib's training annotations.

Writes ``liveness/data/template_68.json`` (the Procrustes mean of the 68-point shapes plus the mean
position of MTCNN's 5 keypoints in that frame) and, when the face mesh model is present,
``liveness/data/facemesh_to_ibug68.json`` (for each iBUG point, the mesh vertex closest to it on
average, in inter-ocular units). Only ``training_with_face_landmarks.xml`` is used; the testing
file is kept for ``liveness eval-landmarks``.

    python scripts/build_landmark_data.py [--data ../shared/data/dlib_faces]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from liveness.detect import FaceDetector
from liveness.geometry import fit_similarity
from liveness.landmarks.dlib_xml import AnnotatedFace, match_face, read_annotations
from liveness.paths import REPO_ROOT, shared_data

OUT_DIR = REPO_ROOT / "liveness" / "data"
SOURCE = ("dlib examples/faces/training_with_face_landmarks.xml (PASCAL VOC 2011 photos, "
          "68-point iBUG landmarks from dlib's shape_predictor_68_face_landmarks; Boost licence "
          "for the repository)")


def normalise(shape: np.ndarray) -> np.ndarray:
    """Centred at its centroid, scaled to unit Frobenius norm."""
    centred = shape - shape.mean(axis=0)
    return centred / np.linalg.norm(centred)


def procrustes_mean(shapes: list[np.ndarray], iterations: int = 20) -> np.ndarray:
    """Generalised Procrustes mean, centred, with unit inter-ocular distance (points 36-45)."""
    mean = normalise(shapes[0])
    for _ in range(iterations):
        aligned = []
        for shape in shapes:
            aligned.append(fit_similarity(shape, mean)(shape))
        new = normalise(np.mean(aligned, axis=0))
        if np.linalg.norm(new - mean) < 1e-10:
            break
        mean = new
    return mean / np.linalg.norm(mean[36] - mean[45])


def detect_matched(faces: list[AnnotatedFace], detector: FaceDetector):
    """Yield ``(annotated face, RGB image, detected Face)`` for annotated faces MTCNN finds."""
    by_image: dict[Path, list[AnnotatedFace]] = {}
    for face in faces:
        by_image.setdefault(face.image, []).append(face)
    for image_path, annotated in by_image.items():
        rgb = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
        detections = detector.detect(rgb)
        for face in annotated:
            index = match_face(face, [d.box for d in detections])
            if index is not None:
                yield face, rgb, detections[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data() / "dlib_faces")
    args = parser.parse_args()
    faces = read_annotations(args.data / "training_with_face_landmarks.xml")
    mean = procrustes_mean([f.points.astype(np.float64) for f in faces])

    detector = FaceDetector(min_face_px=20, min_confidence=0.5)
    matched = list(detect_matched(faces, detector))
    anchors = []
    for face, _rgb, detection in matched:
        anchors.append(fit_similarity(face.points, mean)(detection.keypoints))
    template = {
        "provenance": f"scripts/build_landmark_data.py from {SOURCE}: {len(faces)} shapes; "
                      f"anchors from MTCNN (mtcnn 1.0.0) keypoints on {len(matched)} matched faces",
        "frame": "Procrustes mean, centred on the centroid, inter-ocular (36-45) distance 1",
        "anchor_names": ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"],
        "mean_shape": np.round(mean, 6).tolist(),
        "anchors": np.round(np.mean(anchors, axis=0), 6).tolist(),
    }
    (OUT_DIR / "template_68.json").write_text(json.dumps(template, indent=1) + "\n")
    print(f"template: {len(faces)} shapes, anchors from {len(matched)} detections")

    from liveness.landmarks.facemesh import FaceMeshLandmarks, model_path

    if not model_path().is_file():
        print(f"face mesh model missing at {model_path()}: mapping not rebuilt")
        return
    mesh_backend = FaceMeshLandmarks()
    distances = np.zeros((68, 468))
    for face, rgb, detection in matched:
        mesh = mesh_backend.mesh(rgb, detection)
        diff = face.points[:, None, :] - mesh[None, :, :]
        distances += np.linalg.norm(diff, axis=-1) / face.interocular
    mapping = distances.argmin(axis=1)
    residual = distances[np.arange(68), mapping] / len(matched)
    (OUT_DIR / "facemesh_to_ibug68.json").write_text(json.dumps({
        "provenance": f"scripts/build_landmark_data.py from {SOURCE}: for each iBUG point the "
                      f"MediaPipe face mesh vertex (face_landmark.tflite, mediapipe 0.10.21) with "
                      f"the smallest mean distance over {len(matched)} faces",
        "mean_training_error_interocular": np.round(residual, 4).tolist(),
        "mesh_index": mapping.tolist(),
    }, indent=1) + "\n")
    print(f"facemesh mapping: mean training error {residual.mean():.4f} inter-ocular")


if __name__ == "__main__":
    main()
