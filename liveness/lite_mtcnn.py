"""MTCNN on LiteRT: the three networks as TFLite files plus the pipeline in numpy (no TensorFlow).

The default detector of the host pipeline and of the LiteRT demo.

The same algorithm and constants as the ``mtcnn`` package (1.0.0), which the host pipeline uses,
so both find the same faces (measured in docs/mobile_demo.md): an image pyramid for P-Net
(``scale_factor`` 0.709, OpenCV's area resize standing in for TensorFlow's, equal to about 1e-5),
proposals above 0.6, per-scale and global non-maximum suppression, squared boxes, R-Net on 24 px
patches (above 0.7), O-Net on 48 px patches (above 0.8) with the five keypoints, and a final
"min" suppression. Patches are cut like ``tf.image.crop_and_resize`` (bilinear, zero outside).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from liveness.detect import MTCNN_MIN_FACE, FaceDetector
from liveness.litert import make_interpreter

PNET_THRESHOLD, RNET_THRESHOLD, ONET_THRESHOLD = 0.6, 0.7, 0.8
#: The shipped networks (``python -m export.mtcnn_tflite`` writes them; NOTICE beside them).
MODEL_DIR = Path(__file__).resolve().parent / "data" / "mtcnn"
SCALE_FACTOR, CELL, STRIDE = 0.709, 12, 2


class LiteMTCNN(FaceDetector):
    """Face detector on ``mtcnn_{pnet,rnet,onet}.tflite``, with the host's size/confidence policy
    (``FaceDetector.detect``); only the networks and the steps around them are replaced."""

    def __init__(self, model_dir: Path = MODEL_DIR, *, threads: int | None = None,
                 min_face_px: int = 40, min_confidence: float = 0.9) -> None:
        super().__init__(min_face_px, min_confidence)
        self.pnet = make_interpreter(model_dir / "mtcnn_pnet.tflite", threads, allocate=False)
        self.rnet = make_interpreter(model_dir / "mtcnn_rnet.tflite", threads)
        self.onet = make_interpreter(model_dir / "mtcnn_onet.tflite", threads)

    def _detect_rows(self, rgb: np.ndarray) -> np.ndarray:
        """Rows ``[x0, y0, x1, y1, score, 5 keypoint x, 5 keypoint y]`` in ``rgb``'s pixels."""
        image = (rgb.astype(np.float32) - 127.5) / 128.0
        height, width = image.shape[:2]
        boxes = self._propose(image)
        if len(boxes):
            boxes = self._refine(image, boxes)
        if not len(boxes):
            return np.empty((0, 15))
        rows = self._output(image, boxes)
        rows[:, [0, 2]] = np.clip(rows[:, [0, 2]], 0, width - 1)
        rows[:, [1, 3]] = np.clip(rows[:, [1, 3]], 0, height - 1)
        return rows

    def _propose(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        levels = round(-(np.log(min(height, width) / CELL) / np.log(SCALE_FACTOR) + 1))
        proposals = []
        for scale in (CELL / MTCNN_MIN_FACE) * SCALE_FACTOR ** np.arange(levels):
            h, w = int(height * scale), int(width * scale)
            if min(h, w) < CELL:
                break
            level = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            outputs = _run(self.pnet, level[None])
            reg, cls = outputs[4][0], outputs[2][0]
            ys, xs = np.nonzero(cls[..., 1] > PNET_THRESHOLD)
            if not len(ys):
                continue
            score = cls[ys, xs, 1]
            x0, y0 = xs * STRIDE + 1.0, ys * STRIDE + 1.0
            x1, y1 = xs * STRIDE + float(CELL), ys * STRIDE + float(CELL)
            size = x1 - x0
            r = reg[ys, xs]
            found = np.stack([x0 + r[:, 0] * size, y0 + r[:, 1] * size, x1 + r[:, 2] * size,
                              y1 + r[:, 3] * size], 1) / scale
            found = _sorted(np.concatenate([found, score[:, None]], 1))
            proposals.append(found[suppress(found[:, :4], 0.5, "union")])
        if not proposals:
            return np.empty((0, 5))
        boxes = _sorted(np.concatenate(proposals))
        return square(boxes[suppress(boxes[:, :4], 0.7, "union")])

    def _refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        outputs = _run(self.rnet, crop_and_resize(image, boxes[:, :4], 24))
        boxes = boxes.copy()
        boxes[:, 4] = outputs[2][:, 1]
        boxes[:, :4] += outputs[4] * _sizes(boxes)
        boxes = _sorted(boxes[boxes[:, 4] > RNET_THRESHOLD])
        return square(boxes[suppress(boxes[:, :4], 0.7, "union")])

    def _output(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        outputs = _run(self.onet, crop_and_resize(image, boxes[:, :4], 48))
        sizes = _sizes(boxes)
        keypoints = outputs[10].copy()
        keypoints[:, :5] = sizes[:, :1] * keypoints[:, :5] + boxes[:, 0:1] - 1
        keypoints[:, 5:] = sizes[:, 1:2] * keypoints[:, 5:] + boxes[:, 1:2] - 1
        boxes = boxes.copy()
        boxes[:, 4] = outputs[2][:, 1]
        boxes[:, :4] += outputs[4] * sizes
        rows = np.concatenate([boxes, keypoints], 1)
        rows = _sorted(rows[rows[:, 4] > ONET_THRESHOLD])
        return rows[suppress(rows[:, :4], 0.7, "min")]


def _run(interpreter, batch: np.ndarray) -> dict[int, np.ndarray]:
    """Run a network on ``batch``; outputs keyed by their last dimension (2, 4 or 10)."""
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"]) != batch.shape:
        interpreter.resize_tensor_input(detail["index"], batch.shape)
        interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], np.ascontiguousarray(batch, np.float32))
    interpreter.invoke()
    return {int(o["shape"][-1]): interpreter.get_tensor(o["index"])
            for o in interpreter.get_output_details()}


