"""The LiteRT-only demo: no TensorFlow in the process, same verdicts as the host, clear errors."""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from export.golden import TOLERANCES, load_golden
from liveness.clip import ClipChecker
from liveness.config import preset
from liveness.detect import FaceDetector
from liveness.synthetic import base_frame, synthetic_clip
from mobile_demo.__main__ import main, run
from liveness.lite_mtcnn import LiteMTCNN
from mobile_demo.lite_check import LiteScorer, load_manifest
from mobile_demo.sources import read_nv21, write_nv21
from tests.test_export import GOLDEN

BLOCK_TENSORFLOW = """
import json, runpy, sys
sys.modules["tensorflow"] = None     # any import of TensorFlow now raises ImportError
sys.modules["keras"] = None
sys.argv = ["mobile_demo", *json.loads(sys.argv[1])]
try:
    runpy.run_module("mobile_demo", run_name="__main__")
except SystemExit as done:
    heavy = [m for m in ("tensorflow", "keras", "mtcnn") if sys.modules.get(m) is not None]
    print("LOADED", heavy)
    raise
"""


@pytest.fixture(scope="module")
def photo_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "photo.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for frame in synthetic_clip("photo", frames=30):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_runs_without_tensorflow(exported, photo_video, tmp_path):
    out = tmp_path / "v.json"
    args = [str(photo_video), "--model-dir", str(exported.manifest.parent), "--json", str(out), "--quiet"]
    result = subprocess.run([sys.executable, "-c", BLOCK_TENSORFLOW, json.dumps(args)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout
    data = json.loads(out.read_text())
    for key in ("verdict", "reason", "decision", "cues", "preset", "pairs", "texture", "timing"):
        assert key in data
    assert data["verdict"] == "spoof"
    assert set(data["timing"]["stages"]) == {"detector", "landmarks", "check", "texture"}


@pytest.mark.parametrize("kind", ["live", "photo"])
def test_same_verdict_as_the_host_pipeline(exported, kind):
    clip = synthetic_clip(kind, frames=30)
    demo = run(kind, exported.manifest.parent, frames=clip)
    host = ClipChecker(preset("default")).check(clip).verdict
    assert demo["verdict"] == host.verdict.value
    for cue in ("motion", "texture", "chi_square"):
        assert demo["cues"][cue]["opinion"] == host.cues[cue].opinion.value, cue
        assert demo["cues"][cue]["used"] == host.cues[cue].used, cue
    assert demo["cues"]["texture"]["score"] == pytest.approx(host.cues["texture"].score, abs=1e-4)


def test_nv21_input(exported, tmp_path):
    clip = synthetic_clip("photo", frames=12)
    path = tmp_path / "dump.nv21"
    write_nv21(clip, path)
    assert path.stat().st_size == 12 * 640 * 480 * 3 // 2
    planes = list(read_nv21(path, 640, 480))
    grey = cv2.cvtColor(clip[3], cv2.COLOR_RGB2GRAY)
    assert len(planes) == 12 and np.abs(planes[3].astype(int) - grey).max() <= 1
    assert main(["--nv21", str(path), "--width", "640", "--height", "480",
                 "--model-dir", str(exported.manifest.parent), "--quiet"]) == 0


def test_bad_inputs_are_clear_errors(exported, tmp_path, capsys):
    model_dir = str(exported.manifest.parent)
    odd = tmp_path / "odd.nv21"
    odd.write_bytes(b"\0" * 1000)
    assert main(["--nv21", str(odd), "--width", "640", "--height", "480", "--model-dir", model_dir]) == 2
    assert "460800 bytes each" in capsys.readouterr().err
    assert main(["--camera", "99", "--model-dir", model_dir, "--quiet"]) == 2
    assert "camera 99 could not be opened" in capsys.readouterr().err
    assert main([str(tmp_path / "none.mp4"), "--model-dir", model_dir]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model-dir", model_dir])   # no input at all
    scorer = LiteScorer(exported.manifest.parent, load_manifest(exported.manifest.parent))
    crop = np.zeros((96, 96), np.uint8)                  # not the export's 160 px
    with pytest.raises(ValueError, match=r"\[batch, 160, 160\]"):
        scorer(crop, crop, np.zeros((68, 2), np.float32), preset("default"))


def broken_copy(exported, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(exported.manifest.parent, copy, ignore=shutil.ignore_patterns("models"))
    return copy


def test_model_problems_are_clear_errors(exported, photo_video, tmp_path, capsys):
    missing = broken_copy(exported, tmp_path / "a")
    (missing / "liveness_pair.tflite").unlink()
    assert main([str(photo_video), "--model-dir", str(missing)]) == 2
    assert "liveness_pair.tflite not found" in capsys.readouterr().err

    corrupt = broken_copy(exported, tmp_path / "b")
    (corrupt / "liveness_pair.tflite").write_bytes(b"not a flatbuffer" * 10)
    assert main([str(photo_video), "--model-dir", str(corrupt)]) == 2
    assert "not a usable TFLite model" in capsys.readouterr().err

    mismatch = broken_copy(exported, tmp_path / "c")
    manifest = json.loads((mismatch / "model_manifest.json").read_text())
    manifest["signatures"]["check_pair"]["inputs"]["prev"]["shape"] = [-1, 96, 96]
    (mismatch / "model_manifest.json").write_text(json.dumps(manifest))
    assert main([str(photo_video), "--model-dir", str(mismatch)]) == 2
    assert "the manifest says uint8 [-1, 96, 96]" in capsys.readouterr().err

    assert main([str(photo_video), "--model-dir", str(tmp_path / "nothing")]) == 2
    assert "liveness export" in capsys.readouterr().err


def test_lite_mtcnn_finds_what_mtcnn_finds(exported):
    frame = base_frame()
    lite = LiteMTCNN(exported.manifest.parent).detect(frame)
    host = FaceDetector().detect(frame)
    assert len(lite) == len(host) == 1
    a, b = lite[0].box, host[0].box
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    assert inter / union >= 0.95
    assert np.abs(lite[0].keypoints - host[0].keypoints).max() <= 2.0


def test_golden_vectors_through_the_lite_scorer(exported):
    index, inputs = load_golden(GOLDEN)
    model_dir = exported.manifest.parent
    scorer = LiteScorer(model_dir, load_manifest(model_dir))
    cfg = preset("default")
    for i, expected in enumerate(index["expected"]):
        evidence = scorer(inputs["prev"][i], inputs["next"][i], inputs["landmarks"][i], cfg)
        assert (evidence.score is not None) == expected["valid"]
        assert evidence.motion_judged == expected["motion_judged"]
        np.testing.assert_allclose(evidence.landmark_flow, expected["landmark_flow"],
                                   atol=TOLERANCES["landmark_flow_abs"])


def test_facemesh_landmarks_on_litert(exported):
    from liveness.landmarks.facemesh import model_path

    if not model_path().is_file():
        pytest.skip("face mesh model missing: liveness fetch-facemesh")
    out = run("photo", exported.manifest.parent, frames=synthetic_clip("photo", frames=20),
              landmarks="facemesh")
    assert out["verdict"] == "spoof" and out["config"]["landmarks"] == "facemesh"
    assert out["timing"]["stages"]["landmarks"]["calls"] >= 1
