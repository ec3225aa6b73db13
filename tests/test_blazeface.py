"""BlazeFace: anchors, decoding, suppression, frames of any shape, and a missing or bad model."""

import cv2
import numpy as np
import pytest

from liveness.blazeface import BlazeFace, decode, model_path, ssd_anchors, weighted_suppression
from liveness.synthetic import base_frame


@pytest.fixture(scope="module")
def blazeface():
    if not model_path().is_file():
        pytest.skip("BlazeFace model missing: liveness fetch-facemesh")
    return BlazeFace()


def test_anchors_follow_the_short_range_layout():
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    # 16 x 16 cells of stride 8 with 2 anchors each, then 8 x 8 cells of stride 16 with 6.
    assert anchors[0].tolist() == anchors[1].tolist() == [0.5 / 16, 0.5 / 16]
    assert anchors[512].tolist() == anchors[517].tolist() == [0.5 / 8, 0.5 / 8]
    assert anchors[-1].tolist() == [7.5 / 8, 7.5 / 8]


def test_decoding_and_weighted_suppression():
    anchors = np.array([[0.5, 0.5], [0.5, 0.5], [0.1, 0.1]])
    regressors = np.zeros((1, 3, 16))
    regressors[0, :, 2:4] = 32.0                              # 32 px = 0.25 of the input
    regressors[0, 1, 0] = 4.0                                 # shifted by 4 px = 1/32
    logits = np.array([3.0, 1.0, -5.0])                       # the third is below 0.5
    boxes, scores, keypoints = decode(regressors, logits, anchors)
    assert len(boxes) == 2 and keypoints.shape == (2, 6, 2)
    merged = weighted_suppression(boxes, scores, keypoints)
    assert len(merged) == 1                                   # the two overlap: one face
    box, score, _points = merged[0]
    weight = scores[1] / scores.sum()
    assert box[0] == pytest.approx(0.375 + weight / 32)       # the score-weighted mean
    assert score == pytest.approx(scores.max())


def test_finds_the_synthetic_face_where_mtcnn_does(blazeface):
    from liveness.lite_mtcnn import LiteMTCNN

    frame = base_frame()
    face = blazeface.detect(frame)[0]
    reference = LiteMTCNN().detect(frame)[0]
    assert face.detector == "blazeface" and face.keypoints.shape == (6, 2)
    # The image-left eye first; both eyes within a few pixels of MTCNN's.
    np.testing.assert_allclose(face.keypoints[:2], reference.keypoints[:2], atol=8)
    centre = lambda box: (box[:2] + box[2:]) / 2   # noqa: E731
    assert np.linalg.norm(centre(face.box) - centre(reference.box)) < 20


@pytest.mark.parametrize("pad", [(0, 0, 0, 0), (200, 200, 0, 0), (0, 0, 300, 0), (40, 0, 0, 500)])
def test_letterboxing_keeps_frame_coordinates(blazeface, pad):
    """Frames of any aspect ratio: the same face at an offset gives the same box, shifted."""
    frame = base_frame()
    top, bottom, left, right = pad
    padded = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
    face = blazeface.detect(frame)[0]
    moved = blazeface.detect(padded)[0]
    shift = np.array([left, top, left, top], np.float32)
    # The padded frame shows the face smaller at 128 px, so the network's estimates move a
    # little: the eyes by a few per cent of the face, the box's lower edge by up to 10 % (a
    # wrong offset would be off by the padding, hundreds of pixels).
    scale = max(padded.shape[:2]) / max(frame.shape[:2])
    np.testing.assert_allclose(moved.keypoints[:2] - shift[:2], face.keypoints[:2],
                               atol=0.05 * face.size * scale)
    np.testing.assert_allclose(moved.box - shift, face.box, atol=0.12 * face.size * scale)


def test_two_faces_are_both_found(blazeface):
    half = base_frame()[:, 160:480]
    faces = blazeface.detect(np.concatenate([half, half], axis=1))
    assert len(faces) == 2


def test_grey_and_bgra_clips_run_through_blazeface():
    from liveness.clip import ClipChecker
    from liveness.config import preset
    from liveness.synthetic import synthetic_clip

    if not model_path().is_file():
        pytest.skip("BlazeFace model missing: liveness fetch-facemesh")
    checker = ClipChecker(preset("default").replace(detector="blazeface"))
    clip = synthetic_clip("photo", frames=6)
    for frames in ([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip],
                   [cv2.cvtColor(f, cv2.COLOR_RGB2BGRA) for f in clip]):
        pairs = checker.check(frames).verdict.pairs
        assert len(pairs) == 5 and pairs[0].status.value != "no_face"


def test_missing_or_corrupt_model_names_the_fetch_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="liveness fetch-facemesh"):
        BlazeFace(tmp_path / "absent.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model" * 50)
    with pytest.raises(ValueError, match="fetch-facemesh"):
        BlazeFace(bad)


def test_auto_falls_back_when_mtcnn_finds_nothing():
    from liveness.detect import Face, FallbackDetector

    class Fixed:
        def __init__(self, faces):
            self.faces = faces

        def detect(self, _rgb):
            return self.faces

    found = [Face(np.zeros(4, np.float32), 0.9, np.zeros((6, 2), np.float32), "blazeface")]
    frame = np.zeros((8, 8, 3), np.uint8)
    assert FallbackDetector(Fixed([]), Fixed(found)).detect(frame) is found
    mtcnn = [Face(np.zeros(4, np.float32), 0.99, np.zeros((5, 2), np.float32))]
    assert FallbackDetector(Fixed(mtcnn), Fixed(found)).detect(frame) is mtcnn
