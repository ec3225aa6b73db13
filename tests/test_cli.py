"""The ``liveness`` command end to end, in-process and as ``python -m liveness``."""

import json
import subprocess
import sys

import numpy as np

from liveness.cli import main


def test_check_synthetic_writes_json_and_report(tmp_path, capsys):
    out_json, out_png = tmp_path / "v.json", tmp_path / "r.png"
    status = main(["check", "synthetic:photo", "--json", str(out_json), "--report", str(out_png),
                   "--quiet"])
    assert status == 0
    assert "synthetic:photo: spoof" in capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert data["verdict"] == "spoof" and data["preset"] == "default"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_user_errors_are_one_line_and_status_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.mp4"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("liveness: error:") and "no such file" in err and "Traceback" not in err
    assert main(["check", str(tmp_path), "--quiet"]) == 2
    assert "is a directory" in capsys.readouterr().err
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(b"not a video" * 100)
    assert main(["check", str(garbage), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("liveness: error:")   # no FFmpeg lines
    assert main(["check", "synthetic:print", "--quiet"]) == 2
    assert "synthetic:live" in capsys.readouterr().err
    assert main(["check", "synthetic:live", "--threshold", "300", "--quiet"]) == 2
    assert "threshold must be in [0, 200]" in capsys.readouterr().err


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "liveness", "--help"], capture_output=True,
                            text=True, check=True)
    for command in ("check", "demo", "eval-landmarks", "fetch-facemesh"):
        assert command in result.stdout


def test_parity_command_on_synthetic_pairs(tmp_path, capsys):
    out = tmp_path / "parity.md"
    status = main(["parity", "--clips", str(tmp_path / "none"), "--per-clip", "6",
                   "--out", str(out), "--quiet"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "MISS" not in printed, printed
    page = out.read_text()
    assert "| synthetic:live | 6 |" in page and "| synthetic:photo | 6 |" in page


def test_parity_targets_judge_nothing_where_nothing_was_measured():
    """A still clip has no vector of 0.5 px or more and may have no pair both paths score: those
    figures are NaN and neither met nor missed (no numpy warning either)."""
    import warnings

    from liveness.parity import PairComparison, targets

    still = PairComparison(landmark_epe=[0.001, 0.002], eye_epe=[1e-7], same_decision=[True],
                           same_judged=[True], same_planar=[True])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = {t.name: t for t in targets(still)}
    bins = figures["vectors >= 0.5 px in the same direction bin (%)"]
    score = figures["pairs with |k_graph - k_opencv| <= 5 (%)"]
    assert np.isnan(bins.value) and bins.met is None and np.isnan(score.value) and score.met is None
    assert figures["pairs with the same decision (%)"].value == 100.0
    assert figures["landmark flow: median endpoint error (px)"].met is True
    moved = PairComparison(landmark_epe=[0.3], eye_epe=[0.0], same_bin=[True, False],
                           score_diff=[1.0, 9.0], same_decision=[True], same_judged=[True],
                           same_planar=[True])
    figures = {t.name: t for t in targets(moved)}
    assert figures["vectors >= 0.5 px in the same direction bin (%)"].value == 50.0
    assert figures["vectors >= 0.5 px in the same direction bin (%)"].met is False
    assert figures["landmark flow: median endpoint error (px)"].met is False


def test_scripts_read_the_verdict_from_json_on_stdout(capsys):
    """The README's contract: ``--json -`` prints the verdict object on stdout, nothing else."""
    assert main(["check", "synthetic:photo", "--json", "-", "--quiet"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["verdict"] == "spoof" and data["cues"]["motion"]["opinion"] == "spoof"
    assert "synthetic:photo: spoof" in captured.err
    assert main(["check", "synthetic:photo", "synthetic:screen", "--json", "-", "--quiet"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert [v["source"] for v in both] == ["synthetic:photo", "synthetic:screen"]
    assert [v["verdict"] for v in both] == ["spoof", "spoof"]


def test_check_runs_without_tensorflow():
    """The OpenCV path, MTCNN and texture on LiteRT: no TensorFlow import, no start-up lines."""
    code = ("import sys; from liveness.cli import main; main(['check', 'synthetic:photo']); "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("False")
    assert result.stderr == "", result.stderr   # no progress bar off a terminal, no library lines
