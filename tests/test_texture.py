"""The texture cue: converted weights, the Keras networks against upstream's, the patch rule."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from liveness.paths import REPO_ROOT
from liveness.texture import TextureScorer, cut_patches, landmark_box, patch_window

GOLDEN = np.load(REPO_ROOT / "tests" / "data" / "texture_golden.npz")
#: Keras/TFLite against upstream's network: float32 reassociation moves the logits by ~1e-5 and
#: the softmax's slope is at most 1/4 (export/golden.py states the same bound).
PARITY = 1e-4


def load_script(name: str):
    """A module of ``scripts/`` (they are run as files, not installed)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def keras_model():
    from model_graph.texture import texture_model

    return texture_model()


def test_keras_model_matches_upstream_on_the_golden_patches(keras_model):
    probs = keras_model.predict(GOLDEN["patches"].astype(np.float32), verbose=0)
    np.testing.assert_allclose(probs, GOLDEN["oracle"], atol=PARITY)


def test_shipped_tflite_matches_upstream_on_the_golden_patches():
    np.testing.assert_allclose(TextureScorer()(GOLDEN["patches"]), GOLDEN["oracle"], atol=PARITY)


def test_every_upstream_weight_is_assigned_exactly_once():
    from model_graph.texture import WEIGHTS_DIR, _Builder, _KEEP

    for variant in ("v2", "v1se"):
        state = dict(np.load(WEIGHTS_DIR / f"minifasnet_{variant}.npz"))
        builder = _Builder(state, se=variant == "v1se")
        builder.build(_KEEP[variant], variant)
        expected = {k for k in state if not k.endswith("num_batches_tracked")}
        assert builder.used == expected, variant
        with pytest.raises(ValueError, match="assigned twice"):
            builder.take(next(iter(builder.used)))


def test_converted_weights_carry_their_provenance():
    folder = REPO_ROOT / "liveness" / "data" / "silent_face"
    record = json.loads((folder / "PROVENANCE.json").read_text())
    assert record["source"]["commit"] == "b6d5f04ad78778917853b25c778acef6d5626d15"
    for name, entry in record["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"], name
    notice = (folder / "NOTICE").read_text()
    assert "Copyright 2020 Minivision" in notice and "converted" in notice
    assert "Apache License" in (folder / "LICENSE").read_text()


def test_the_converter_reproduces_the_shipped_arrays(shared, tmp_path):
    convert = load_script("convert_silent_face")
    models = shared.parent / "models" / "silent_face"
    arrays = convert.read_legacy_checkpoint(models / "2.7_80x80_MiniFASNetV2.pth")
    shipped = np.load(REPO_ROOT / "liveness" / "data" / "silent_face" / "minifasnet_v2.npz")
    assert set(arrays) == set(shipped)
    for name in arrays:
        np.testing.assert_array_equal(arrays[name], shipped[name])


def test_the_restricted_unpickler_refuses_code(tmp_path):
    import pickle

    convert = load_script("convert_silent_face")
    evil = tmp_path / "evil.pth"
    with evil.open("wb") as stream:
        pickle.dump(convert.LEGACY_MAGIC, stream)
        stream.write(b"cos\nsystem\n(S'true'\ntR.")   # os.system('true'): code, not weights
    with pytest.raises(pickle.UnpicklingError):
        convert.read_legacy_checkpoint(evil)


def test_parity_on_real_face_patches(shared):
    """At least 100 patch pairs from the shared clips against upstream's ONNX (the oracle)."""
    parity = load_script("texture_parity")
    patches = parity.clip_patches(shared / "clips")
    assert len(patches) >= 100
    oracle = parity.oracle_probability(patches)
    np.testing.assert_allclose(TextureScorer()(patches), oracle, atol=PARITY)


def test_patch_rule_caps_and_shifts_like_upstream():
    # Centred, uncapped: a 2.7x box around the face centre.
    assert patch_window(np.array([100.0, 100.0, 50.0, 50.0]), 2.7, 640, 480) == ((57, 57, 192, 192), 2.7)
    # Near the left edge: shifted inside, not shrunk.
    (x0, y0, x1, y1), used = patch_window(np.array([5.0, 200.0, 50.0, 50.0]), 2.7, 640, 480)
    assert x0 == 0 and x1 - x0 == 135 and used == 2.7
    # A face filling the frame: the scale is capped at (H-1)/h.
    assert patch_window(np.array([0.0, 0.0, 200.0, 200.0]), 4.0, 640, 480)[1] == pytest.approx(479 / 200)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[..., 0] = 255                                   # red in RGB
    patches, kept = cut_patches(frame, landmark_box(np.array([[300, 200], [360, 270]], float)))
    assert patches.shape == (2, 80, 80, 3) and patches.dtype == np.uint8
    assert patches[..., 2].min() == 255 and patches[..., 0].max() == 0   # BGR order
    assert kept.tolist() == [1.0, 1.0]


def test_scorer_refuses_wrong_shapes():
    with pytest.raises(ValueError, match=r"\[B, 2, 80, 80, 3\]"):
        TextureScorer()(np.zeros((1, 80, 80, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="convert_silent_face"):
        TextureScorer(Path("/nonexistent/texture.tflite"))
