"""evaluate@header: the ablation's numbers on hand-made probabilities with known answers, and its plots."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from replaylab.filters.post import VideoProbs
from replaylab.params.detect import EvaluateHeaderParams
from replaylab.tasks.header.evaluate import COLUMNS, evaluate_header_detection, read_events, timeline_image

N, FPS = 300, 25.0


def _bump(n, at, height):
    """A score curve with a peak of ``height`` at each frame of ``at`` (falling off over a few frames)."""
    x = np.zeros(n)
    frames = np.arange(n)
    for f, h in zip(at, height):
        x = np.maximum(x, h * np.exp(-0.5 * ((frames - f) / 1.5) ** 2))
    return x


def _video(vid, split, headers, pre_peaks, cnn_peaks):
    pre = _bump(N, *zip(*pre_peaks)) if pre_peaks else np.zeros(N)
    dense = (_bump(N, *zip(*cnn_peaks)) if cnn_peaks else np.zeros(N)) if split != "train" else np.full(N, np.nan)
    cnn = np.where(pre > 0.5, np.nan_to_num(dense, nan=0.5), np.nan)
    ens = (np.nan_to_num(cnn) + pre) / 2
    probs = np.stack([pre, cnn, ens, dense], 1)
    return VideoProbs(vid, probs, split, np.asarray(headers), np.arange(N) / FPS)


@pytest.fixture
def videos():
    return [
        _video("m_train", "train", [50, 200], [(50, 0.9), (200, 0.9), (120, 0.3)], None),
        _video("m_val", "val", [80, 250], [(80, 0.9), (250, 0.9), (160, 0.85)], [(80, 0.7), (250, 0.7), (20, 0.69)]),
        _video("m_test", "test", [60, 180], [(60, 0.95), (180, 0.6), (120, 0.92)], [(60, 0.8), (180, 0.75), (120, 0.2)]),
    ]


def _post_files(tmp_path, events):
    (tmp_path / "models/post_xgb").mkdir(parents=True)
    (tmp_path / "models/post_xgb/meta.json").write_text(json.dumps({"threshold": 0.5}))
    (tmp_path / "data/predictions").mkdir(parents=True)
    with open(tmp_path / "data/predictions/header_events.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["video_id", "frame", "time", "score", "detected", "split"], *events])


def test_ablation_numbers_and_where_thresholds_come_from(videos, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _post_files(tmp_path, [["m_val", 80, 3.2, 0.9, 1, "val"], ["m_val", 250, 10.0, 0.8, 1, "val"], ["m_test", 60, 2.4, 0.9, 1, "test"],
                           ["m_test", 181, 7.24, 0.7, 1, "test"], ["m_test", 120, 4.8, 0.3, 0, "test"]])  # fmt: skip
    cfg = EvaluateHeaderParams(map_deltas_s=[0.4, 1.0])
    out = evaluate_header_detection(videos, cfg, out_dir=tmp_path / "reports/header")
    assert out["variants"] == ["pre_filter", "cnn", "pre_filter+cnn", "full"]  # no ablation post-filter events file
    test = out["test"]
    # pre-filter: threshold 0.9 from train + val (their false peaks are lower); on test the 0.92 look-alike passes
    # and the 0.6 header does not: 1 TP, 1 FP, 1 FN
    assert test["pre_filter"]["threshold"] == pytest.approx(0.9) and test["pre_filter"]["threshold_chosen_on"] == ["train", "val"]
    assert (test["pre_filter"]["tp"], test["pre_filter"]["fp"], test["pre_filter"]["fn"]) == (1, 1, 1)
    assert test["pre_filter"]["f1"] == pytest.approx(0.5)
    # CNN alone: threshold 0.7 chosen on val only; both test headers pass, the look-alike does not
    assert test["cnn"]["threshold"] == pytest.approx(0.7) and test["cnn"]["threshold_chosen_on"] == ["val"]
    assert test["cnn"]["f1"] == pytest.approx(1.0)
    # full: post_xgb's own threshold (0.5) on its events
    assert (
        test["full"]["threshold"] == 0.5 and test["full"]["f1"] == pytest.approx(1.0) and test["full"]["ap"] == pytest.approx(1.0)
    )
    assert out["test_f1"] == {k: test[k]["f1"] for k in ("pre_filter", "cnn", "pre_filter+cnn", "full")}
    assert set(test["full"]["soccernet_mAP"]) == {"0.4", "1"} and out["val"]["headers"] == 2
    pr = list(csv.DictReader(open(tmp_path / "reports/header/pr/full.csv")))
    assert [float(r["recall"]) for r in pr] == [0.5, 1.0, 1.0]
    timeline = list(csv.DictReader(open(tmp_path / "reports/header/timeline.csv")))
    assert len(timeline) == N and sum(int(r["header"]) for r in timeline) == 2 and timeline[0]["post_prob"] == ""
    assert (tmp_path / "reports/header/timeline.png").stat().st_size > 1000


def test_timeline_of_a_named_match_and_unknown_match(videos, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _post_files(tmp_path, [])
    evaluate_header_detection(videos, EvaluateHeaderParams(timeline_match="m_val"), out_dir=tmp_path / "r")
    rows = list(csv.DictReader(open(tmp_path / "r/timeline.csv")))
    assert [int(r["frame"]) for r in rows if r["header"] == "1"] == [80, 250]
    with pytest.raises(ValueError, match="timeline_match"):
        evaluate_header_detection(videos, EvaluateHeaderParams(timeline_match="nope"), out_dir=tmp_path / "r2")


def test_events_file_errors_and_image(tmp_path):
    (tmp_path / "e.csv").write_text("video_id,frame,score\nm,x,0.5\n")
    with pytest.raises(ValueError, match=r"e.csv, row 2"):
        read_events(tmp_path / "e.csv")
    with pytest.raises(FileNotFoundError, match="post_xgb"):
        read_events(tmp_path / "none.csv")
    img = timeline_image(np.arange(10) / 25, {"pre_xgb_prob": np.linspace(0, 1, 10), "cnn_prob": np.full(10, np.nan)}, np.array([3]),
                         title="t", width=300, height=120)  # fmt: skip
    assert img.shape == (120, 300, 3) and img.dtype == np.uint8 and (img[:, :, 0] > 200).any()
    assert COLUMNS == ("pre_xgb_prob", "cnn_prob", "ensemble_prob", "cnn_dense_prob")
