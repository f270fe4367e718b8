"""Per-frame probabilities: ensemble rules, candidate-only CNN passes, the export CSV and its input checks."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from replaylab.inference.header_model import load_header_model
from replaylab.inference.probs import (
    COLUMNS,
    ENSEMBLE_RULES,
    cnn_probabilities,
    ensemble,
    export_header_probs,
    match_clips,
    match_probs,  # fmt: skip
    read_candidates,
    read_prefilter_frames,
)


@pytest.mark.parametrize("rule, expect", [("mean", [0.5, 0.5, 0.1]), ("weighted", [0.75, 0.3, 0.15]), ("geometric", [0.0, 0.3, 0.0]),
                                          ("max", [1.0, 0.9, 0.2]), ("cnn", [0.0, 0.9, 0.0]), ("pre_xgb", [1.0, 0.1, 0.2])])  # fmt: skip
def test_ensemble_rules_and_unevaluated_frames(rule, expect):
    cnn = np.array([np.nan, 0.9, 0.0])  # frame 0: the CNN did not run there -> counts as 0
    pre = np.array([1.0, 0.1, 0.2])
    np.testing.assert_allclose(ensemble(cnn, pre, rule=rule, weight=0.25), expect)


def test_ensemble_rejects_unknown_rules_and_weights():
    assert set(ENSEMBLE_RULES) == {"mean", "weighted", "geometric", "max", "cnn", "pre_xgb"}
    with pytest.raises(ValueError, match="ensemble rule 'avg'"):
        ensemble([0.1], [0.2], rule="avg")
    with pytest.raises(ValueError, match="weight"):
        ensemble([0.1], [0.2], rule="weighted", weight=1.5)


def test_cnn_runs_only_at_the_candidates(header_run):
    root, _, matches = header_run
    model = load_header_model(root / "models/header")
    clips = match_clips(model, matches / "match_000")
    n = 300
    pre = np.linspace(0.0, 1.0, n)
    mp = match_probs(model, clips, video_id="match_000", pre_prob=pre, candidates=[40, 41, 200, 41], progress=False)
    assert mp.windows == 3 and np.isfinite(mp.cnn).sum() == 3 and np.isfinite(mp.cnn[[40, 41, 200]]).all()
    np.testing.assert_allclose(mp.cnn[[40, 200]], cnn_probabilities(model, clips, [40, 200], progress=False))
    np.testing.assert_allclose(mp.ens, ensemble(mp.cnn, pre))
    assert len(mp.rows()) == n and mp.rows()[0][2] == ""
    with pytest.raises(ValueError, match=r"candidate frames must lie in 0..299"):
        match_probs(model, clips, video_id="match_000", pre_prob=pre, candidates=[300], progress=False)


def _prefilter_files(tmp_path, matches, splits):
    from replaylab.data.video import frame_times

    rows, cands = [], []
    for mid, split in splits.items():
        n = len(frame_times(matches / mid / "video.mp4"))
        for f in range(n):
            rows.append([mid, f, f / 25, split, 0, 0.9 if f % 97 == 5 else 0.01])
            if f % 97 == 5:
                cands.append([mid, f, 0.9])
    with open(tmp_path / "frames.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["video_id", "frame", "time", "split", "label", "pre_xgb_prob"], *rows])
    with open(tmp_path / "candidates.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["video_id", "frame", "pre_xgb_prob"], *cands])


def test_export_writes_every_frame_and_a_dense_pass_on_the_dense_splits(header_run, tmp_path):
    root, _, matches = header_run
    model = load_header_model(root / "models/header")
    _prefilter_files(tmp_path, matches, {"match_000": "train", "match_001": "test"})
    pre, cands = read_prefilter_frames(tmp_path / "frames.csv"), read_candidates(tmp_path / "candidates.csv")
    summary = export_header_probs(model, root=matches, prefilter=pre, candidates=cands, out_csv=tmp_path / "probs.csv",
                                  dense_splits=("test",), dense_stride=3, progress=False)  # fmt: skip
    rows = list(csv.DictReader(open(tmp_path / "probs.csv")))
    assert list(rows[0]) == [*COLUMNS, "cnn_dense_prob"]
    assert len(rows) == summary["frames"] == sum(len(p["pre_xgb_prob"]) for p in pre.values())
    by = {m: [r for r in rows if r["video_id"] == m] for m in ("match_000", "match_001")}
    assert all(r["cnn_dense_prob"] == "" for r in by["match_000"])
    dense = [int(r["frame"]) for r in by["match_001"] if r["cnn_dense_prob"] != ""]
    assert set(range(0, len(by["match_001"]), 3)) <= set(dense)
    for r in by["match_001"]:  # candidates reuse the dense pass
        if r["cnn_prob"] != "":
            assert r["cnn_prob"] == r["cnn_dense_prob"]
    assert summary["cnn_windows"] == sum(len(c) for c in cands.values())
    assert summary["matches"]["match_001"]["split"] == "test"


def test_input_files_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="pre_xgb"):
        read_prefilter_frames(tmp_path / "nope.csv")
    (tmp_path / "f.csv").write_text("video_id,frame,split,pre_xgb_prob\nm,0,train,0.1\nm,2,train,0.3\n")
    with pytest.raises(ValueError, match="one row per frame"):
        read_prefilter_frames(tmp_path / "f.csv")
    (tmp_path / "g.csv").write_text("video_id,frame,split,pre_xgb_prob\nm,x,train,0.1\n")
    with pytest.raises(ValueError, match=r"g.csv, row 2"):
        read_prefilter_frames(tmp_path / "g.csv")
    (tmp_path / "c.csv").write_text("video_id,frame\nm,1.5\n")
    with pytest.raises(ValueError, match=r"c.csv, row 2"):
        read_candidates(tmp_path / "c.csv")
