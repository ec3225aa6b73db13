"""The ``template`` backend: a 68-point mean shape fitted to the detector's keypoints.

The mean shape and the five anchor points that correspond to MTCNN's keypoints live in
``liveness/data/template_68.json``, built by ``scripts/build_landmark_data.py`` from the dlib
``training_with_face_landmarks.xml`` annotations (its provenance is in the file).
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from liveness.detect import Face
from liveness.geometry import fit_similarity


def load_template() -> tuple[np.ndarray, np.ndarray]:
    """``(mean_shape [68, 2], anchors [5, 2])`` float64 in the template's normalised frame."""
    text = resources.files("liveness.data").joinpath("template_68.json").read_text()
    data = json.loads(text)
    return np.asarray(data["mean_shape"], np.float64), np.asarray(data["anchors"], np.float64)


def fit_template(mean_shape: np.ndarray, anchors: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Map ``mean_shape [68, 2]`` by the similarity taking ``anchors [5, 2]`` to ``keypoints [5, 2]``.

    >>> square = np.array([[0, 0], [1, 0], [0.5, 0.5], [0, 1], [1, 1]], float)
    >>> fit_template(square, square, square * 2 + 3)[1].tolist()
    [5.0, 3.0]
    """
    transform = fit_similarity(anchors, keypoints)
    if transform is None:
        raise ValueError("the anchor points are degenerate (all coincide)")
    return transform(mean_shape).astype(np.float32)


def blazeface_anchors(mean_shape: np.ndarray) -> np.ndarray:
    """``[4, 2]``: where BlazeFace's eye centres, nose tip and mouth centre sit on the mean shape
    (means of points 36-41 and 42-47, point 30, the mean of the mouth's points 48-67). Its ear
    tragions are not used: the 68 points have no tragion and the jaw points beside the ears move
    with head pose."""
    return np.stack([mean_shape[36:42].mean(0), mean_shape[42:48].mean(0), mean_shape[30],
                     mean_shape[48:68].mean(0)])


class TemplateLandmarks:
    """68 landmarks as the mean shape under the similarity that best fits the detector's
    keypoints (MTCNN's five, or BlazeFace's eyes, nose tip and mouth centre)."""

    name = "template"

    def __init__(self) -> None:
        self.mean_shape, self.anchors = load_template()
        self.blazeface_anchors = blazeface_anchors(self.mean_shape)

    def fit(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """``[68, 2]`` float32 (x, y) frame pixels; the image itself is not looked at."""
        if face.detector == "blazeface":
            return fit_template(self.mean_shape, self.blazeface_anchors, face.keypoints[:4])
        return fit_template(self.mean_shape, self.anchors, face.keypoints)
