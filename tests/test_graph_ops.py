"""The TensorFlow stages one by one: invariants, ground truth, and parity with OpenCV."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from liveness import reference
from liveness.config import preset
from liveness.conventions import eye_boxes as np_eye_boxes
from model_graph.farneback import farneback
from model_graph.flow import eye_boxes, eye_flow, landmark_flow
from model_graph.histogram import direction_histogram
from model_graph.padding import pad
from model_graph.polar import cart_to_polar
from model_graph.pyramid import lk_levels, pyr_down
from model_graph.score import chi_square_score
from tests.conftest import textured, translate

CFG = preset("default")
# Tolerances, in domain units. LK runs in float with a fixed step schedule where OpenCV rounds to
# 14-bit fixed point and iterates up to 20 times: SPEC's parity budget applies (median and 95th
# percentile endpoint error). Farneback is OpenCV's arithmetic in float32 where OpenCV sums in
# double in places.
TOL = {"lk_median_px": 0.05, "lk_p95_px": 0.25, "lk_status_agree": 0.95, "farneback_px": 1e-3,
       "ground_truth_px": 0.05}


def batch(*images):
    return tf.constant(np.stack(images).astype(np.float32))


@pytest.mark.parametrize("border, numpy_mode", [("reflect101", "reflect"), ("replicate", "edge")])
def test_pad_equals_numpy(border, numpy_mode):
    """Every width up to more than twice the axis (reflect-101 several reflections deep), on
    either side and either axis."""
    x = np.random.default_rng(3).normal(size=(2, 7, 5)).astype(np.float32)
    for axis in (1, 2):
        for before in range(12):
            for after in (0, 1, 4, 11):
                widths = [(0, 0)] * 3
                widths[axis] = (before, after)
                np.testing.assert_array_equal(pad(tf.constant(x), axis, before, after, border),
                                              np.pad(x, widths, mode=numpy_mode))


@pytest.mark.parametrize("shape", [(160, 160), (41, 37), (5, 6)])
def test_pyramid_equals_opencv(shape):
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    np.testing.assert_array_equal(pyr_down(batch(image)).numpy()[0], cv2.pyrDown(image))
    assert lk_levels(160, 15, 2) == 2 and lk_levels(40, 15, 3) == 1


def random_points(n=68, low=-4.0, high=100.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, (n, 2)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lucas_kanade_matches_opencv(seed):
    image = textured(96, seed=seed)
    rng = np.random.default_rng(seed)
    moved = translate(image, *rng.uniform(-2.5, 2.5, 2))
    points = random_points(seed=seed)   # some at and beyond the border
    ref_flow, ref_ok = reference.landmark_flow(image, moved, points, CFG)
    flow, ok = landmark_flow(batch(image), batch(moved), tf.constant(points[None]), CFG)
    flow, ok = flow.numpy()[0], ok.numpy()[0]
    assert np.mean(ok == ref_ok) >= TOL["lk_status_agree"]
    error = np.linalg.norm(flow[ok & ref_ok] - ref_flow[ok & ref_ok], axis=1)
    assert np.median(error) <= TOL["lk_median_px"]
    assert np.percentile(error, 95) <= TOL["lk_p95_px"]


@pytest.mark.parametrize(("dx", "dy"), [(0.3, 0.6), (-1.7, 0.45)])
def test_lucas_kanade_recovers_known_translation(dx, dy):
    image = textured(96, seed=7)
    points = random_points(20, 25, 70, seed=3)
    flow, ok = landmark_flow(batch(image), batch(translate(image, dx, dy)),
                             tf.constant(points[None]), CFG)
    assert ok.numpy().all()
    np.testing.assert_allclose(np.median(flow.numpy()[0], axis=0), (dx, dy),
                               atol=TOL["ground_truth_px"])


def test_lucas_kanade_recovers_small_rotation():
    image = textured(128, seed=8)
    matrix = cv2.getRotationMatrix2D((64.0, 64.0), 1.0, 1.0)   # 1 degree about the centre
    rotated = cv2.warpAffine(image, matrix, (128, 128), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
    points = random_points(30, 34, 94, seed=4)
    expected = points @ matrix[:, :2].T + matrix[:, 2] - points
    flow, ok = landmark_flow(batch(image), batch(rotated), tf.constant(points[None]), CFG)
    assert ok.numpy().all()
    assert np.median(np.linalg.norm(flow.numpy()[0] - expected, axis=1)) < TOL["ground_truth_px"]


def test_identical_frames_give_zero_flow():
    image = textured(96, seed=9)
    points = random_points(seed=5)
    flow, ok = landmark_flow(batch(image), batch(image), tf.constant(points[None]), CFG)
    # Not exactly 0: the two windows are interpolated by different float products.
    assert np.abs(flow.numpy()).max() < 1e-3
    np.testing.assert_array_equal(ok.numpy()[0], reference.landmark_flow(image, image, points, CFG)[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_farneback_matches_opencv(seed):
    image = textured(32, seed=seed)
    moved = translate(image, 0.7, -0.4)
    expected = cv2.calcOpticalFlowFarneback(
        image, moved, None, pyr_scale=CFG.fb_pyr_scale, levels=CFG.fb_levels,
        winsize=CFG.fb_window, iterations=CFG.fb_iterations, poly_n=CFG.fb_poly_n,
        poly_sigma=CFG.fb_poly_sigma, flags=0)
    got = farneback(batch(image), batch(moved), window=CFG.fb_window, iterations=CFG.fb_iterations,
                    poly_n=CFG.fb_poly_n, poly_sigma=CFG.fb_poly_sigma).numpy()[0]
    np.testing.assert_allclose(got, expected, atol=TOL["farneback_px"])


@pytest.mark.parametrize("size, window", [(32, 9), (12, 5), (5, 9)])
def test_box_filter_is_a_replicate_border_box_mean(size, window):
    """Farneback's box mean as a matrix product equals OpenCV's ``blur`` with replicate borders
    (float32 sums of at most 81 values of magnitude <= 1: well inside 1e-6)."""
    from model_graph.farneback import box_filter

    x = np.random.default_rng(size).uniform(-1, 1, (size, size)).astype(np.float32)
    expected = cv2.blur(x, (window, window), borderType=cv2.BORDER_REPLICATE)
    got = box_filter(size, window) @ x @ box_filter(size, window).T
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_correlation_matrix_reflect101_is_opencvs_3x3_gaussian():
    """The smoothing folded into the polynomial expansion equals ``cv2.GaussianBlur`` 3x3 with
    reflect-101 borders (float32 sums of 9 values of magnitude <= 1: well inside 1e-6)."""
    from model_graph.farneback import correlation_matrix

    x = np.random.default_rng(3).uniform(-1, 1, (32, 32)).astype(np.float32)
    smooth = correlation_matrix(32, np.array([0.25, 0.5, 0.25]), "reflect101")
    expected = cv2.GaussianBlur(x, (3, 3), 0, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(smooth @ x @ smooth.T, expected, atol=1e-6)


def test_eye_boxes_and_eye_flow_equal_the_reference():
    image = textured(96, seed=10)
    moved = translate(image, 0.5, 0.25)
    points = random_points(seed=6)
    points[37], points[40], points[43], points[46] = (2, 3), (9, 6), (88, 90), (99, 97)
    boxes = np_eye_boxes(points, CFG.eye_min_box_px)
    np.testing.assert_array_equal(eye_boxes(tf.constant(points[None]), CFG.eye_min_box_px)[0][0], boxes)
    ref_flow, ref_mask = reference.eye_flow(image, moved, boxes, CFG)
    flow, mask = eye_flow(batch(image), batch(moved), tf.constant(boxes[None]), CFG)
    np.testing.assert_array_equal(mask.numpy()[0], ref_mask)
    np.testing.assert_allclose(flow.numpy()[0], ref_flow, atol=TOL["farneback_px"])


def test_polar_convention_off_axis():
    mag, ang = cart_to_polar(tf.constant([[1.0, 2.0], [-1.0, 0.0], [0.0, -1.0]]))
    np.testing.assert_allclose(np.degrees(ang.numpy()), [63.43495, 180.0, 270.0], atol=1e-4)
    np.testing.assert_allclose(mag.numpy(), [np.sqrt(5), 1, 1], atol=1e-6)


def test_histogram_and_score_match_the_reference():
    rng = np.random.default_rng(11)
    magnitude = rng.uniform(0, 2, (2, 300)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, (2, 300)).astype(np.float32)
    valid = rng.random((2, 300)) > 0.2
    got = direction_histogram(tf.constant(magnitude), tf.constant(angle), tf.constant(valid), 10, 0.3)
    for i in range(2):
        expected = reference.direction_histogram(magnitude[i], angle[i], valid[i], 10, 0.3)
        np.testing.assert_array_equal(got.numpy()[i], expected)
    f, r = got.numpy()
    k = chi_square_score(tf.constant([f, f]), tf.constant([r, f])).numpy()
    assert k[0] == pytest.approx(reference.chi_square_score(f, r), abs=1e-3)
    assert k[1] == pytest.approx(0.0, abs=1e-4)
    disjoint = chi_square_score(tf.constant([[3.0, 0.0]]), tf.constant([[0.0, 8.0]])).numpy()[0]
    assert disjoint == pytest.approx(200.0)


@pytest.mark.parametrize("weight", ["count", "magnitude"])
def test_histogram_bin_edges_and_vectors_left_out(weight):
    """Angles on and just below every bin edge, 0 and 2*pi bin as the reference bins them; a
    vector left out (invalid, or below the gate) votes nowhere, even with a non-finite angle."""
    edges = np.arange(11, dtype=np.float32) * np.float32(2 * np.pi / 10)
    angle = np.concatenate([edges, np.nextafter(edges, np.float32(0)), [0.0, 2 * np.pi]])
    magnitude = np.resize(np.array([0.5, 1.25, 2.0], np.float32), angle.shape)  # sums exact
    valid = np.ones(angle.shape, bool)
    expected = reference.direction_histogram(magnitude, angle.astype(np.float32), valid, 10,
                                             0.3, weight)
    left_out = (np.append(magnitude, [np.nan, 0.1, 1.0]),
                np.append(angle, [np.nan, np.inf, np.nan]), np.append(valid, [False, True, False]))
    for m, a, v in [(magnitude, angle, valid), left_out]:
        got = direction_histogram(tf.constant([m], tf.float32), tf.constant([a], tf.float32),
                                  tf.constant([v]), 10, 0.3, weight).numpy()[0]
        np.testing.assert_array_equal(got, expected)


def test_eager_and_tf_function_agree():
    image = textured(64, seed=12)
    moved = translate(image, 0.4, 0.9)
    points = tf.constant(random_points(10, 16, 48, seed=7)[None])
    eager = landmark_flow(batch(image), batch(moved), points, CFG)[0]
    traced = tf.function(lambda a, b, p: landmark_flow(a, b, p, CFG)[0])(batch(image), batch(moved), points)
    np.testing.assert_array_equal(eager.numpy(), traced.numpy())


def test_float_step_tests_equal_comparisons():
    """LK's stop rules are float masks (XNNPACK runs no comparisons): they must equal ``<``, with
    the values on either side, in TensorFlow and in TFLite (XNNPACK)."""
    from ai_edge_litert.interpreter import Interpreter

    from model_graph.lucas_kanade import _below

    rng = np.random.default_rng(13)
    values = np.concatenate([rng.normal(0, 1, 200), rng.normal(0, 1e-30, 20), [0.01, 0.0, -0.0,
                             0.01 + 1e-9, 0.01 - 1e-9, 1e30, -1e30]]).astype(np.float32)
    module = tf.Module()
    module.both = tf.function(lambda v, b: (_below(v, b), _below(b, v)),
                              input_signature=[tf.TensorSpec(values.shape), tf.TensorSpec([])])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.both.get_concrete_function()], module)
    runner = Interpreter(model_content=converter.convert()).get_signature_runner()
    for bound in (0.0, np.float32(0.01), 1e-4):
        below = (values < np.float32(bound)).astype(np.float32)
        above = (np.float32(bound) < values).astype(np.float32)
        np.testing.assert_array_equal(_below(tf.constant(values), bound).numpy(), below)
        np.testing.assert_array_equal(_below(bound, tf.constant(values)).numpy(), above)
        lite = runner(v=values, b=np.float32(bound))
        np.testing.assert_array_equal(lite["output_0"], below)
        np.testing.assert_array_equal(lite["output_1"], above)


def _read(pyramid, level: int, image, reads: str, corner, frac, count: int) -> np.ndarray:
    """``_Windows(...).read`` of ``count`` pixels as the graph runs it: compiled by XLA for
    ``"windows"`` (what those reads are for), eagerly otherwise."""
    from model_graph.lucas_kanade import _Windows

    def read(corner, frac):
        return _Windows(pyramid, level, image, reads).read(corner, frac, count)

    run = tf.function(read, jit_compile=True) if reads == "windows" else read
    return run(corner, frac).numpy()


@pytest.mark.parametrize("reads", ["products", "gathers", "windows"])
@pytest.mark.parametrize("window", [7, 15])
def test_window_reads_equal_the_padded_levels(window, reads):
    """Any read the LK may make (a ring of ``window + 2`` pixels from any top-left the bounds
    allow) equals the reflect-101 padded level, by every way of reading (at an offset of 0 the
    interpolation only copies: exact), each ``[y, x]``."""
    from model_graph.lucas_kanade import WINDOW_READS, strip_pyramid
    from model_graph.pyramid import build_pyramid

    images = tf.constant(np.random.default_rng(5).integers(0, 256, (2, 41, 37)).astype(np.float32))
    pyramid = strip_pyramid(images, 1, window, WINDOW_READS[reads])
    reach = window + 2
    for level, image in enumerate(build_pyramid(images, 1)):
        image = image.numpy()
        height, width = image.shape[1:]
        padded = np.pad(image, ((0, 0), (window + 1, window + 1), (window + 1, window + 3)),
                        mode="reflect")
        xs = np.arange(-(window + 1), width)
        ys = np.arange(-(window + 1), height + window + 1 - reach)
        x, y, k = (a.ravel().astype(np.float32) for a in np.meshgrid(xs, ys, [0, 1]))
        corner = tf.constant(np.stack([x, y], 1)[:, :, None])
        got = _read(pyramid, level, tf.constant(k.astype(np.int32)), reads, corner,
                    tf.zeros_like(corner), reach)
        for i in range(len(x)):
            row, column = int(y[i]) + window + 1, int(x[i]) + window + 1
            expected = padded[int(k[i]), row:row + reach, column:column + reach]
            np.testing.assert_array_equal(got[i], expected)


def test_window_sums_by_rows_equal_one_sum():
    """``P @ window`` summed row by row (the sums XLA runs, see ``_apply``) equals the exact sum up to
    float32 rounding, in any order of summation: at most ``n u / (1 - n u)`` times the sum of the
    terms' magnitudes for ``n`` = 225 products and sums (Higham, *Accuracy and Stability of
    Numerical Algorithms*, 3.1), ``u`` half float32's epsilon."""
    from model_graph.lucas_kanade import _apply

    rng = np.random.default_rng(7)
    projection = tuple(tf.constant(rng.uniform(-1, 1, (30, 15, 15)).astype(np.float32))
                       for _ in range(2))
    window = tf.constant(rng.uniform(0, 255, (30, 15, 15)).astype(np.float32))
    one_sum, by_rows = _apply(projection, window), _apply(projection, window, by_rows=True)
    assert by_rows.shape == one_sum.shape == (30, 2, 1)
    rows = np.stack([p.numpy().reshape(30, 225) for p in projection]).astype(np.float64)
    values = window.numpy().reshape(30, 225).astype(np.float64)                  # [30, 225]
    exact = np.einsum("rmk,mk->mr", rows, values)[:, :, None]
    magnitude = np.einsum("rmk,mk->mr", np.abs(rows), np.abs(values))[:, :, None]
    nu = 225 * np.finfo(np.float32).eps / 2
    bound = nu / (1 - nu) * magnitude
    assert np.all(np.abs(by_rows - exact) <= bound) and np.all(np.abs(one_sum - exact) <= bound)


