"""The OpenCV reference stages: invariants, synthetic ground truth, errors."""

import numpy as np
import pytest

from liveness.config import preset
from liveness.conventions import direction_bin
from liveness.reference import (cart_to_polar, check_pair, chi_square_score, decide,
                                direction_histogram, eye_flow, landmark_flow)
from tests.conftest import textured, translate

CFG = preset("default")


def face_points(size: int = 96) -> np.ndarray:
    """68 points spread over the crop, away from its border; 37/40 and 43/46 make eye boxes."""
    rng = np.random.default_rng(1)
    points = rng.uniform(0.25 * size, 0.75 * size, (68, 2)).astype(np.float32)
    points[37], points[40] = (30, 36), (38, 40)
    points[43], points[46] = (58, 36), (66, 40)
    return points


def test_identical_frames_give_zero_flow_and_no_score():
    image = textured()
    flow, status = landmark_flow(image, image, face_points(), CFG)
    assert status.all() and np.abs(flow).max() == 0.0
    evidence = check_pair(image, image, face_points(), CFG)
    assert evidence.score is None and evidence.is_live is None
    assert evidence.landmark_vectors == 0 and evidence.eye_vectors == 0


@pytest.mark.parametrize(("dx", "dy"), [(0.3, 0.6), (-0.7, 0.2), (0.5, -0.45)])
def test_known_subpixel_translation_is_recovered_in_its_bin(dx, dy):
    image = textured(seed=3)
    moved = translate(image, dx, dy)
    flow, status = landmark_flow(image, moved, face_points(), CFG)
    assert status.all()
    np.testing.assert_allclose(np.median(flow, axis=0), (dx, dy), atol=0.05)
    _mag, angle = cart_to_polar(flow)
    expected = direction_bin(np.mod(np.arctan2(dy, dx), 2 * np.pi), 10)
    assert (direction_bin(angle, 10) == expected).all()


def test_eye_flow_recovers_translation_inside_the_boxes():
    image = textured(seed=4)
    moved = translate(image, 0.4, 0.8)
    boxes = np.array([[30, 36, 38, 40], [58, 36, 66, 40]], np.float32)
    dense, mask = eye_flow(image, moved, boxes, CFG)
    assert dense.shape == (2, 32, 32, 2) and mask.shape == (2, 32, 32)
    assert mask.sum(axis=(1, 2)).tolist() == [45, 45]   # 9 x 5 pixel centres in each box
    np.testing.assert_allclose(np.median(dense[mask], axis=0), (0.4, 0.8), atol=0.1)


def test_eye_patch_beyond_the_crop_border_is_reflected_not_an_error():
    image = textured(seed=5)
    boxes = np.array([[-3, -2, 4, 3], [90, 91, 99, 97]], np.float32)
    dense, mask = eye_flow(image, translate(image, 0.5, 0.0), boxes, CFG)
    assert np.isfinite(dense).all() and mask.any(axis=(1, 2)).all()


def test_translated_pair_scores_low_and_is_not_live():
    image = textured(seed=6)
    evidence = check_pair(image, translate(image, 0.8, 0.6), face_points(), CFG)
    assert evidence.score is not None and evidence.score < 20
    assert evidence.is_live is False


def test_histogram_gate_and_counts():
    magnitude = np.array([1.0, 0.2, 2.0, 1.0])
    angle = np.array([0.1, 0.1, np.pi, 2 * np.pi])
    valid = np.array([True, True, True, False])
    assert direction_histogram(magnitude, angle, valid, 10, 0.3).tolist() == \
        [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert direction_histogram(magnitude, angle, valid, 10, 0.0).sum() == 3


def test_score_bounds_and_symmetry():
    f = np.array([5.0, 3, 0, 2, 0, 0, 0, 0, 0, 1])
    r = np.array([0.0, 1, 7, 2, 0, 0, 4, 0, 0, 0])
    assert chi_square_score(f, f) == 0.0
    assert chi_square_score(f * 3, f) == pytest.approx(0.0)
    assert chi_square_score(np.eye(10)[0], np.eye(10)[5]) == 200.0
    assert chi_square_score(f, r) == pytest.approx(chi_square_score(r, f))
    assert 0 < chi_square_score(f, r) < 200
    with pytest.raises(ValueError, match="non-empty"):
        chi_square_score(np.zeros(10), f)


def test_decision_is_strictly_above_threshold():
    assert decide(100.01, 100.0) is True
    assert decide(100.0, 100.0) is False
    assert decide(None, 100.0) is None


def test_bad_pairs_raise_with_what_was_expected():
    image = textured()
    with pytest.raises(TypeError, match="uint8"):
        check_pair(image.astype(np.float32), image, face_points(), CFG)
    with pytest.raises(ValueError, match=r"\[height, width\] grey crop"):
        check_pair(np.dstack([image] * 3), image, face_points(), CFG)
    with pytest.raises(ValueError, match="same shape"):
        check_pair(image, image[:90], face_points(), CFG)
    with pytest.raises(ValueError, match=r"\[68, 2\]"):
        check_pair(image, image, face_points()[:5], CFG)
    bad = face_points()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        check_pair(image, image, bad, CFG)
