"""Conventions pinned with off-axis values, so a swapped axis or sign fails loudly."""

import numpy as np
import pytest

from liveness.conventions import EYE_BOX_CORNERS, direction_bin, eye_boxes, eye_centres
from liveness.reference import cart_to_polar


@pytest.mark.parametrize(("flow", "degrees", "bin_index"), [
    ((1.0, 2.0), 63.435, 1),     # right and down: clockwise on screen from +x
    ((2.0, 1.0), 26.565, 0),
    ((-1.0, 0.0), 180.0, 5),
    ((0.0, 1.0), 90.0, 2),       # straight down on screen is 90 degrees
    ((0.0, -1.0), 270.0, 7),     # straight up is 270 degrees
    ((3.0, -4.0), 306.87, 8),
])
def test_direction_of_dx_dy(flow, degrees, bin_index):
    _mag, angle = cart_to_polar(np.array([flow], np.float32))
    assert np.degrees(angle[0]) == pytest.approx(degrees, abs=0.05)
    assert direction_bin(angle, 10)[0] == bin_index


def test_bins_are_half_open_and_wrap():
    edges = np.arange(11) * 2 * np.pi / 10
    # Just inside each edge (float32 rounding decides exactly at an edge, equally in both paths).
    assert direction_bin(edges[:10] + 1e-5, 10).tolist() == list(range(10))
    assert direction_bin(edges[1:] - 1e-5, 10).tolist() == list(range(10))
    assert direction_bin(np.array([0.0, 2 * np.pi]), 10).tolist() == [0, 0]


def test_eye_boxes_use_points_37_40_and_43_46():
    points = np.zeros((68, 2), np.float32)
    points[37], points[40] = (10, 20), (16, 24)   # subject's right eye: image left
    points[43], points[46] = (50, 21), (57, 26)   # subject's left eye: image right
    boxes = eye_boxes(points, min_size=0.0)
    assert EYE_BOX_CORNERS == ((37, 40), (43, 46))
    assert boxes.tolist() == [[10, 20, 16, 24], [50, 21, 57, 26]]


def test_eye_boxes_grow_to_min_size_about_their_centre():
    points = np.zeros((68, 2), np.float32)
    points[37], points[40] = (10, 20), (13, 21)
    box = eye_boxes(points, min_size=6.0)[0]
    assert box.tolist() == [8.5, 17.5, 14.5, 23.5]


def test_eye_centres_order_is_subject_right_then_left():
    points = np.zeros((68, 2), np.float32)
    points[36:42] = (3.0, 4.0)
    points[42:48] = (30.0, 5.0)
    assert eye_centres(points).tolist() == [[3.0, 4.0], [30.0, 5.0]]
