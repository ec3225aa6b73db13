"""Property-based robustness of the graph: any crops and landmarks give finite, bounded outputs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import textured
from tests.graph_fixtures import DEFAULT

SIZE = DEFAULT.crop_size


@pytest.fixture(scope="module")
def module():
    from model_graph.module import LivenessCheck

    return LivenessCheck(DEFAULT)


def crop(kind: str, value: int, seed: int) -> np.ndarray:
    if kind == "random":
        return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    if kind == "textured":
        return textured(SIZE, seed=seed)
    if kind == "black":
        return np.zeros((SIZE, SIZE), np.uint8)
    if kind == "saturated":
        return np.full((SIZE, SIZE), 255, np.uint8)
    return np.full((SIZE, SIZE), value, np.uint8)


kinds = st.sampled_from(["random", "textured", "black", "saturated", "constant"])
coordinate = st.one_of(st.floats(-2.0 * SIZE, 3.0 * SIZE, width=32),
                       st.sampled_from([0.0, SIZE - 1.0, -0.5, SIZE - 0.5, 1e6, -1e6,
                                        float("nan"), float("inf"), -float("inf")]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind_a=kinds, kind_b=kinds, value=st.integers(0, 255), seed=st.integers(0, 10),
       points=st.lists(st.tuples(coordinate, coordinate), min_size=68, max_size=68))
def test_outputs_are_finite_and_bounded(module, kind_a, kind_b, value, seed, points):
    prev, next = crop(kind_a, value, seed), crop(kind_b, value, seed + 1)
    marks = np.asarray(points, np.float32)[None]
    out = {k: v.numpy() for k, v in module(prev[None], next[None], marks).items()}
    for name, array in out.items():
        if array.dtype != bool:
            assert np.isfinite(array).all(), name
    assert 0.0 <= out["score"][0] <= 200.0 + 1e-3
    assert out["landmark_hist"].sum() <= 68 and out["eye_hist"].sum() >= 0
    if not out["valid"][0]:
        assert out["score"][0] == 0.0 and not out["is_live"][0]
    if kind_a in ("black", "saturated", "constant") and kind_a == kind_b:
        assert not out["valid"][0]   # a flat, unchanged picture carries no evidence
    bad = ~np.isfinite(marks[0]).all(-1)
    assert not out["landmark_status"][0][bad].any()   # a non-finite point is never tracked


def test_non_finite_landmarks_are_untracked_points(module):
    image = textured(SIZE, seed=3)
    moved = np.roll(image, 1, axis=1)
    marks = np.random.default_rng(3).uniform(30, 130, (1, 68, 2)).astype(np.float32)
    one = marks.copy()
    one[0, 37] = np.nan                                  # a corner of the right eye's box
    out = {k: v.numpy() for k, v in module(image[None], moved[None], one).items()}
    assert not out["landmark_status"][0, 37] and np.isfinite(out["eye_boxes"]).all()
    assert (out["eye_boxes"][0, 0] == 0).all()           # that box is not valid
    nothing = {k: v.numpy() for k, v in module(image[None], moved[None],
                                               np.full_like(marks, np.nan)).items()}
    assert np.isfinite(nothing["eye_boxes"]).all() and not nothing["valid"][0]
    assert not nothing["landmark_status"].any() and not nothing["motion_judged"][0]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 20), frames=st.integers(0, 4), nan_at=st.integers(0, 67))
def test_clip_outputs_are_finite_for_any_length(module, seed, frames, nan_at):
    clip = np.stack([textured(SIZE, seed=seed + t) for t in range(frames)]) if frames else \
        np.zeros((0, SIZE, SIZE), np.uint8)
    marks = np.random.default_rng(seed).uniform(0, SIZE, (frames, 68, 2)).astype(np.float32)
    marks[:, nan_at] = np.nan
    patches = np.zeros((frames, 2, 80, 80, 3), np.uint8)
    out = module.check_clip(clip, marks, patches, np.full(frames, 0.5, np.float32))
    for name, value in out.items():
        value = value.numpy()
        if value.dtype != bool:
            assert np.isfinite(value).all(), name
    if frames < 2:
        assert int(out["verdict"]) == 2 and int(out["reason"]) == 1   # undecided: too_few_pairs


def test_tflite_outputs_are_finite_for_bad_landmarks():
    """Both signatures of the converted module (small config) on NaN, inf and far points."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from export.exporter import tflite_module
    from tests.graph_fixtures import SMALL

    module = tflite_module(SMALL)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.check.get_concrete_function(), module.check_clip.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    size = SMALL.crop_size
    image = textured(size, seed=1)
    rng = np.random.default_rng(1)
    for fill in (np.nan, np.inf, 1e6):
        marks = rng.uniform(0, size, (3, 68, 2)).astype(np.float32)
        marks[:, ::3] = fill
        patches, context = np.zeros((3, 2, 80, 80, 3), np.uint8), np.ones(3, np.float32)
        runners = interpreter.get_signature_list()
        for key in runners:
            runner = interpreter.get_signature_runner(key)
            if "frames" in runners[key]["inputs"]:
                out = runner(frames=np.stack([image] * 3), landmarks=marks, patches=patches,
                             patch_context=context)
            else:
                out = runner(prev=np.stack([image] * 3), next=np.stack([np.roll(image, 1, 1)] * 3),
                             landmarks=marks, patches=patches, patch_context=context)
            for name, value in out.items():
                if value.dtype != bool:
                    assert np.isfinite(value).all(), (key, name, fill)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 50))
def test_identical_frames_have_no_evidence(module, seed):
    image = textured(SIZE, seed=seed)
    marks = np.random.default_rng(seed).uniform(0, SIZE, (1, 68, 2)).astype(np.float32)
    out = module(image[None], image[None], marks)
    assert not bool(out["valid"][0])
