"""The ``liveness`` command end to end, in-process and as ``python -m liveness``."""

import json
import subprocess
import sys

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
