"""Reading video files: real round trip, and unreadable input."""

import cv2
import numpy as np
import pytest

from liveness.video import VideoError, probe, read_video


def write_video(path, frames, fps=15.0):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_video_round_trip(tmp_path):
    frames = [np.full((48, 64, 3), (200, 30, 10), np.uint8) for _ in range(5)]
    path = tmp_path / "clip.avi"
    write_video(path, frames)
    info = probe(path)
    assert (info.width, info.height, info.fps) == (64, 48, 15.0)
    decoded = list(read_video(path))
    assert len(decoded) == 5
    assert decoded[0].shape == (48, 64, 3)
    assert decoded[0][..., 0].mean() > decoded[0][..., 2].mean()   # RGB order, not BGR


def test_missing_and_corrupt_files_raise(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        probe(tmp_path / "absent.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(VideoError, match="cannot open it as a video|no decodable frame"):
        list(read_video(corrupt))
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(VideoError):
        probe(empty)