def _sorted(rows: np.ndarray) -> np.ndarray:
    """Rows by descending score, ties in mtcnn's order (its ascending argsort, reversed): P-Net's
    softmax saturates at 1.0 for clear faces, so ties are common and their order decides which
    box the suppression keeps."""
    return rows[np.argsort(rows[:, 4])[::-1]]


def _sizes(boxes: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    return np.stack([w, h, w, h], 1)


def square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares about their centres (side = the longer side)."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += w * 0.5 - side * 0.5
    boxes[:, 1] += h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def suppress(boxes: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """Indices of score-sorted ``boxes [N, 4]`` that overlap no higher-scored box by more than
    ``threshold`` (IoU for ``union``, intersection over the smaller area for ``min``), as mtcnn does.

    >>> suppress(np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float), 0.5, "union").tolist()
    [0, 2]
    """
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    ix = np.maximum(0, np.minimum(boxes[None, :, 2], boxes[:, None, 2])
                    - np.maximum(boxes[None, :, 0], boxes[:, None, 0]))
    iy = np.maximum(0, np.minimum(boxes[None, :, 3], boxes[:, None, 3])
                    - np.maximum(boxes[None, :, 1], boxes[:, None, 1]))
    inter = ix * iy
    if method == "union":
        overlap = inter / (area[:, None] + area[None, :] - inter)
    else:
        overlap = inter / np.minimum(area[:, None], area[None, :])
    earlier = np.triu(np.ones_like(overlap, dtype=bool), k=1)   # row i earlier than column j
    return np.nonzero(~np.any((overlap > threshold) & earlier, axis=0))[0]


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """``[N, size, size, 3]`` bilinear patches of ``image [H, W, 3]`` over ``boxes [N, 4]``
    (x0, y0, x1, y1 pixels), as ``tf.image.crop_and_resize`` cuts them for mtcnn (box edges
    scaled by ``(H - 1) / H``; samples outside the image are 0)."""
    height, width = image.shape[:2]
    steps = np.arange(size) / (size - 1)
    ys = (boxes[:, 1:2] / height + steps * (boxes[:, 3:4] - boxes[:, 1:2]) / height) * (height - 1)
    xs = (boxes[:, 0:1] / width + steps * (boxes[:, 2:3] - boxes[:, 0:1]) / width) * (width - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    fy = (ys - y0)[:, :, None, None]
    fx = (xs - x0)[:, None, :, None]
    y1 = np.clip(np.ceil(ys).astype(int), 0, height - 1)
    x1 = np.clip(np.ceil(xs).astype(int), 0, width - 1)
    y0c, x0c = np.clip(y0, 0, height - 1), np.clip(x0, 0, width - 1)
    top = image[y0c[:, :, None], x0c[:, None, :]] * (1 - fx) + image[y0c[:, :, None], x1[:, None, :]] * fx
    bottom = image[y1[:, :, None], x0c[:, None, :]] * (1 - fx) + image[y1[:, :, None], x1[:, None, :]] * fx
    patches = top + (bottom - top) * fy
    inside = ((ys >= 0) & (ys <= height - 1))[:, :, None] & ((xs >= 0) & (xs <= width - 1))[:, None, :]
    return (patches * inside[..., None]).astype(np.float32)
