"""Stage S1: face detection with MTCNN (the ``mtcnn`` package), and the face policy.

Policy (docs/decisions.md): faces smaller than ``min_face_px`` on the box's shorter side or less
confident than ``min_face_confidence`` are ignored. A frame with exactly one remaining face is used;
a frame with two or more is not (a bystander beside a phone must not become the subject), and a
clip with no usable frame for that reason is ``undecided: multiple_faces``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: MTCNN's five keypoints in its output order. ``left_eye`` is the eye on the image's left, i.e. the
#: subject's right eye (iBUG 36-41).
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
MTCNN_MIN_FACE = 20


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixels."""

    box: np.ndarray
    """``[4]`` float32 ``(x0, y0, x1, y1)``."""
    confidence: float
    keypoints: np.ndarray
    """``[5, 2]`` float32 (x, y) in :data:`KEYPOINT_NAMES` order for MTCNN; ``[6, 2]`` in
    ``liveness.blazeface.KEYPOINT_NAMES`` order for BlazeFace."""
    detector: str = "mtcnn"
    """Which detector found it (``mtcnn`` or ``blazeface``): says which keypoints it has."""

    @property
    def size(self) -> float:
        """Shorter side of the box, pixels."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def area(self) -> float:
        """Box area, square pixels."""
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))


class FaceDetector:
    """MTCNN face detector with the size and confidence policy. The network loads on first use.

    The policy, scaling and coordinate mapping live in :meth:`detect`; :meth:`_detect_rows` runs
    the detector itself (``liveness.lite_mtcnn.LiteMTCNN`` overrides it with LiteRT, and is the default).
    """

    def __init__(self, min_face_px: int = 40, min_confidence: float = 0.9) -> None:
        self.min_face_px = min_face_px
        self.min_confidence = min_confidence
        self._mtcnn = None

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an ``[H, W, 3]`` uint8 RGB frame that pass the policy, largest first."""
        self._check_frame(rgb)
        if min(rgb.shape[:2]) < self.min_face_px:
            return []
        # Detection runs on the frame scaled so that min_face_px becomes MTCNN's default 20 px:
        # 4x less work at 40 px, and mtcnn 1.0.0's pyramid breaks for min_face_size above ~30
        # (its level count ignores the start scale, so the last levels fall below 12 px).
        scale = min(1.0, MTCNN_MIN_FACE / self.min_face_px)
        small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale,
                                                    interpolation=cv2.INTER_AREA)
        # Coordinates go back to frame pixels (pixel centres: x = (x_small + 0.5) / scale - 0.5).
        faces = []
        for row in self._detect_rows(small):
            keypoints = np.stack([row[5:10], row[10:15]], axis=1)
            faces.append(Face(box=(row[0:4] / scale).astype(np.float32), confidence=float(row[4]),
                              keypoints=((keypoints + 0.5) / scale - 0.5).astype(np.float32)))
        return self._policy(faces)

    @staticmethod
    def _check_frame(rgb: np.ndarray) -> None:
        if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3
                and rgb.shape[2] == 3):
            got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise ValueError(f"detect expects an [H, W, 3] uint8 RGB frame, got {got}")

    def _policy(self, faces: list[Face]) -> list[Face]:
        """The faces at least ``min_face_px`` on the box's shorter side and ``min_confidence``
        sure, largest first."""
        kept = [f for f in faces if f.size >= self.min_face_px and f.confidence >= self.min_confidence]
        return sorted(kept, key=lambda f: f.area, reverse=True)

    def _detect_rows(self, rgb: np.ndarray) -> np.ndarray:
        """``[N, 15]`` rows ``x0, y0, x1, y1, confidence, 5 keypoint x, 5 keypoint y`` in ``rgb``'s
        pixels, from the ``mtcnn`` package (subclasses run other MTCNN implementations)."""
        if self._mtcnn is None:
            from mtcnn import MTCNN  # imports TensorFlow: only when a detector is used

            self._mtcnn = MTCNN()
        rows = self._mtcnn.detect_faces(rgb, box_format="xyxy", output_type="numpy",
                                        min_face_size=MTCNN_MIN_FACE)
        return np.asarray(rows, np.float64).reshape(-1, 16)[:, 1:]   # drop the image id


class FallbackDetector:
    """``auto``: the first detector's faces, or the second's on frames where the first finds none
    (MTCNN where it finds the face, BlazeFace for the faces it misses)."""

    def __init__(self, first: FaceDetector, second: FaceDetector) -> None:
        self.first, self.second = first, second

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.first.detect(rgb) or self.second.detect(rgb)
