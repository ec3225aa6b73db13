"""Landmark backends: placement on a real face, index conventions, and accuracy on dlib's data."""

import json
from importlib import resources

import numpy as np
import pytest

from liveness.conventions import LEFT_EYE, RIGHT_EYE
from liveness.detect import FaceDetector
from liveness.landmarks import landmark_backend
from liveness.landmarks.facemesh import model_path
from liveness.synthetic import base_frame

needs_facemesh = pytest.mark.skipif(not model_path().is_file(),
                                    reason="face mesh model missing: liveness fetch-facemesh")


@pytest.fixture(scope="module")
def astronaut():
    frame = base_frame()
    faces = FaceDetector(min_face_px=40).detect(frame)
    assert len(faces) == 1
    return frame, faces[0]


def check_placement(points, face):
    x0, y0, x1, y1 = face.box
    width = x1 - x0
    assert points.shape == (68, 2) and points.dtype == np.float32
    # The subject's right eye (36-41) is on the image's left, near MTCNN's "left_eye".
    assert points[RIGHT_EYE, 0].mean() < points[LEFT_EYE, 0].mean()
    assert np.linalg.norm(points[RIGHT_EYE].mean(0) - face.keypoints[0]) < 0.12 * width
    assert np.linalg.norm(points[LEFT_EYE].mean(0) - face.keypoints[1]) < 0.12 * width
    assert np.linalg.norm(points[30] - face.keypoints[2]) < 0.15 * width   # nose tip
    assert points[8, 1] > points[57, 1] > points[33, 1] > points[27, 1]    # chin, lip, nose, bridge


def test_template_backend_places_68_points(astronaut):
    frame, face = astronaut
    check_placement(landmark_backend("template").fit(frame, face), face)


@needs_facemesh
def test_facemesh_backend_places_68_points(astronaut):
    frame, face = astronaut
    check_placement(landmark_backend("facemesh").fit(frame, face), face)


def test_facemesh_mapping_file_is_complete():
    data = json.loads(resources.files("liveness.data").joinpath("facemesh_to_ibug68.json").read_text())
    index = np.asarray(data["mesh_index"])
    assert index.shape == (68,) and index.min() >= 0 and index.max() < 468
    assert len(set(index.tolist())) >= 60   # nearly one vertex per point
    assert "provenance" in data


def test_missing_facemesh_model_says_how_to_get_it(tmp_path):
    from liveness.landmarks.facemesh import FaceMeshLandmarks

    with pytest.raises(FileNotFoundError, match="liveness fetch-facemesh"):
        FaceMeshLandmarks(tmp_path / "absent.tflite")


def test_unknown_backend():
    with pytest.raises(ValueError, match="valid: template, facemesh"):
        landmark_backend("dlib")


@needs_facemesh
def test_backend_accuracy_on_dlib_testing_faces(shared):
    from liveness.landmarks.evaluate import evaluate_backends

    template, facemesh = evaluate_backends(
        shared / "dlib_faces" / "testing_with_face_landmarks.xml", ["template", "facemesh"])
    assert template.missed == 0 and template.faces == 25
    # Measured 0.081 and 0.049 (docs/landmarks.md); the bounds leave room for library updates.
    assert template.errors["all"] < 0.10
    assert facemesh.errors["all"] < 0.07
    assert facemesh.errors["eyes"] < template.errors["eyes"]
