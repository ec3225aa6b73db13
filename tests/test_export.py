"""Export: signature contract, manifest, eager == SavedModel == TFLite, golden vectors, errors."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from export.exporter import SIGNATURE_FILE, convert, export_all, signature_contract
from export.golden import TOLERANCES, golden_inputs, load_golden
from liveness.cli import main
from liveness.clip import aggregate
from liveness.config import preset
from liveness.paths import REPO_ROOT
from liveness.results import PairResult, PairStatus
from model_graph.aggregate import REASON_CODES, VERDICT_CODES
from model_graph.check import check_pair
from model_graph.module import LivenessCheck

CFG = preset("default")
GOLDEN = REPO_ROOT / "mobile_demo" / "golden"


@pytest.fixture(scope="session")
def golden():
    return load_golden(GOLDEN)


def tflite_runner(path: Path, signature: str = "serving_default"):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_signature_runner(signature)


def test_layout_and_signature_contract(exported):
    assert exported.saved_model.name == "3" and (exported.saved_model / "saved_model.pb").is_file()
    assert signature_contract(exported.saved_model) == json.loads(SIGNATURE_FILE.read_text())


def test_manifest_records_config_versions_and_hashes(exported):
    manifest = json.loads(exported.manifest.read_text())
    assert manifest["config"] == CFG.to_dict() and manifest["preset"] == "default"
    assert manifest["tensorflow"] == tf.__version__ and manifest["crop_size"] == 160
    assert manifest["verdict_codes"] == VERDICT_CODES and manifest["reason_codes"] == REASON_CODES
    out_dir = exported.manifest.parent
    assert {"liveness.tflite", "liveness_fp16.tflite"} <= set(manifest["files"])
    for name, entry in manifest["files"].items():
        data = (out_dir / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_eager_savedmodel_and_tflite_give_the_same_numbers(exported, golden):
    _index, inputs = golden
    traced = {k: v.numpy() for k, v in LivenessCheck(CFG)(inputs["prev"], inputs["next"],
                                                          inputs["landmarks"]).items()}
    eager = {k: v.numpy() for k, v in check_pair(tf.constant(inputs["prev"]), tf.constant(inputs["next"]),
                                                 tf.constant(inputs["landmarks"]), CFG).items()}
    served = tf.saved_model.load(str(exported.saved_model)).signatures["serving_default"]
    reloaded = {k: v.numpy() for k, v in served(**inputs).items()}
    runner = tflite_runner(exported.tflite)
    for i in range(len(inputs["prev"])):
        lite = {k: v[0] for k, v in runner(**{k: v[i:i + 1] for k, v in inputs.items()}).items()}
        for other in (eager, reloaded):
            other = {k: v[i] for k, v in other.items()}
            for name in ("landmark_hist", "eye_hist", "is_live", "valid", "landmark_status",
                         "planarity_valid", "landmark_vectors", "eye_vectors"):
                np.testing.assert_array_equal(other[name], traced[name][i], err_msg=name)
                np.testing.assert_array_equal(lite[name], traced[name][i], err_msg=name)
        # The SavedModel runs the graph it was saved from: the 1e-4 px target holds.
        np.testing.assert_allclose(reloaded["landmark_flow"][i], traced["landmark_flow"][i], atol=1e-4)
        # Eager TensorFlow and TFLite sum LK's window products in other orders, which can tip a
        # 14-bit weight rounding at a few points (docs/serving.md): the golden tolerance.
        for flow in (eager["landmark_flow"][i], lite["landmark_flow"]):
            np.testing.assert_allclose(flow, traced["landmark_flow"][i],
                                       atol=TOLERANCES["landmark_flow_abs"])
        np.testing.assert_allclose(lite["score"], traced["score"][i], atol=TOLERANCES["score_abs"])
        np.testing.assert_allclose(lite["planarity"], traced["planarity"][i],
                                   atol=TOLERANCES["planarity_abs"])


def test_float16_file_agrees_on_verdicts(exported, golden):
    index, inputs = golden
    runner = tflite_runner(exported.tflite_fp16)
    for i, expected in enumerate(index["expected"]):
        lite = runner(**{k: v[i:i + 1] for k, v in inputs.items()})
        assert bool(lite["is_live"][0]) == expected["is_live"]
        assert bool(lite["valid"][0]) == expected["valid"]
        assert abs(float(lite["score"][0]) - expected["score"]) <= TOLERANCES["score_abs"]


def test_golden_vectors_are_reproduced_by_tflite(exported, golden):
    index, inputs = golden
    assert index["config"] == CFG.to_dict()
    runner = tflite_runner(exported.tflite)
    for i, expected in enumerate(index["expected"]):
        lite = runner(**{k: v[i:i + 1] for k, v in inputs.items()})
        assert lite["landmark_hist"][0].tolist() == expected["landmark_hist"], expected["name"]
        assert lite["eye_hist"][0].tolist() == expected["eye_hist"], expected["name"]
        assert bool(lite["is_live"][0]) == expected["is_live"]
        assert bool(lite["planarity_valid"][0]) == expected["planarity_valid"]
        np.testing.assert_allclose(lite["landmark_flow"][0], expected["landmark_flow"],
                                   atol=TOLERANCES["landmark_flow_abs"])
        np.testing.assert_allclose(lite["planarity"][0], expected["planarity"],
                                   atol=TOLERANCES["planarity_abs"])


def test_golden_inputs_are_what_the_generator_makes(golden):
    _index, inputs = golden
    prev, next, marks, _names = golden_inputs(CFG)
    np.testing.assert_array_equal(inputs["prev"], prev)
    np.testing.assert_array_equal(inputs["next"], next)
    np.testing.assert_allclose(inputs["landmarks"], marks, atol=1e-4)


def test_clip_signature_follows_the_host_rule(exported, golden):
    _index, inputs = golden
    frames = np.concatenate([inputs["prev"][:1], inputs["next"][:1]] * 4)   # 8 frames, 7 pairs
    marks = np.repeat(inputs["landmarks"][:1], 8, axis=0)
    clip_fn = tf.saved_model.load(str(exported.saved_model)).signatures["check_clip"]
    out = {k: v.numpy() for k, v in clip_fn(frames=frames, landmarks=marks).items()}
    pairs = [PairResult(t, t + 1, PairStatus.SCORED if v else PairStatus.INSUFFICIENT_MOTION,
                        score=float(s) if v else None, planarity=float(r) if rv else None)
             for t, (s, v, r, rv) in enumerate(zip(out["pair_score"], out["pair_valid"],
                                                   out["pair_planarity"],
                                                   out["pair_planarity_valid"]))]
    host = aggregate(pairs, CFG, frames=8)
    assert out["verdict"] == VERDICT_CODES[host.verdict.value]
    assert out["reason"] == REASON_CODES[host.reason.value if host.reason else "none"]
    assert out["pairs_used"] == host.pairs_used
    assert out["planarity_pairs"] == host.planarity_pairs
    assert out["clip_score"] == pytest.approx(host.score, abs=1e-4)
    assert out["clip_planarity"] == pytest.approx(host.planarity, abs=1e-4)
    for decision in ("chi_square", "planarity"):   # the other rules, traced for this test
        module = LivenessCheck(CFG.replace(decision=decision))
        other = module.check_clip(frames, marks)
        expected = aggregate(pairs, CFG.replace(decision=decision), frames=8)
        assert int(other["verdict"]) == VERDICT_CODES[expected.verdict.value], decision
    lite = tflite_runner(exported.tflite, "check_clip")(frames=frames, landmarks=marks)
    assert int(lite["verdict"]) == int(out["verdict"])


def test_conversion_is_reproducible(exported):
    assert convert(exported.saved_model, fp16=False) == exported.tflite.read_bytes()


def test_bad_export_arguments(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path / "x"), "--crop-size", "40"]) == 2
    assert "crop_size must be at least 64" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["export", "--out", str(blocker / "sub")]) == 2
    assert "cannot write to" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--out", str(tmp_path), "--preset", "nope"])
    with pytest.raises(ValueError, match="version must be a positive integer"):
        export_all(tmp_path / "y", CFG, version=0)
