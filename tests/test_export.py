"""Export: signature contract, manifest, eager == SavedModel == TFLite, golden vectors, errors."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from export.exporter import (CLIP_WARMUP_FRAMES, SIGNATURE_FILE, WARMUP_BATCHES, convert,
                             export_all, save_for_tflite, save_served, signature_contract)
from export.serving import WARMUP_FILE, predict_grpc, read_warmup
from export.golden import LANDMARK_STEP, TOLERANCES, golden_inputs, histogram_tolerance, load_golden
from liveness.cli import main
from liveness.clip import aggregate
from liveness.config import preset
from liveness.paths import REPO_ROOT
from liveness.results import FrameTexture, PairResult, PairStatus
from model_graph.aggregate import REASON_CODES, VERDICT_CODES
from model_graph.module import PAIR_CHUNK, LivenessCheck

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
    assert manifest["pair_chunk"] == PAIR_CHUNK and manifest["xla"] is False
    assert manifest["warmup_batches"] == list(WARMUP_BATCHES)
    assert f"models/liveness/3/{WARMUP_FILE}" in manifest["files"]
    assert manifest["verdict_codes"] == VERDICT_CODES and manifest["reason_codes"] == REASON_CODES
    out_dir = exported.manifest.parent
    assert {"liveness.tflite", "liveness_fp16.tflite", "liveness_pair.tflite",
            "texture.tflite"} <= set(manifest["files"])
    for name, entry in manifest["files"].items():
        data = (out_dir / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def assert_same_pair(actual: dict, expected: dict, name: str, texture: bool = True) -> None:
    """One pair's outputs against another runtime's (or the golden file's), within the bounds
    stated in ``export.golden.TOLERANCES`` (``texture``: the outputs include the texture cue)."""
    tol = TOLERANCES
    flow = np.asarray(expected["landmark_flow"])
    np.testing.assert_allclose(actual["landmark_flow"], flow, atol=tol["landmark_flow_abs"], err_msg=name)
    if texture:
        np.testing.assert_allclose(actual["texture"], expected["texture"], atol=tol["texture_abs"],
                                   err_msg=name)
        assert bool(actual["texture_used"]) == bool(expected["texture_used"]), name
    np.testing.assert_allclose(actual["sigma"], expected["sigma"], atol=tol["sigma_abs"], err_msg=name)
    np.testing.assert_allclose(actual["motion"], expected["motion"], atol=tol["motion_abs"], err_msg=name)
    gate = max(CFG.min_motion_px, CFG.significance_sigma * float(expected["sigma"]))
    lm_slack = histogram_tolerance(flow, np.asarray(expected["landmark_status"]), gate, CFG.bins,
                                   tol["landmark_flow_abs"])
    lm_l1 = np.abs(np.asarray(actual["landmark_hist"]) - expected["landmark_hist"]).sum()
    assert lm_l1 <= lm_slack, (name, lm_l1, lm_slack)
    eye_l1 = np.abs(np.asarray(actual["eye_hist"]) - expected["eye_hist"]).sum()
    assert eye_l1 <= 2 * np.ceil(tol["eye_hist_l1_fraction"] * expected["eye_vectors"]), name
    residual_near = abs(float(expected["plane_residual"]) - CFG.plane_residual_sigma) <= tol["plane_residual_abs"]
    if expected["motion_judged"]:
        np.testing.assert_allclose(actual["plane_residual"], expected["plane_residual"],
                                   atol=tol["plane_residual_abs"], err_msg=name)
    for flag in ("valid", "motion_judged", "sigma_valid"):
        assert bool(actual[flag]) == bool(expected[flag]), (name, flag)
    if not residual_near:
        assert bool(actual["planar"]) == bool(expected["planar"]), name
    if expected["valid"] and abs(float(expected["score"]) - CFG.threshold) > tol["score_abs"]:
        assert bool(actual["is_live"]) == bool(expected["is_live"]), name


def test_eager_savedmodel_and_tflite_give_the_same_numbers(exported, golden):
    _index, inputs = golden
    traced = {k: v.numpy() for k, v in LivenessCheck(CFG)(**inputs).items()}
    served = tf.saved_model.load(str(exported.saved_model)).signatures["serving_default"]
    reloaded = {k: v.numpy() for k, v in served(**inputs).items()}
    runner = tflite_runner(exported.tflite)
    for i in range(len(inputs["prev"])):
        lite = {k: v[0] for k, v in runner(**{k: v[i:i + 1] for k, v in inputs.items()}).items()}
        expected = {k: v[i] for k, v in traced.items()}
        assert_same_pair({k: v[i] for k, v in reloaded.items()}, expected, f"SavedModel {i}")
        assert_same_pair(lite, expected, f"TFLite {i}")
        # The SavedModel runs the graph it was saved from: the 1e-4 px holds.
        np.testing.assert_allclose(reloaded["landmark_flow"][i], expected["landmark_flow"], atol=1e-4)


def test_warmup_requests_replay_through_the_served_model(exported):
    """TF Serving replays the warm-up file on load: every pair signature at every warm-up batch
    size, check_clip once; each request must run and give blank pairs no evidence."""
    served = tf.saved_model.load(str(exported.saved_model)).signatures
    logs = read_warmup(exported.saved_model / WARMUP_FILE)
    seen = []
    for log in logs:
        request = log.predict_log.request
        name = request.model_spec.signature_name
        batch = request.inputs["landmarks"].tensor_shape.dim[0].size
        seen.append((name, batch))
        response = predict_grpc(served[name], request)
        flags = "pair_valid" if name == "check_clip" else "valid"
        assert not tf.make_ndarray(response.outputs[flags]).any(), (name, batch)
        if name != "check_clip":
            assert tf.make_ndarray(response.outputs["score"]).shape == (batch,)
    assert sorted(seen) == sorted([(name, b) for b in WARMUP_BATCHES
                                   for name in ("serving_default", "check_pair")]
                                  + [("check_clip", CLIP_WARMUP_FRAMES)])


def _called(library: dict, name: str) -> set[str]:
    """The functions of ``library`` (name -> FunctionDef) that ``name`` calls, itself included,
    through calls, loop bodies and conditions and branches."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in library:
            continue
        seen.add(current)
        for node in library[current].node_def:
            todo.append(node.op)
            for attr in node.attr.values():
                todo.extend([attr.func.name] if attr.HasField("func") else [])
                todo.extend(f.name for f in attr.list.func)
    return seen


def test_xla_export_compiles_the_pair_signatures_alone(golden, tmp_path):
    """``liveness export --xla``: the pair signatures call their pair check once per part of a
    batch (``LivenessCheck(pair_streams=...)``), and that call carries XLA's must-compile mark;
    check_clip calls nothing marked (each clip length would compile anew) and no op that only
    XLA runs (LK's ``XlaGather``: a server without XLA must still check clips); and the served
    numbers stay within the runtimes' stated bounds of the plain graph's."""
    from tensorflow.core.protobuf import saved_model_pb2

    _index, inputs = golden
    save_served(LivenessCheck(CFG, jit_compile=True), tmp_path, (len(inputs["prev"]),))
    saved = saved_model_pb2.SavedModel.FromString((tmp_path / "saved_model.pb").read_bytes())
    library = {f.signature.name: f for f in saved.meta_graphs[0].graph_def.library.function}
    marked = {name for name, f in library.items() if f.attr["_XlaMustCompile"].b}
    assert {name.rsplit("_", 1)[0] for name in marked} == {"__inference__check",
                                                           "__inference__check_pair"}
    signatures = [name for name in library if name.rsplit("_", 1)[0] in (
        "__inference__check_in_streams", "__inference__check_pair_in_streams")]
    assert signatures and all(_called(library, name) & marked for name in signatures)
    xla_only = {name for name, f in library.items() if any(n.op == "XlaGather" for n in f.node_def)}
    clips = [name for name in library if name.startswith("__inference__check_clip_")]
    assert xla_only and clips
    for name in clips:
        assert not _called(library, name) & (xla_only | marked), name
    assert all(_called(library, name) & xla_only for name in marked)
    served = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    compiled = {k: v.numpy() for k, v in served(**inputs).items()}
    traced = {k: v.numpy() for k, v in LivenessCheck(CFG)(**inputs).items()}
    for i in range(len(inputs["prev"])):
        assert_same_pair({k: v[i] for k, v in compiled.items()},
                         {k: v[i] for k, v in traced.items()}, f"XLA SavedModel {i}")


def test_float16_file_agrees_on_verdicts(exported, golden):
    index, inputs = golden
    runner = tflite_runner(exported.tflite_fp16)
    for i, expected in enumerate(index["expected"]):
        lite = runner(**{k: v[i:i + 1] for k, v in inputs.items()})
        assert bool(lite["valid"][0]) == expected["valid"]
        assert bool(lite["texture_used"][0]) == expected["texture_used"]
        # float16 weights: the probability moves by up to a few 1e-3 (docs/serving.md).
        assert abs(float(lite["texture"][0]) - expected["texture"]) <= 0.02


def test_golden_vectors_are_reproduced_by_tflite(exported, golden):
    index, inputs = golden
    assert index["config"] == CFG.to_dict()
    runner = tflite_runner(exported.tflite)
    for i, expected in enumerate(index["expected"]):
        lite = {k: v[0] for k, v in runner(**{k: v[i:i + 1] for k, v in inputs.items()}).items()}
        assert_same_pair(lite, expected, expected["name"])


def test_pair_file_reproduces_the_golden_pairs(exported, golden):
    """``liveness_pair.tflite``: ``check_pair`` with every shape static (one pair per call)."""
    index, inputs = golden
    runner = tflite_runner(exported.tflite_pair, "check_pair")
    contract = json.loads(SIGNATURE_FILE.read_text())["check_pair"]
    assert set(runner.get_output_details()) == set(contract["outputs"])
    assert runner.get_input_details()["prev"]["shape"].tolist() == [1, CFG.crop_size, CFG.crop_size]
    for i, expected in enumerate(index["expected"]):
        pair = {k: inputs[k][i:i + 1] for k in ("prev", "next", "landmarks")}
        lite = {k: v[0] for k, v in runner(**pair).items()}
        assert_same_pair(lite, expected, f"liveness_pair.tflite {expected['name']}", texture=False)


def test_golden_inputs_are_what_the_generator_makes(golden):
    _index, inputs = golden
    prev, next, marks, patches, context, _names = golden_inputs(CFG)
    np.testing.assert_array_equal(inputs["prev"], prev)
    np.testing.assert_array_equal(inputs["next"], next)
    # Stored on a 1/64 px grid: equal, or one step apart where the generator's floats (another
    # CPU's MTCNN and LK) fall within ~2e-4 px of a grid boundary (export.golden.LANDMARK_STEP).
    np.testing.assert_allclose(inputs["landmarks"], marks, atol=LANDMARK_STEP + 1e-6)
    assert np.mean(inputs["landmarks"] == marks) > 0.9
    # Patches are cut at integer windows from the landmark box and resized by OpenCV: a window
    # edge can move by one pixel only where a landmark moved across an integer, so compare the
    # content, not the bytes.
    assert np.abs(inputs["patches"].astype(int) - patches).mean() < 3.0
    np.testing.assert_allclose(inputs["patch_context"], context, atol=0.01)


def test_clip_signature_follows_the_host_rule(exported, golden):
    _index, inputs = golden
    frames = np.concatenate([inputs["prev"][:1], inputs["next"][:1]] * 4)   # 8 frames, 7 pairs
    clip_inputs = {"frames": frames, "landmarks": np.repeat(inputs["landmarks"][:1], 8, axis=0),
                   "patches": np.repeat(inputs["patches"][:1], 8, axis=0),
                   "patch_context": np.repeat(inputs["patch_context"][:1], 8, axis=0)}
    clip_fn = tf.saved_model.load(str(exported.saved_model)).signatures["check_clip"]
    out = {k: v.numpy() for k, v in clip_fn(**clip_inputs).items()}
    pairs = [PairResult(t, t + 1, PairStatus.SCORED if v else PairStatus.INSUFFICIENT_MOTION,
                        score=float(s) if v else None, motion_judged=bool(j), planar=bool(pl))
             for t, (s, v, j, pl) in enumerate(zip(out["pair_score"], out["pair_valid"],
                                                   out["pair_motion_judged"], out["pair_planar"]))]
    texture = [FrameTexture(t, float(p), 1.0 if u else 0.1, None if u else "face_too_close")
               for t, (p, u) in enumerate(zip(out["frame_texture"], out["frame_texture_used"]))]
    host = aggregate(pairs, CFG, frames=8, texture=texture)
    assert out["verdict"] == VERDICT_CODES[host.verdict.value]
    assert out["reason"] == REASON_CODES[host.reason.value if host.reason else "none"]
    assert out["pairs_used"] == host.pairs_used
    assert out["clip_score"] == pytest.approx(host.score, abs=1e-4)
    assert out["texture_score"] == pytest.approx(host.cues["texture"].score, abs=1e-6)
    for decision in ("chi_square", "motion", "texture"):   # the other rules, traced for this test
        module = LivenessCheck(CFG.replace(decision=decision))
        other = module.clip(**clip_inputs)
        expected = aggregate(pairs, CFG.replace(decision=decision), frames=8, texture=texture)
        assert int(other["verdict"]) == VERDICT_CODES[expected.verdict.value], decision
        assert int(other["reason"]) == REASON_CODES[expected.reason.value if expected.reason else "none"]
    lite = tflite_runner(exported.tflite, "check_clip")(**clip_inputs)
    assert int(lite["verdict"]) == int(out["verdict"])


def test_every_exported_tflite_allocates_as_shipped(exported):
    """The first call an app makes, before any resize, must succeed on every shipped file."""
    from ai_edge_litert.interpreter import Interpreter

    paths = sorted(exported.manifest.parent.glob("*.tflite"))
    shipped = (exported.tflite, exported.tflite_fp16, exported.tflite_pair, exported.texture)
    assert set(shipped) <= set(paths)                      # the glob found what was exported
    for path in paths:
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        interpreter.invoke()


def test_converted_files_keep_their_signatures_but_no_tensor_names(exported):
    """The export drops tensor names (docs/decisions.md); apps address tensors through the
    signatures, whose input and output names must be the contract's."""
    from ai_edge_litert.interpreter import Interpreter

    for path in (exported.tflite, exported.tflite_fp16, exported.tflite_pair, exported.texture):
        interpreter = Interpreter(model_path=str(path))
        assert {detail["name"] for detail in interpreter.get_tensor_details()} == {""}, path.name
    contract = json.loads(SIGNATURE_FILE.read_text())
    signatures = Interpreter(model_path=str(exported.tflite)).get_signature_list()
    assert set(signatures) == set(contract)
    for key, tensors in signatures.items():
        assert set(tensors["inputs"]) == set(contract[key]["inputs"]), key
        assert set(tensors["outputs"]) == set(contract[key]["outputs"]), key


def test_short_clips_and_mismatched_batches_in_the_exported_file(exported, golden):
    _index, inputs = golden
    clip = tflite_runner(exported.tflite, "check_clip")
    for count in (0, 1):
        out = clip(frames=inputs["prev"][:count], landmarks=inputs["landmarks"][:count],
                   patches=inputs["patches"][:count], patch_context=inputs["patch_context"][:count])
        assert int(out["verdict"]) == VERDICT_CODES["undecided"]
        assert int(out["reason"]) == REASON_CODES["too_few_pairs"]
    pair = tflite_runner(exported.tflite)
    mismatched = pair(prev=inputs["prev"][:2], next=inputs["next"][:1], landmarks=inputs["landmarks"][:2],
                      patches=inputs["patches"][:2], patch_context=inputs["patch_context"][:2])
    assert not mismatched["valid"].any() and not mismatched["texture_used"].any()
    empty = pair(**{k: v[:0] for k, v in inputs.items()})
    assert empty["valid"].shape == (0,)


def test_conversion_is_reproducible(exported, tmp_path):
    save_for_tflite(preset("default"), tmp_path)
    assert convert(tmp_path, fp16=False) == exported.tflite.read_bytes()


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
    assert main(["export", "--out", str(tmp_path / "z"), "--pair-chunk", "-1"]) == 2
    assert "--pair-chunk must be 0 (every pair at once)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="pair chunk must be at least 1"):
        export_all(tmp_path / "z", CFG, pair_chunk=0)
    assert main(["export", "--out", str(tmp_path / "w"), "--warmup-batches", "8", "0"]) == 2
    assert "warm-up batch sizes must be at least 1, got [8, 0]" in capsys.readouterr().err
