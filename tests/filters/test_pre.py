import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from replaylab.features.tracking import FEATURE_NAMES, FeatureConfig
from replaylab.filters.matches import split_matches
from replaylab.filters.pre import (
    PreFilter,
    PreFilterConfig,
    event_recall,
    event_scores,
    featurize_match,
    fit_pre_filter,
    proposals,
    threshold_for_recall,
    write_pre_outputs,
)  # fmt: skip
from replaylab.filters.xgb import XgbConfig

CFG = PreFilterConfig(n_folds=5, neg_ratio=20.0, target_recall=0.98, pad_frames=2, xgb=XgbConfig(n_estimators=120, threads=1))


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def featurized(matches_dir):
    root, splits = matches_dir
    return [
        featurize_match(m, features=FeatureConfig(), label_tolerance=CFG.label_tolerance) for m in split_matches(root, splits)
    ]


@pytest.fixture(scope="module")
def fitted(featurized):
    return fit_pre_filter(featurized, CFG)


def test_threshold_for_a_target_recall():
    s = np.array([0.9, 0.1, 0.8, 0.7])
    assert threshold_for_recall(s, 0.75) == 0.7 and threshold_for_recall(s, 1.0) == 0.1 and threshold_for_recall(s, 0.5) == 0.8
    assert threshold_for_recall(np.linspace(1, 0.01, 53), 0.98) == pytest.approx(np.linspace(1, 0.01, 53)[51])  # one miss allowed
    with pytest.raises(ValueError):
        threshold_for_recall(np.array([]), 0.9)


def test_event_scores_recall_and_proposals():
    p = np.zeros(30)
    p[[5, 6, 7, 20]] = [0.3, 0.9, 0.4, 0.6]
    assert event_scores(p, np.array([8, 25]), 2).tolist() == [0.9, 0.0]  # frames 6..10 and 23..27
    mask = p >= 0.35
    assert event_recall(mask, np.array([8, 25]), 2) == (1, 2)
    assert proposals(mask, p) == [(6, 7, 6, 0.9), (20, 20, 20, 0.6)]


def test_folds_are_grouped_over_train_and_val_only(fitted, featurized):
    cv = {m.match.match_id for m in featurized if m.match.split in ("train", "val")}
    assert set(fitted.folds) == cv and "m4" not in fitted.folds
    assert len(set(fitted.folds.values())) == 4  # 5 folds asked, 4 matches: one match per fold
    assert fitted.model.meta["folds"] == fitted.folds and fitted.model.meta["test_matches"] == ["m4"]


def test_threshold_meets_the_target_recall_out_of_fold(fitted):
    m = fitted.metrics
    assert m["cv"]["event_recall"] >= CFG.target_recall
    assert m["threshold"] == fitted.model.threshold
    assert m["cv"]["frames_kept"] < 0.1 and m["test"]["frames_kept"] < 0.1  # >= 10x fewer CNN windows
    assert m["test"]["auroc"] > 0.95 and m["test"]["window_reduction"] == pytest.approx(1 / m["test"]["frames_kept"])
    det = m["detector"]
    assert det["chosen_on"].startswith("cv") and 0 <= det["test"]["f1"] <= 1 and det["test"]["n_events"] == 3


def test_the_test_match_never_influences_training_or_the_threshold(fitted, featurized):
    scrambled = []
    for m in featurized:
        if m.match.split == "test":
            rng = np.random.default_rng(0)
            m = replace(m, X=rng.permutation(m.X), labels=rng.permutation(m.labels))
        scrambled.append(m)
    other = fit_pre_filter(scrambled, CFG)
    assert other.model.threshold == fitted.model.threshold and other.folds == fitted.folds
    for mid in ("m0", "m3"):
        np.testing.assert_array_equal(other.probs[mid], fitted.probs[mid])
    test = next(m for m in featurized if m.match.split == "test")
    np.testing.assert_array_equal(other.model.predict_features(test.X), fitted.probs["m4"])


def test_same_data_same_seed_same_metrics(featurized, fitted):
    assert fit_pre_filter(featurized, CFG).metrics == fitted.metrics


def test_inference_from_the_saved_model_reproduces_the_stage(fitted, featurized, tmp_path, matches_dir):
    fitted.model.save(tmp_path / "pre")
    meta = json.loads((tmp_path / "pre" / "meta.json").read_text())
    assert meta["feature_names"] == list(FEATURE_NAMES) and meta["threshold"] == fitted.model.threshold
    assert meta["label_tolerance"] == 2 and meta["model_file"] == "model.ubj" and set(meta["folds"]) == set(fitted.folds)
    model = PreFilter.load(tmp_path / "pre")
    root, _ = matches_dir
    test = next(m for m in featurized if m.match.split == "test")
    out = model.run(root / "m4" / "tracking.csv", frame_times=test.frame_times)
    np.testing.assert_allclose(out.probs, fitted.probs["m4"], rtol=1e-6, atol=1e-7)
    assert out.candidates.tolist() == np.flatnonzero(fitted.model.candidate_mask(fitted.probs["m4"])).tolist()
    assert out.proposals and all(a <= k <= b for a, b, k, _ in out.proposals)
    with pytest.raises(ValueError, match="features must be"):
        model.predict_features(np.zeros((3, 5)))


