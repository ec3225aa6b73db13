"""``LivenessCheck``: signature, parity with the reference, eager / tf.function / XLA / TFLite."""

import numpy as np
import pytest
import tensorflow as tf

from export.exporter import tflite_module
from liveness import reference
from model_graph.check import check_pair, pair_output_specs
from model_graph.module import LivenessCheck
from tests.graph_fixtures import DEFAULT, SMALL, pair_batch

OUTPUTS = {"score": ((), tf.float32), "is_live": ((), tf.bool), "valid": ((), tf.bool),
           "landmark_hist": ((10,), tf.float32), "eye_hist": ((10,), tf.float32),
           "landmark_vectors": ((), tf.int32), "eye_vectors": ((), tf.int32),
           "landmark_flow": ((68, 2), tf.float32), "landmark_status": ((68,), tf.bool),
           "eye_boxes": ((2, 4), tf.float32), "sigma": ((), tf.float32),
           "sigma_valid": ((), tf.bool), "motion": ((), tf.float32),
           "plane_residual": ((), tf.float32), "motion_judged": ((), tf.bool),
           "planar": ((), tf.bool), "points_kept": ((), tf.int32), "texture": ((), tf.float32),
           "texture_used": ((), tf.bool)}


@pytest.fixture(scope="session")
def default_module():
    return LivenessCheck(DEFAULT)


@pytest.fixture(scope="module")
def small_pairs():
    return pair_batch(SMALL.crop_size, 4, seed=20)


def test_outputs_have_the_documented_shapes(default_module):
    prev, next, marks = pair_batch(DEFAULT.crop_size, 3, seed=1)
    out = default_module(prev, next, marks)
    assert set(out) == set(OUTPUTS)
    for name, (shape, dtype) in OUTPUTS.items():
        assert out[name].shape == (3, *shape) and out[name].dtype == dtype, name


#: SPEC's parity budget, applied per pair: LK runs in float with a fixed step schedule where
#: OpenCV rounds to 14 bits and iterates up to 20 times (docs/parity.md measures it on real clips).
BUDGET = {"flow_median_px": 0.05, "flow_p95_px": 0.25, "status_agree": 0.95, "score_abs": 5.0}


def assert_within_parity_budget(out, i, ref):
    """Flow within the budget over the points both paths track, most statuses equal, the score
    within 5, and the same decisions (SPEC: on at least 98 % of pairs; these pairs sit far from
    every threshold)."""
    status = out["landmark_status"][i]
    assert np.mean(status == ref.landmark_status) >= BUDGET["status_agree"]
    both = status & ref.landmark_status
    error = np.linalg.norm(out["landmark_flow"][i][both] - ref.landmark_flow[both], axis=1)
    assert np.median(error) <= BUDGET["flow_median_px"]
    assert np.percentile(error, 95) <= BUDGET["flow_p95_px"]
    assert out["valid"][i] == (ref.score is not None)
    if ref.score is not None:
        assert abs(out["score"][i] - ref.score) <= BUDGET["score_abs"]
        assert out["is_live"][i] == ref.is_live
    assert out["sigma_valid"][i] == (ref.sigma is not None)
    assert out["motion_judged"][i] == ref.motion_judged
    assert out["planar"][i] == ref.planar


def test_check_pair_is_the_pair_check_without_texture(default_module):
    prev, next, marks = pair_batch(DEFAULT.crop_size, 2, seed=3)
    full = default_module(prev, next, marks)
    pair = default_module.check_pair(prev, next, marks)
    assert set(pair) == set(OUTPUTS) - {"texture", "texture_used"}
    for name, value in pair.items():
        np.testing.assert_array_equal(value.numpy(), full[name].numpy(), err_msg=name)
    mismatched = default_module.check_pair(prev, next[:1], marks)
    assert not mismatched["valid"].numpy().any()


def test_module_matches_the_reference_pair_by_pair(default_module):
    prev, next, marks = pair_batch(DEFAULT.crop_size, 4, seed=2)
    out = {k: v.numpy() for k, v in default_module(prev, next, marks).items()}
    for i in range(4):
        ref = reference.check_pair(prev[i], next[i], marks[i], DEFAULT)
        np.testing.assert_allclose(out["eye_boxes"][i], ref.eye_boxes, atol=1e-5)
        assert_within_parity_budget(out, i, ref)


def test_switchable_cues_match_the_reference():
    """Another face grid, magnitude weighting and larger eye boxes: both paths within the budget."""
    cfg = DEFAULT.replace(motion_grid=5, histogram_weight="magnitude", eye_box_scale=1.5)
    prev, next, marks = pair_batch(cfg.crop_size, 4, seed=5)
    out = {k: v.numpy() for k, v in LivenessCheck(cfg)(prev, next, marks).items()}
    for i in range(4):
        ref = reference.check_pair(prev[i], next[i], marks[i], cfg)
        np.testing.assert_allclose(out["eye_boxes"][i], ref.eye_boxes, atol=1e-5)
        assert_within_parity_budget(out, i, ref)


