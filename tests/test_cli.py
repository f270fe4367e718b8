import json
import subprocess
import sys
from pathlib import Path

from replaylab.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_params_command_prints_resolved_section(capsys):
    assert main(["params", "--params", str(REPO / "params.yaml"), "--section", "synthesize"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["matches"]["count"] >= 1 and out["fps"] == 25.0


def test_params_command_reports_bad_key(tmp_path, capsys):
    bad = tmp_path / "params.yaml"
    bad.write_text("synthesize:\n  fpss: 3\n")
    assert main(["params", "--params", str(bad)]) == 2
    assert "synthesize.fpss: unknown key" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("replaylab")
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "synthesize" in res.stdout
