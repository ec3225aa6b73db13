"""Frame sources of the demo: a video file, a camera, or raw NV21 frames (Android's camera format)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from liveness.video import probe, read_video


def nv21_frame_bytes(width: int, height: int) -> int:
    """Bytes of one NV21 frame: the ``width x height`` Y plane, then V/U at quarter resolution."""
    return width * height * 3 // 2


def read_nv21(path: Path, width: int, height: int) -> Iterator[np.ndarray]:
    """Yield the Y planes (``[height, width]`` uint8 grey) of the NV21 frames stored back to back.

    The Y plane is used as the grey image as it is: full-range (JFIF) luma, as Android cameras
    commonly deliver it, equals ``cv2.COLOR_RGB2GRAY``.

    Raises ``ValueError`` when the sizes are odd or non-positive, or the file is not a whole
    number of frames, saying how many bytes were expected.
    """
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"NV21 needs a positive, even width and height; got {width}x{height}")
    size = nv21_frame_bytes(width, height)
    total = path.stat().st_size
    if total == 0 or total % size:
        raise ValueError(f"{path} has {total} bytes, not a whole number of {width}x{height} NV21 "
                         f"frames ({width} * {height} * 3/2 = {size} bytes each)")
    with path.open("rb") as stream:
        for _ in range(total // size):
            frame = np.frombuffer(stream.read(size), np.uint8)
            yield frame[:width * height].reshape(height, width)


def write_nv21(frames_rgb: np.ndarray, path: Path) -> None:
    """Write ``[T, H, W, 3]`` RGB frames as full-range (JFIF) NV21, the Y plane equal to
    ``cv2.COLOR_RGB2GRAY`` (for tests and for making dumps from videos)."""
    with path.open("wb") as stream:
        for rgb in frames_rgb:
            ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
            h, w = rgb.shape[:2]
            chroma = cv2.resize(ycrcb[:, :, 1:], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            stream.write(ycrcb[:, :, 0].tobytes())
            stream.write(chroma.reshape(-1).tobytes())   # interleaved V (Cr), U (Cb): NV21


def read_camera(index: int, max_frames: int) -> Iterator[np.ndarray]:
    """Yield up to ``max_frames`` RGB frames from camera ``index``; ``ValueError`` if it won't open."""
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"camera {index} could not be opened (is it connected and free?)")
    try:
        for _ in range(max_frames):
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def open_video(path: Path) -> tuple[Iterator[np.ndarray], float | None, int | None]:
    """Frames, fps and claimed frame count of a video file (``liveness.video``'s reader)."""
    info = probe(path)
    return read_video(path), info.fps, info.claimed_frames