def test_eager_equals_tf_function(small_pairs):
    prev, next, marks = small_pairs
    eager = check_pair(tf.constant(prev), tf.constant(next), tf.constant(marks), SMALL)
    traced = LivenessCheck(SMALL)(prev, next, marks)
    for name in ("valid", "is_live", "landmark_hist", "eye_hist", "landmark_status", "eye_boxes"):
        np.testing.assert_array_equal(eager[name].numpy(), traced[name].numpy(), err_msg=name)
    # Grappler may reorder float sums in the traced graph: a few ulps on the flow.
    np.testing.assert_allclose(eager["landmark_flow"], traced["landmark_flow"], atol=1e-4)
    np.testing.assert_allclose(eager["score"], traced["score"], atol=1e-3)


@pytest.mark.parametrize("reads", ["windows", "products"])
def test_xla_equals_tf_function(small_pairs, reads):
    """Under XLA the module reads LK's windows by sliced squares unless told otherwise; either
    way XLA gives the tf.function's outputs."""
    prev, next, marks = small_pairs
    traced = LivenessCheck(SMALL)(prev, next, marks)
    module = LivenessCheck(SMALL, jit_compile=True,
                           window_reads=None if reads == "windows" else reads)
    assert module.window_reads == reads
    compiled = module(prev, next, marks)
    for name in ("valid", "is_live", "landmark_hist", "eye_hist", "landmark_status"):
        np.testing.assert_array_equal(compiled[name].numpy(), traced[name].numpy(), err_msg=name)
    # XLA fuses and reorders float sums: flows agree to a few thousandths of a pixel.
    np.testing.assert_allclose(compiled["landmark_flow"], traced["landmark_flow"], atol=5e-3)
    np.testing.assert_allclose(compiled["score"], traced["score"], atol=1e-2)


def test_reads_by_sliced_squares_need_xla():
    assert LivenessCheck(SMALL).window_reads == "products"
    with pytest.raises(ValueError, match="need XLA"):
        LivenessCheck(SMALL, window_reads="windows")
    with pytest.raises(ValueError, match="window reads must be one of"):
        LivenessCheck(SMALL, jit_compile=True, window_reads="pixels")


def test_the_compiled_module_checks_a_clip_without_xla(small_pairs):
    """``check_clip`` is never compiled: under a module whose pair signatures read by sliced
    squares it reads by products, and gives the uncompiled module's verdict."""
    prev, next, marks = small_pairs
    frames, landmarks = np.concatenate([prev[:1], next[:1]]), np.concatenate([marks[:1]] * 2)
    plain = LivenessCheck(SMALL).clip(frames, landmarks)
    compiled = LivenessCheck(SMALL, jit_compile=True).clip(frames, landmarks)
    for name in ("verdict", "reason", "pair_valid", "pair_planar"):
        np.testing.assert_array_equal(compiled[name].numpy(), plain[name].numpy(), err_msg=name)


def test_every_xla_product_runs_in_full_float32():
    """A GPU may round products at precision DEFAULT to TensorFloat-32 (10-bit mantissas);
    constructing the module must turn that off, so XLA lowers every dot at HIGHEST."""
    tf.config.experimental.enable_tensor_float_32_execution(True)
    module = LivenessCheck(SMALL, jit_compile=True, pair_batch=2, pair_streams=1)   # one call
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    size = SMALL.crop_size
    specs = [tf.TensorSpec([2, size, size], tf.uint8), tf.TensorSpec([2, size, size], tf.uint8),
             tf.TensorSpec([2, 68, 2], tf.float32)]
    hlo = module.check_pair.experimental_get_compiler_ir(*specs)(stage="hlo")
    dots = hlo.count(" dot(")
    assert dots > 0 and hlo.count("operand_precision={highest,highest}") == dots


