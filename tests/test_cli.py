import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def _header_csv(root: Path, n_videos: int = 6) -> Path:
    import numpy as np

    lines = ["path,label,video_id"]
    for v in range(n_videos):
        for k in range(3):
            rel = f"clips/v{v}/{k}.npy"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            np.save(root / rel, np.zeros((2, 4, 4, 3), dtype=np.uint8))
            lines.append(f"{rel},{(v + k) % 2},v{v}")
    p = root / "header.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_split_command_writes_train_and_val(tmp_path, capsys):
    csv_path = _header_csv(tmp_path)
    out = tmp_path / "out"
    # --root_dir defaults to the CSV's directory
    assert main(["split", "--input_csv", str(csv_path), "--output_dir", str(out), "--val_split", "0.34", "--seed", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train"] + summary["val"] == 18 and summary["val"] == 6 and summary["grouped_by"] == "video_id"
    val = (out / "val.csv").read_text().splitlines()
    assert val[0] == "path,label,video_id" and len(val) == 7
    assert all(Path(line.split(",")[0]).is_absolute() and Path(line.split(",")[0]).is_file() for line in val[1:])


def test_split_command_bad_input_exits_2(tmp_path, capsys):
    csv_path = _header_csv(tmp_path, n_videos=2)
    (tmp_path / "clips/v1/2.npy").unlink()
    assert main(["split", "--input_csv", str(csv_path), "--output_dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("replaylab: ") and "row 7" in err and "clips/v1/2.npy" in err and "Traceback" not in err
    assert main(["split", "--input_csv", str(tmp_path / "missing.csv"), "--output_dir", str(tmp_path / "o")]) == 2
    assert "input CSV not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_import_tracking_from_kloppy_sample(tmp_path, capsys):
    kloppy = pytest.importorskip("kloppy")
    files = Path(kloppy.__file__).parent / "tests" / "files"
    rc = main(["import-tracking", "--provider", "metrica_csv", "--file", f"home_data={files / 'metrica_home.csv'}",
               "--file", f"away_data={files / 'metrica_away.csv'}", "--out", str(tmp_path / "m"), "--video_fps", "25"])  # fmt: skip
    assert rc == 0
    header = (tmp_path / "m" / "tracking.csv").read_text().splitlines()[0]
    assert header == "frame,time,track_id,team,jersey,x,y,z,box_x1,box_y1,box_x2,box_y2"
    assert (tmp_path / "m" / "players.csv").is_file()


def test_import_tracking_bad_input_exits_2(tmp_path, capsys):
    pytest.importorskip("kloppy")
    assert (
        main(["import-tracking", "--provider", "nope", "--file", "raw_data=x", "--out", str(tmp_path), "--video_fps", "25"]) == 2
    )
    assert "unknown tracking provider" in capsys.readouterr().err
    assert (
        main(["import-tracking", "--provider", "tracab", "--file", "raw_data", "--out", str(tmp_path), "--video_fps", "25"]) == 2
    )


def test_docs_command_writes_then_checks_tables(tmp_path, capsys):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "eval_foul.json").write_text(json.dumps({"val": {"leaderboard_value": 27.1534}}))
    readme = tmp_path / "README.md"
    readme.write_text("# R\n<!-- table:foul_results -->\n<!-- /table:foul_results -->\n")
    assert main(["docs", "--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "docs: README.md: table foul_results differs from the metrics files" in err
    assert "docs: README.md: table foul_results: metrics/eval_foul.json has no test" in err
    assert main(["docs", "--write", "--root", str(tmp_path)]) == 0
    assert "docs: rewrote README.md: foul_results" in capsys.readouterr().err
    assert "| val | — | — | — | 27.2 | — | — |" in readme.read_text()
    assert main(["docs", "--check", "--root", str(tmp_path)]) == 1  # the table agrees but still lacks values it expects
    err = capsys.readouterr().err
    assert "differs" not in err and "metrics/eval_foul.json has no test" in err


def test_docs_command_unknown_table_exits_2(tmp_path, capsys):
    (tmp_path / "README.md").write_text("<!-- table:nope -->\n<!-- /table:nope -->\n")
    assert main(["docs", "--write", "--root", str(tmp_path)]) == 2
    assert "README.md:1: unknown table 'nope'" in capsys.readouterr().err


def test_import_tracking_flags_lists_and_options(tmp_path, capsys, monkeypatch):
    from replaylab.data.adapters import kloppy_tracking

    seen = {}

    def fake_convert(provider, out, **kw):
        seen.update(kw, provider=provider)
        Path(out).mkdir(parents=True, exist_ok=True)
        summary = {"off_pitch_rows": 3, "ball_speed_warnings": 0, "player_speed_warnings": 1}
        (Path(out) / "tracking_summary.json").write_text(json.dumps(summary))
        return Path(out) / "tracking.csv", Path(out) / "players.csv"

    monkeypatch.setattr(kloppy_tracking, "convert_provider", fake_convert)
    rc = main(["import-tracking", "--provider", "hawkeye", "--file", "ball_feeds=b1", "--file", "ball_feeds=b2",
               "--file", "meta_data=m.json", "--option", "sample_rate=0.5", "--option", "only_alive=false",
               "--option", "coordinates=tracab", "--out", str(tmp_path / "m"), "--video-fps", "25",
               "--video-offset-s", "auto"])  # fmt: skip
    assert rc == 0
    assert seen["ball_feeds"] == ["b1", "b2"] and seen["meta_data"] == "m.json"
    assert seen["sample_rate"] == 0.5 and seen["only_alive"] is False and seen["coordinates"] == "tracab"
    assert seen["video_fps"] == 25.0 and seen["video_offset_s"] == "auto" and seen["video_duration_s"] is None
    err = capsys.readouterr().err
    assert "warning: 3 rows off the pitch" in err and "warning: 1 player speeds above 13 m/s" in err
    assert "ball speeds" not in err

    # the old underscore spellings still work (hidden from --help)
    assert main(["import-tracking", "--provider", "tracab", "--file", "raw_data=r", "--out", str(tmp_path / "o"),
                 "--video_fps", "30", "--video_offset_s", "12.5"]) == 0  # fmt: skip
    assert seen["video_fps"] == 30.0 and seen["video_offset_s"] == 12.5
    help_text = subprocess.run([sys.executable, "-m", "replaylab.cli", "import-tracking", "--help"], capture_output=True,
                               text=True).stdout  # fmt: skip
    assert "--video-fps" in help_text and "--video_fps" not in help_text
    assert main(["import-tracking", "--provider", "tracab", "--file", "raw_data=r", "--out", str(tmp_path)]) == 2
    assert "give --video-fps" in capsys.readouterr().err
    assert main(["import-tracking", "--provider", "tracab", "--option", "oops", "--out", str(tmp_path), "--video-fps", "25"]) == 2
    assert "--option expects KEY=VALUE" in capsys.readouterr().err


def test_import_tracking_checks_the_feed_against_the_video(tmp_path, capsys):
    kloppy = pytest.importorskip("kloppy")
    sys.path.insert(0, str(REPO / "tests" / "data"))
    from video_fixtures import make_video

    files = Path(kloppy.__file__).parent / "tests" / "files"
    video = tmp_path / "match.mp4"
    make_video(video, fps=25, n_frames=50)  # 2 s
    base = ["import-tracking", "--provider", "tracab", "--file", f"meta_data={files / 'tracab_meta.xml'}",
            "--file", f"raw_data={files / 'tracab_raw.dat'}", "--out", str(tmp_path / "m"), "--video", str(video)]  # fmt: skip
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "feed spans 73940.3 to 80717.3 s of video time" in err and "the video spans 0.0 to 2.0 s" in err
    assert not (tmp_path / "m").exists()
    assert main([*base, "--video-offset-s", "auto"]) == 0  # frame rate from the video
    assert (tmp_path / "m" / "tracking.csv").read_text().splitlines()[1].startswith("0,0.0,")


def test_split_flags_in_both_spellings(tmp_path, capsys):
    assert main(["split", "--output-dir", str(tmp_path / "o")]) == 2
    assert "--input-csv is required" in capsys.readouterr().err


def test_detect_reports_missing_inputs_before_loading_models(tmp_path, capsys):
    assert main(["detect", "--video", str(tmp_path / "none.mp4"), "--tracking", str(tmp_path / "t.csv")]) == 2
    assert f"--video {tmp_path / 'none.mp4'}: not found" in capsys.readouterr().err


def test_broken_pipe_is_quiet():
    """stdout is a pipe nobody reads any more (as in `replaylab ... | head`): exit quietly."""
    script = (
        "import os, sys\n"
        "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
        "from replaylab.cli import main\n"
        f"sys.exit(main(['params', '--params', {str(REPO / 'params.yaml')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 141 and proc.stderr == ""
