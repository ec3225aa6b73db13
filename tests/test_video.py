"""Reading video files: real round trip, and unreadable input."""

import cv2
import numpy as np
import pytest

from liveness.video import DecodeReport, VideoError, probe, read_video


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
    with pytest.raises(VideoError, match="cannot be opened as a video|no decodable frame"):
        list(read_video(corrupt))
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(VideoError):
        probe(empty)


def test_a_directory_is_not_called_a_missing_file(tmp_path):
    with pytest.raises(VideoError, match="is a directory"):
        probe(tmp_path)


def test_a_cut_file_reports_its_decoding_error(tmp_path):
    """A file cut short decodes its first frames, then the decoder fails: the report says so."""
    import av

    path = tmp_path / "whole.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("h264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(30):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (48, 64, 3), np.uint8), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    whole = DecodeReport(probe(path).claimed_frames)
    assert len(list(read_video(path, whole))) == 30 and whole.error is None
    assert whole.warning(str(path)) is None
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) * 4 // 10])
    report = DecodeReport(probe(cut).claimed_frames)
    frames = list(read_video(cut, report))
    assert report.to_dict()["claimed_frames"] == 30
    assert report.decoded_frames == len(frames) < 30
    assert report.to_dict()["stopped_on_error"] is True, report
    assert "frames" in report.warning(str(cut))


def test_over_reporting_containers_are_told_apart_from_errors():
    report = DecodeReport(350, decoded_frames=214)
    assert "no decoding error" in report.warning("w.webm")
    failed = DecodeReport(621, decoded_frames=181, error="InvalidDataError: cut")
    assert "stopped on an error after 181 frames of the 621" in failed.warning("c.mp4")