def test_window_reads_interpolate_alike():
    """Every way of reading a window interpolates bilinearly at the sub-pixel offset; they sum in
    another order, so they agree to float rounding of intensities up to 255 (a few 1e-5)."""
    from model_graph.lucas_kanade import strip_pyramid

    rng = np.random.default_rng(6)
    images = tf.constant(rng.integers(0, 256, (2, 41, 37)).astype(np.float32))
    position = rng.uniform([-8, -8], [36, 34], (50, 2)).astype(np.float32)[:, :, None]
    corner = tf.floor(position)
    image = tf.constant(rng.integers(0, 2, 50).astype(np.int32))
    products, gathers, windows = (
        _read(strip_pyramid(images, 1, 7, step), 0, image, reads, corner, position - corner, 9)
        for reads, step in (("products", 5), ("gathers", 5), ("windows", 0)))
    np.testing.assert_allclose(gathers, products, atol=1e-4)
    np.testing.assert_allclose(windows, products, atol=1e-4)
    frac = (position - corner.numpy())[:, :, 0]
    first = products[:, 0, 0]                    # pixel (0, 0) by hand, from the padded image
    padded = np.pad(images.numpy(), ((0, 0), (8, 8), (8, 10)), mode="reflect")
    cx, cy = corner.numpy()[:, 0, 0].astype(int) + 8, corner.numpy()[:, 1, 0].astype(int) + 8
    k = image.numpy()
    by_hand = ((1 - frac[:, 1]) * ((1 - frac[:, 0]) * padded[k, cy, cx] + frac[:, 0] * padded[k, cy, cx + 1])
               + frac[:, 1] * ((1 - frac[:, 0]) * padded[k, cy + 1, cx] + frac[:, 0] * padded[k, cy + 1, cx + 1]))
    np.testing.assert_allclose(first, by_hand, atol=1e-3)