def test_stage_outputs(fitted, featurized, tmp_path):
    write_pre_outputs(fitted, featurized, model_dir=tmp_path / "models" / "pre_xgb", out_dir=tmp_path / "data" / "pre_xgb")
    mdir, ddir = tmp_path / "models" / "pre_xgb", tmp_path / "data" / "pre_xgb"
    assert sorted(p.name for p in mdir.iterdir()) == ["meta.json", "model.ubj", "plots"]
    imp = read_rows(mdir / "plots" / "feature_importance.csv")
    assert len(imp) == 36 and float(imp[0]["gain"]) >= float(imp[-1]["gain"])
    assert (mdir / "plots" / "feature_importance.png").stat().st_size > 1000
    frames = read_rows(ddir / "frames.csv")
    assert list(frames[0]) == ["video_id", "frame", "time", "split", "label", "pre_xgb_prob"]
    assert len(frames) == sum(m.n_frames for m in featurized)
    by_split = {r["video_id"]: r["split"] for r in frames}
    assert by_split == {m.match.match_id: m.match.split for m in featurized}
    cands = read_rows(ddir / "candidates.csv")
    thr, pad = fitted.model.threshold, fitted.model.pad_frames
    for mid in ("m1", "m4"):
        p = np.array([float(r["pre_xgb_prob"]) for r in frames if r["video_id"] == mid])
        kept = [int(r["frame"]) for r in cands if r["video_id"] == mid]
        above = np.flatnonzero(fitted.probs[mid] >= thr)
        assert set(above.tolist()) <= set(kept)
        assert all(np.abs(above - f).min() <= pad for f in kept)
        assert p[kept].max() >= thr
    props = read_rows(ddir / "proposals.csv")
    assert list(props[0]) == ["video_id", "start_frame", "end_frame", "peak_frame", "peak_prob"]
    assert sum(int(r["end_frame"]) - int(r["start_frame"]) + 1 for r in props) == len(cands)


# ---- bad data: events outside the video / tracking, bad tracking rows
def _copy_match(matches_dir, tmp_path, extra_event_frame=None, tracking_edit=None):
    import shutil

    from replaylab.filters.matches import Match

    root, _ = matches_dir
    folder = tmp_path / "m0"
    shutil.copytree(root / "m0", folder)
    if extra_event_frame is not None:
        with open(folder / "events.csv", "a", newline="") as fh:
            header = (folder / "events.csv").read_text().splitlines()[0].split(",")
            csv.writer(fh).writerow([extra_event_frame if c == "frame" else "header" if c == "type" else "" for c in header])
    if tracking_edit is not None:
        lines = (folder / "tracking.csv").read_text().splitlines()
        (folder / "tracking.csv").write_text("\n".join(tracking_edit(lines)) + "\n")
    return Match("m0", folder, "train")


def test_header_after_the_end_is_an_error_or_dropped_never_a_miss(matches_dir, tmp_path):
    from replaylab.data.rowchecks import BadRows
    from replaylab.data.samples import AdapterError

    clean = featurize_match(_copy_match(matches_dir, tmp_path / "a"), features=FeatureConfig(), label_tolerance=2)
    m = _copy_match(matches_dir, tmp_path / "b", extra_event_frame=clean.n_frames + 100)
    n_rows = len((m.folder / "events.csv").read_text().splitlines())
    with pytest.raises(AdapterError, match=rf"m0/events\.csv, row {n_rows}: event at frame {clean.n_frames + 100} is outside"):
        featurize_match(m, features=FeatureConfig(), label_tolerance=2)
    tally = BadRows()
    mf = featurize_match(m, features=FeatureConfig(), label_tolerance=2, on_bad_rows="drop", tally=tally)
    assert tally.counts == {"event_outside_span": 1}
    np.testing.assert_array_equal(mf.headers, clean.headers)
    np.testing.assert_array_equal(mf.labels, clean.labels)
    assert event_recall(np.ones(mf.n_frames), mf.headers, 2) == (len(clean.headers), len(clean.headers))


def test_nan_tracking_is_blamed_on_the_tracking_row(matches_dir, tmp_path):
    from replaylab.data.rowchecks import BadRows
    from replaylab.data.samples import AdapterError

    def spoil(lines):
        cols = lines[0].split(",")
        cells = lines[40].split(",")
        cells[cols.index("x")] = "nan"
        lines[40] = ",".join(cells)
        return lines

    m = _copy_match(matches_dir, tmp_path, tracking_edit=spoil)
    with pytest.raises(AdapterError, match=r"m0/tracking\.csv, row 41: non-finite tracking value x=nan"):
        featurize_match(m, features=FeatureConfig(), label_tolerance=2)
    tally = BadRows()
    mf = featurize_match(m, features=FeatureConfig(), label_tolerance=2, on_bad_rows="drop", tally=tally)
    assert tally.counts == {"tracking_non_finite": 1} and np.isfinite(mf.X).all()
