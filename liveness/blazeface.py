"""BlazeFace (MediaPipe's short-range face detector) on LiteRT, with its decoding in numpy.

The model is ``face_detection_short_range.tflite`` from the ``mediapipe==0.10.21`` wheel
(Apache-2.0; ``liveness fetch-facemesh`` extracts it beside the face mesh). Input ``[1, 128, 128,
3]`` RGB in [-1, 1]; outputs ``regressors [1, 896, 16]`` (box centre and size, then six keypoints,
in input pixels relative to an anchor) and ``classificators [1, 896, 1]`` (logits). The steps
follow what MediaPipe's graph configures (``SsdAnchorsCalculator``: 4 layers, strides 8, 16, 16,
16, fixed-size anchors, one interpolated scale; ``TensorsToDetectionsCalculator``: scales 128,
scores clipped at +-100 then a sigmoid, threshold 0.5; weighted non-maximum suppression at IoU
0.3), written here from those options. A frame of any aspect ratio is letterboxed: padded
symmetrically to a square with black, which the coordinates are mapped back through.

Keypoints (``KEYPOINT_NAMES``) in frame pixels: the two eye centres (the image's left first),
nose tip, mouth centre, and the two ear tragions.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from liveness.detect import Face, FaceDetector
from liveness.litert import make_interpreter

INPUT_PX = 128
STRIDES = (8, 16, 16, 16)
MIN_SCORE = 0.5
SUPPRESSION_IOU = 0.3
SCORE_CLIP = 100.0
KEYPOINT_NAMES = ("eye_image_left", "eye_image_right", "nose_tip", "mouth_centre",
                  "tragion_image_left", "tragion_image_right")
MODEL_NAME = "face_detection_short_range.tflite"


def model_path() -> Path:
    """Where the model is looked for: ``$LIVENESS_BLAZEFACE_MODEL`` or ``liveness/data/``."""
    default = Path(__file__).resolve().parent / "data" / MODEL_NAME
    return Path(os.environ.get("LIVENESS_BLAZEFACE_MODEL", default))


def ssd_anchors(size: int = INPUT_PX, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """``[N, 2]`` anchor centres (x, y) in [0, 1], in the model's output order: layers that share
    a stride are merged, each contributing two anchors per cell (its scale and the interpolated
    one); anchors are fixed-size (1 x 1), so only centres matter.

    >>> ssd_anchors().shape
    (896, 2)
    """
    centres = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        cells = math.ceil(size / strides[i])
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, 2 * (j - i), axis=1).reshape(-1, 2))
        i = j
    return np.concatenate(centres).astype(np.float64)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
           min_score: float = MIN_SCORE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(boxes [K, 4] (x0, y0, x1, y1), scores [K], keypoints [K, 6, 2])`` in [0, 1] input
    coordinates for the anchors scoring at least ``min_score``."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    keep = scores >= min_score
    raw, anchor = regressors.reshape(-1, 16)[keep] / INPUT_PX, anchors[keep]
    centre = raw[:, 0:2] + anchor
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], 1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + anchor[:, None, :]
    return boxes, scores[keep], keypoints


def weighted_suppression(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                         iou: float = SUPPRESSION_IOU) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's weighted non-maximum suppression: from the best remaining detection, every
    detection overlapping it by more than ``iou`` is merged into a score-weighted mean of boxes
    and keypoints; the merged detection keeps the best score."""
    order = list(np.argsort(-scores))
    merged = []
    area = np.prod(np.maximum(boxes[:, 2:] - boxes[:, :2], 0), 1)
    while order:
        best = order[0]
        lo = np.maximum(boxes[order, :2], boxes[best, :2])
        hi = np.minimum(boxes[order, 2:], boxes[best, 2:])
        inter = np.prod(np.maximum(hi - lo, 0), 1)
        overlap = inter / np.maximum(area[order] + area[best] - inter, 1e-12)
        group = [order[k] for k in np.nonzero(overlap > iou)[0]]
        weights = scores[group] / scores[group].sum()
        merged.append(((boxes[group] * weights[:, None]).sum(0), float(scores[best]),
                       (keypoints[group] * weights[:, None, None]).sum(0)))
        order = [o for o in order if o not in group]
    return merged


class BlazeFace(FaceDetector):
    """Face detector on BlazeFace (LiteRT), with the host's size policy (``min_face_px``) and
    the several-faces rule of ``FaceDetector``; its score threshold is MediaPipe's 0.5."""

    def __init__(self, path: Path | None = None, *, threads: int | None = None,
                 min_face_px: int = 40) -> None:
        super().__init__(min_face_px, MIN_SCORE)
        path = path or model_path()
        if not Path(path).is_file():
            raise FileNotFoundError(f"BlazeFace model {path} not found: run `liveness "
                                    "fetch-facemesh` (it extracts the face mesh and BlazeFace)")
        try:
            self.interpreter = make_interpreter(path, threads)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{path} is not a usable BlazeFace model ({error}); run "
                             "`liveness fetch-facemesh` again") from None
        detail = self.interpreter.get_input_details()[0]
        if tuple(detail["shape"]) != (1, INPUT_PX, INPUT_PX, 3):
            raise ValueError(f"{path}: input {tuple(detail['shape'])}, expected the short-range "
                             f"model's (1, {INPUT_PX}, {INPUT_PX}, 3)")
        self._input = detail["index"]
        outputs = {int(o["shape"][-1]): o["index"] for o in self.interpreter.get_output_details()}
        self._regressors, self._logits = outputs[16], outputs[1]
        self.anchors = ssd_anchors()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an ``[H, W, 3]`` uint8 RGB frame that pass the policy, largest first."""
        self._check_frame(rgb)
        height, width = rgb.shape[:2]
        side = max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        square = cv2.copyMakeBorder(rgb, top, side - height - top, left, side - width - left,
                                    cv2.BORDER_CONSTANT, value=0)
        small = cv2.resize(square, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA)
        self.interpreter.set_tensor(self._input, (small.astype(np.float32) / 127.5 - 1.0)[None])
        self.interpreter.invoke()
        boxes, scores, keypoints = decode(self.interpreter.get_tensor(self._regressors),
                                          self.interpreter.get_tensor(self._logits), self.anchors)
        offset = np.array([left, top], np.float64)
        faces = []
        for box, score, points in weighted_suppression(boxes, scores, keypoints):
            corners = box.reshape(2, 2) * side - offset
            faces.append(Face(box=corners.reshape(4).astype(np.float32), confidence=score,
                              keypoints=(points * side - offset).astype(np.float32),
                              detector="blazeface"))
        return self._policy(faces)
