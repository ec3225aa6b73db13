"""An overlay video: landmarks, eyeball boxes and the running verdict drawn on each frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from liveness.conventions import eye_boxes
from liveness.results import PairResult, PairStatus


class OverlayWriter:
    """Frame observer for ``ClipChecker.check`` that writes an MJPG/MP4 video."""

    def __init__(self, path: Path, fps: float, min_eye_box_px: float,
                 eye_box_scale: float = 1.0) -> None:
        self.path = path
        self.fps = fps or 15.0
        self.min_eye_box_px = min_eye_box_px
        self.eye_box_scale = eye_box_scale
        self._writer = None
        self._last = "waiting for a face"

    def __call__(self, index: int, rgb: np.ndarray, landmarks: np.ndarray | None,
                 pair: PairResult | None) -> None:
        frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix == ".mp4" else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, frame.shape[1::-1])
            if not self._writer.isOpened():
                raise ValueError(f"cannot write the overlay video {self.path}")
        if landmarks is not None:
            for x, y in landmarks.astype(int):
                cv2.circle(frame, (int(x), int(y)), 2, (255, 255, 0), -1)
            for x0, y0, x1, y1 in eye_boxes(landmarks, self.min_eye_box_px,
                                                self.eye_box_scale).astype(int):
                cv2.rectangle(frame, (int(x0), int(y0)), (int(x1), int(y1)), (255, 0, 255), 1)
        if pair is not None:
            self._last = (f"k = {pair.score:.1f}" if pair.status is PairStatus.SCORED
                          else pair.status.value)
            if pair.plane_residual is not None:
                self._last += f", plane residual {pair.plane_residual:.1f} sigma"
        cv2.putText(frame, f"frame {index}: {self._last}", (10, 24), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, (0, 255, 255), 2)
        self._writer.write(frame)

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()
