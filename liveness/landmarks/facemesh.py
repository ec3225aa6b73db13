"""The ``facemesh`` backend: MediaPipe's face landmark model, 468 points mapped to iBUG-68.

The model (``face_landmark.tflite``, 1.24 MB, Apache-2.0) ships inside the ``mediapipe==0.10.21``
wheel and no longer in current releases. ``liveness fetch-facemesh`` downloads that wheel with
``pip download --no-deps`` and extracts the one file (mediapipe itself is not installed: it pins
numpy<2). The model takes ``[1, 192, 192, 3]`` float RGB in 0..1 and returns 468 (x, y, z) in the
192-pixel crop. The crop is a square rotated upright by MTCNN's eye keypoints, centred on the MTCNN
box, with side ``ROI_SCALE`` times the box's longer side. The 468 -> 68 correspondence is in
``liveness/data/facemesh_to_ibug68.json`` (built by ``scripts/build_landmark_data.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cached_property
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from liveness.detect import Face
from liveness.litert import make_interpreter

MODEL_ENV = "LIVENESS_FACEMESH_MODEL"
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "face_landmark.tflite"
WHEEL_REQUIREMENT = "mediapipe==0.10.21"
WHEEL_MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
#: BlazeFace comes out of the same wheel in the same step (``liveness.blazeface``).
BLAZEFACE_MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
INPUT_SIZE = 192
ROI_SCALE = 1.5


def model_path() -> Path:
    """Where the model is looked for: ``$LIVENESS_FACEMESH_MODEL`` or ``liveness/data/``."""
    return Path(os.environ.get(MODEL_ENV, DEFAULT_MODEL))


def fetch_model(destination: Path | None = None) -> Path:
    """Download the mediapipe 0.10.21 wheel (no dependencies) and extract the face mesh model and
    BlazeFace's short-range detector beside it (one download)."""
    target = destination or model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--implementation", "cp",
                        "--platform", "manylinux_2_28_x86_64", "--quiet", "-d", tmp,
                        WHEEL_REQUIREMENT], check=True)
        wheel = next(Path(tmp).glob("mediapipe-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            target.write_bytes(archive.read(WHEEL_MEMBER))
            from liveness.blazeface import model_path as blazeface_path

            blazeface = blazeface_path() if destination is None else target.parent / BLAZEFACE_MEMBER.rsplit("/", 1)[1]
            blazeface.write_bytes(archive.read(BLAZEFACE_MEMBER))
    return target


def load_mapping() -> np.ndarray:
    """``[68]`` int indices into the 468 mesh vertices, in iBUG order."""
    text = resources.files("liveness.data").joinpath("facemesh_to_ibug68.json").read_text()
    return np.asarray(json.loads(text)["mesh_index"], np.int64)


def roi_transform(face: Face) -> np.ndarray:
    """``[2, 3]`` affine from frame pixels to the model's 192-pixel input crop."""
    left_eye, right_eye = face.keypoints[0], face.keypoints[1]
    angle = np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
    centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    side = ROI_SCALE * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(angle),
                                     INPUT_SIZE / float(side))
    matrix[:, 2] += INPUT_SIZE / 2 - np.asarray(centre)
    return matrix


class FaceMeshLandmarks:
    """68 landmarks from MediaPipe's face mesh, run with LiteRT."""

    name = "facemesh"

    def __init__(self, path: str | Path | None = None) -> None:
        file = Path(path) if path else model_path()
        if not file.is_file():
            raise FileNotFoundError(
                f"face mesh model not found at {file}. Get it with `liveness fetch-facemesh` "
                f"(downloads the {WHEEL_REQUIREMENT} wheel without installing it and extracts "
                f"{WHEEL_MEMBER}), or point ${MODEL_ENV} at a copy.")
        self._interpreter = make_interpreter(file, threads=1)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._mesh = next(o["index"] for o in outputs if o["shape"][-1] == 468 * 3)

    def mesh(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """All ``[468, 2]`` float32 (x, y) mesh vertices in frame pixels."""
        matrix = roi_transform(face)
        crop = cv2.warpAffine(rgb, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        self._interpreter.set_tensor(self._input, (crop[None].astype(np.float32) / 255.0))
        self._interpreter.invoke()
        points = self._interpreter.get_tensor(self._mesh).reshape(468, 3)[:, :2]
        inverse = cv2.invertAffineTransform(matrix)
        return (points @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)

    def fit(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """``[68, 2]`` float32 (x, y) frame pixels."""
        return self.mesh(rgb, face)[self.mapping]

    @cached_property
    def mapping(self) -> np.ndarray:
        """``[68]`` mesh vertex index per iBUG point (loaded on first use)."""
        return load_mapping()
