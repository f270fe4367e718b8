"""The detector's result record and its input checks (the whole detector runs in tests/pipeline, on the
models a tiny `dvc repro` trains)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replaylab.inference.detect import EVENT_COLUMNS, DetectResult, detect_headers


def _result(video="data/m1/video.mp4"):
    return DetectResult(video=Path(video), frames=np.array([10, 50, 90]), times=np.array([0.4, 2.0, 3.6]), scores=np.array([0.9, 0.2, 0.7]),
                        detected=np.array([True, False, True]), n_frames=250, fps=25.0, cnn_windows=20, candidates=np.arange(20),
                        seconds={"pre_filter": 0.5, "cnn": 1.5})  # fmt: skip


def test_rows_name_the_match_and_keep_detections_unless_all_peaks():
    r = _result()
    assert len(EVENT_COLUMNS) == len(r.rows()[0])
    assert r.rows() == [["m1", 10, 0.4, 0.9, 1], ["m1", 90, 3.6, 0.7, 1]]
    assert [row[1] for row in r.rows(all_peaks=True)] == [10, 50, 90]
    assert _result("clips/game7.mp4").rows()[0][0] == "game7"


def test_throughput_counts_every_stage():
    tp = _result().throughput()
    assert tp["seconds"] == 2.0 and tp["frames_per_s"] == 125.0 and tp["x_real_time"] == 5.0 and tp["cnn_windows"] == 20


def test_missing_inputs_are_named(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="tracking table"):
        detect_headers(tmp_path / "v.mp4", tmp_path / "t.csv", models=tmp_path)
    with pytest.raises(FileNotFoundError, match="video"):
        detect_headers(tmp_path / "none.mp4", tmp_path / "t.csv", models=tmp_path)
    (tmp_path / "t.csv").write_text("frame,time\n")
    with pytest.raises(FileNotFoundError, match="pre_xgb"):
        detect_headers(tmp_path / "v.mp4", tmp_path / "t.csv", models=tmp_path)
