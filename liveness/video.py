"""Reading clips: video files (PyAV, which reports decoding errors) and in-memory frame arrays,
validated at the edge.

Every frame leaves here as ``[height, width, 3]`` uint8 RGB. Grey (``[H, W]`` or ``[H, W, 1]``)
and RGBA (``[H, W, 4]``) arrays are converted; anything else raises with what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

av.logging.set_level(None)   # no FFmpeg lines on stderr: errors reach the user as VideoError

class VideoError(ValueError):
    """A clip that cannot be read: missing, not a video, no decodable frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container claims. ``claimed_frames`` may over-report (decode until it stops)."""

    path: str
    fps: float | None
    claimed_frames: int | None
    """The stream's frame count, else its duration x frame rate (None when neither is known)."""
    width: int
    height: int


@dataclass
class DecodeReport:
    """What decoding a file gave, filled in as the frames are read (SPEC §5: a damaged video
    says so). ``claimed_frames`` comes from the container, which some formats over-report
    harmlessly (the shared ``webcam_live.webm`` claims 350 and holds 214); ``error`` is set only
    when the decoder itself failed, which is what a cut or corrupt file gives."""

    claimed_frames: int | None
    decoded_frames: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"claimed_frames": self.claimed_frames, "decoded_frames": self.decoded_frames,
                "stopped_on_error": self.error is not None, "error": self.error}

    def warning(self, path: str) -> str | None:
        """One line for stderr when the decoder failed or clearly fewer frames came than claimed
        (under 90 %; the JSON has both counts either way)."""
        if self.error is not None:
            return (f"{path}: decoding stopped on an error after {self.decoded_frames} frames"
                    + (f" of the {self.claimed_frames} the container claims" if self.claimed_frames else "")
                    + f" ({self.error}); the verdict covers the decoded frames only")
        # Durations x rates round: a frame or two short of the claim is not worth a warning.
        if self.claimed_frames and self.decoded_frames < 0.9 * self.claimed_frames:
            return (f"{path}: decoded {self.decoded_frames} of the {self.claimed_frames} frames the "
                    "container claims, with no decoding error (some containers over-report)")
        return None


def probe(path: str | Path) -> VideoInfo:
    """Open ``path`` and decode its first frame; raise :class:`VideoError` when that fails."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        try:
            frame = next(container.decode(stream))
        except (StopIteration, av.error.FFmpegError):
            raise VideoError(f"{path}: no decodable frame (expected a video such as MP4/H.264 "
                             "or WebM/VP8-VP9)") from None
        rate = float(stream.average_rate) if stream.average_rate else None
        claimed = stream.frames or None
        if claimed is None and rate and container.duration:
            claimed = int(round(container.duration / 1e6 * rate))
        height, width = _rotated(frame.to_ndarray(format="rgb24"), frame).shape[:2]
        return VideoInfo(path=str(path), fps=rate, claimed_frames=claimed, width=width, height=height)
    finally:
        container.close()


def read_video(path: str | Path, report: DecodeReport | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of ``path`` as ``[H, W, 3]`` uint8 RGB (turned upright when the stream
    says it is rotated) until decoding stops; ``report``, when given, records how it stopped."""
    probe(path)
    container = _open(path)
    try:
        for frame in container.decode(container.streams.video[0]):
            if report is not None:
                report.decoded_frames += 1
            yield np.ascontiguousarray(_rotated(frame.to_ndarray(format="rgb24"), frame))
    except av.error.FFmpegError as error:
        if report is not None:
            report.error = f"{type(error).__name__}: {error.strerror or error}"
    finally:
        container.close()


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


def _open(path: str | Path):
    file = Path(path)
    if file.is_dir():
        raise VideoError(f"{path}: is a directory, expected a video file")
    if not file.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        container = av.open(str(file))
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: cannot be opened as a video ({error.strerror or error})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container


def _rotated(rgb: np.ndarray, frame) -> np.ndarray:
    """The frame turned by the stream's display rotation (as OpenCV's decoder does)."""
    turns = int(round(getattr(frame, "rotation", 0) / 90)) % 4
    return np.rot90(rgb, k=-((4 - turns) % 4)) if turns else rgb
