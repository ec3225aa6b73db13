"""Reading clips: video files and in-memory frame arrays, validated at the edge.

Every frame leaves here as ``[height, width, 3]`` uint8 RGB. Grey (``[H, W]`` or ``[H, W, 1]``)
and RGBA (``[H, W, 4]``) arrays are converted; anything else raises with what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class VideoError(ValueError):
    """A clip that cannot be read: missing, not a video, no decodable frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container claims. ``claimed_frames`` may over-report (decode until it stops)."""

    path: str
    fps: float | None
    claimed_frames: int | None
    width: int
    height: int


def probe(path: str | Path) -> VideoInfo:
    """Open ``path`` and read its first frame; raise :class:`VideoError` when that fails."""
    capture = _open(path)
    try:
        ok, frame = capture.read()
        if not ok or frame is None:
            raise VideoError(f"{path}: no decodable frame (expected a video OpenCV can read, "
                             "e.g. MP4/H.264 or WebM/VP8-VP9)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        return VideoInfo(path=str(path), fps=float(fps) if fps > 0 else None,
                         claimed_frames=int(count) if count > 0 else None,
                         width=frame.shape[1], height=frame.shape[0])
    finally:
        capture.release()


def read_video(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of ``path`` as ``[H, W, 3]`` uint8 RGB until decoding stops."""
    probe(path)
    capture = _open(path)
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            yield to_rgb(frame, bgr=True)
    finally:
        capture.release()


def validate_frames(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield in-memory frames as RGB uint8, checking dtype, rank and that sizes never change."""
    size = None
    for index, frame in enumerate(frames):
        rgb = to_rgb(frame, bgr=False, index=index)
        if size is None:
            size = rgb.shape[:2]
        elif rgb.shape[:2] != size:
            raise ValueError(f"frame {index} is {rgb.shape[1]}x{rgb.shape[0]} but the clip started "
                             f"at {size[1]}x{size[0]}; all frames of a clip must have one size")
        yield rgb


def to_rgb(frame: np.ndarray, *, bgr: bool, index: int | None = None) -> np.ndarray:
    """Convert one frame (grey, RGB/BGR or RGBA/BGRA uint8) to ``[H, W, 3]`` uint8 RGB."""
    where = "frame" if index is None else f"frame {index}"
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{where} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(f"{where} must be uint8 (0..255), got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (3, 4))):
        raise ValueError(f"{where} must be [H, W], [H, W, 3] or [H, W, 4], got shape {frame.shape}")
    if min(frame.shape[:2]) < 16:
        raise ValueError(f"{where} is {frame.shape[1]}x{frame.shape[0]}; expected at least 16x16")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if bgr else np.ascontiguousarray(frame)


def _open(path: str | Path) -> cv2.VideoCapture:
    file = Path(path)
    if not file.is_file():
        raise VideoError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(file))
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{path}: OpenCV cannot open it as a video")
    return capture