def test_tflite_conversion_uses_builtins_only_and_gives_the_same_numbers(small_pairs):
    from ai_edge_litert.interpreter import Interpreter

    module = LivenessCheck(SMALL)
    shipped = tflite_module(SMALL)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [shipped.check.get_concrete_function()], shipped)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex, no custom
    converter.allow_custom_ops = False
    blob = converter.convert()
    interpreter = Interpreter(model_content=blob)
    runner = interpreter.get_signature_runner()
    prev, next, marks = small_pairs
    patches = np.random.default_rng(4).integers(0, 256, (len(prev), 2, 80, 80, 3), dtype=np.uint8)
    context = np.ones(len(prev), np.float32)
    for i in range(len(prev)):   # the converted file has batch 1 in its first allocation
        inputs = {"prev": prev[i:i + 1], "next": next[i:i + 1], "landmarks": marks[i:i + 1],
                  "patches": patches[i:i + 1], "patch_context": context[i:i + 1]}
        out = runner(**inputs)
        expected = module(**inputs)
        for name in ("valid", "landmark_status", "motion_judged", "sigma_valid", "texture_used"):
            np.testing.assert_array_equal(out[name], expected[name].numpy(), err_msg=name)
        # Windows read by gathers in TFLite, by products in TensorFlow: the same interpolation
        # summed in another order moves a point by ~1e-5 px, or by at most epsilon = 0.01 px where
        # a stop test falls within that of its threshold (the bound in docs/serving.md).
        np.testing.assert_allclose(out["landmark_flow"], expected["landmark_flow"], atol=0.01)
        np.testing.assert_allclose(out["sigma"], expected["sigma"], rtol=1e-3)
        np.testing.assert_allclose(out["texture"], expected["texture"], atol=1e-4)


def test_configs_the_graph_cannot_run_are_refused():
    with pytest.raises(ValueError, match="more than one level"):
        LivenessCheck(DEFAULT.replace(eye_patch_px=64))


def _assert_same_outputs(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name].shape == value.shape and got[name].dtype == value.dtype, name
        if value.dtype.is_floating:
            # Bit-identical where written; a CPU's matrix-product library may order a float32
            # sum differently for another batch size: a few ulps of values below 1e3.
            np.testing.assert_allclose(got[name], value, atol=1e-3, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_a_batch_in_chunks_gives_what_the_batch_at_once_gives():
    prev, next, marks = pair_batch(SMALL.crop_size, 5, seed=21)     # 3 chunks of 2, one padded
    at_once = LivenessCheck(SMALL, pair_chunk=None)(prev, next, marks)
    _assert_same_outputs(LivenessCheck(SMALL, pair_chunk=2)(prev, next, marks), at_once)


@pytest.mark.parametrize("rows, parts", [(5, [2, 2, 2]), (6, [2, 2, 2]), (2, [1, 1, 1])])
def test_in_streams_splits_a_batch_into_equal_parts_padded_with_zeros(rows, parts):
    from model_graph.check import in_streams

    seen = []

    def check(values):
        seen.append(values.numpy().tolist())
        return {"twice": values * 2}

    values = tf.range(1, rows + 1)
    out = in_streams(check, [values], 3)
    assert [len(part) for part in seen] == parts
    assert sum(seen, [])[:rows] == list(range(1, rows + 1)) and not any(sum(seen, [])[rows:])
    np.testing.assert_array_equal(out["twice"], 2 * np.arange(1, rows + 1))


def test_a_batch_in_xla_streams_gives_what_one_call_gives():
    """Under XLA a batch of at least ``pair_streams`` pairs is split into that many parts, each
    its own compiled call (zero pairs pad the last); a smaller batch is one call."""
    prev, next, marks = pair_batch(SMALL.crop_size, 5, seed=21)
    one = LivenessCheck(SMALL, jit_compile=True, pair_chunk=2, pair_streams=1)
    streams = LivenessCheck(SMALL, jit_compile=True, pair_chunk=2, pair_streams=3)
    assert (one.pair_streams, streams.pair_streams) == (1, 3)
    for count in (5, 2):                   # parts of 2, the last padded by one; fewer than 3
        _assert_same_outputs(streams(prev[:count], next[:count], marks[:count]),
                             one(prev[:count], next[:count], marks[:count]))
    # Inside the graph, inputs that disagree on the batch size give no valid pair, as in one call.
    assert np.any(streams.check_pair(prev, next, marks)["landmark_status"])
    for marks_of_another_batch in (marks[:4], np.concatenate([marks, marks[:2]])):   # 4, 7
        mismatched = streams.check_pair(prev, next, marks_of_another_batch)
        assert mismatched["landmark_flow"].shape[0] == 5 and not np.any(mismatched["valid"])
        assert not np.any(mismatched["landmark_status"]) and not np.any(mismatched["planar"])
    assert LivenessCheck(SMALL, pair_streams=3).pair_streams == 1      # plain TensorFlow
    assert LivenessCheck(SMALL, jit_compile=True, pair_chunk=None, pair_streams=3).pair_streams == 1
    with pytest.raises(ValueError, match="pair streams must be at least 1"):
        LivenessCheck(SMALL, pair_streams=0)


def test_the_pair_output_specs_are_what_check_pair_returns():
    prev, next, marks = pair_batch(SMALL.crop_size, 2, seed=22)
    out = check_pair(tf.constant(prev), tf.constant(next), tf.constant(marks), SMALL)
    specs = pair_output_specs(SMALL)
    assert list(out) == list(specs)
    for name, spec in specs.items():
        assert out[name].dtype == spec.dtype and out[name].shape[1:] == spec.shape, name
