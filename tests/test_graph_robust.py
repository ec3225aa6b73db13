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
                       st.sampled_from([0.0, SIZE - 1.0, -0.5, SIZE - 0.5, 1e6, -1e6]))


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


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 50))
def test_identical_frames_have_no_evidence(module, seed):
    image = textured(SIZE, seed=seed)
    marks = np.random.default_rng(seed).uniform(0, SIZE, (1, 68, 2)).astype(np.float32)
    out = module(image[None], image[None], marks)
    assert not bool(out["valid"][0])
