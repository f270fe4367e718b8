import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from filters.probs_fixture import ensemble, simulated_cnn, write_probs_csv
from replaylab.data.samples import AdapterError
from replaylab.evaluation.spotting import best_f1_threshold
from replaylab.filters.matches import Match, match_frame_times, read_event_frames
from replaylab.filters.post import (
    EVENT_COLUMNS,
    FRAME_COLUMNS,
    PostFilter,
    PostFilterConfig,
    fit_post_filter,
    load_videos,
    read_probs,
    write_post_outputs,
)  # fmt: skip
from replaylab.filters.xgb import XgbConfig

REPO = Path(__file__).resolve().parents[2]
CFG = PostFilterConfig(n_folds=5, xgb=XgbConfig(n_estimators=80, threads=1))
LOOKALIKES = ("fly_past", "chest", "bounce", "kick")


def make_probs(root: Path, out: Path, seed: int = 0) -> None:
    """Probabilities as export_probs writes them: the CNN evaluated near every event and at 1% random frames."""
    rng = np.random.default_rng(seed)
    rows = {}
    for folder in sorted(root.iterdir()):
        headers = read_event_frames(folder / "events.csv")
        others = read_event_frames(folder / "events.csv", LOOKALIKES)
        n = match_frame_times(Match(folder.name, folder, "")).shape[0]
        evaluated = rng.random(n) < 0.01
        for f in np.concatenate([headers, others]):
            evaluated[max(f - 4, 0) : f + 5] = True
        pre = simulated_cnn(n, headers, others, np.ones(n, bool), rng, peak=0.7, lookalike=0.5, noise=0.05, spurious_rate=0.0)
        cnn = simulated_cnn(n, headers, others, evaluated, rng)
        rows[folder.name] = {"cnn_prob": cnn, "pre_xgb_prob": pre, "ensemble_prob": ensemble(cnn, pre)}
    write_probs_csv(out, rows)


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def probs_csv(matches_dir, tmp_path_factory) -> Path:
    root, _ = matches_dir
    out = tmp_path_factory.mktemp("probs") / "header.csv"
    make_probs(root, out)
    return out


@pytest.fixture(scope="module")
def videos(matches_dir, probs_csv):
    root, splits = matches_dir
    return load_videos(probs_csv, root=root, splits_dir=splits, columns=CFG.columns)


@pytest.fixture(scope="module")
def fitted(videos):
    return fit_post_filter(videos, CFG)


def test_read_probs_checks_one_row_per_frame(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("video_id,frame,cnn_prob,pre_xgb_prob,ensemble_prob\nv,1,,0.2,0.2\nv,0,0.5,0.1,0.3\nw,0,,0.0,0.0\n")
    got = read_probs(p, ("cnn_prob", "pre_xgb_prob"))
    assert got["v"].shape == (2, 2) and np.isnan(got["v"][1, 0]) and got["v"][0].tolist() == [0.5, 0.1]
    p.write_text("video_id,frame,cnn_prob,pre_xgb_prob\nv,0,,0.2\nv,2,,0.2\n")
    with pytest.raises(AdapterError, match="video 'v' has no row for frame 1"):
        read_probs(p, ("cnn_prob", "pre_xgb_prob"))
    p.write_text("video_id,frame,cnn_prob,pre_xgb_prob\nv,0,,0.2\nv,0,,0.2\n")
    with pytest.raises(AdapterError, match=r"row 3: video 'v' frame 0 appears twice"):
        read_probs(p, ("cnn_prob", "pre_xgb_prob"))
    p.write_text("video_id,frame,cnn_prob,pre_xgb_prob\nv,0,1.5,0.2\n")
    with pytest.raises(AdapterError, match=r"row 2: cnn_prob 1.5 is not a probability"):
        read_probs(p, ("cnn_prob", "pre_xgb_prob"))
    with pytest.raises(AdapterError, match=r"missing columns \['ensemble_prob'\]"):
        read_probs(p, ("cnn_prob", "ensemble_prob"))


def test_load_videos_matches_probabilities_to_the_splits(videos, matches_dir, tmp_path, probs_csv):
    assert [(v.video_id, v.split, v.n_frames) for v in videos][:2] == [("m0", "train", 1501), ("m1", "train", 1501)]
    root, splits = matches_dir
    lines = probs_csv.read_text().splitlines()
    (tmp_path / "fewer.csv").write_text("\n".join(ln for ln in lines if not ln.startswith("m4,")) + "\n")
    with pytest.raises(AdapterError, match=r"no probabilities for the split matches \['m4'\]"):
        load_videos(tmp_path / "fewer.csv", root=root, splits_dir=splits, columns=CFG.columns)
    (tmp_path / "extra.csv").write_text(probs_csv.read_text() + "zz,0,,0.1,0.1\n")
    with pytest.raises(AdapterError, match=r"videos \['zz'\] are in no split"):
        load_videos(tmp_path / "extra.csv", root=root, splits_dir=splits, columns=CFG.columns)
    (tmp_path / "short.csv").write_text("\n".join(ln for ln in lines if not ln.startswith("m4,1500,")) + "\n")
    with pytest.raises(AdapterError, match=r"'m4' has 1500 frames, its video 1501"):
        load_videos(tmp_path / "short.csv", root=root, splits_dir=splits, columns=CFG.columns)


def test_grouped_cv_over_the_train_splits_and_the_threshold_from_out_of_fold(fitted, videos):
    train = sorted(v.video_id for v in videos if v.split in CFG.train_splits)
    assert sorted(fitted.folds) == train and "m4" not in fitted.folds
    by_id = {v.video_id: v for v in videos}
    thr, _ = best_f1_threshold({v: by_id[v].headers for v in train}, {v: fitted.events[v] for v in train}, tolerance=0.5 * 25)
    assert fitted.model.threshold == thr
    m = fitted.metrics
    assert m["test"]["n_events"] == 3 and m["threshold"] == thr and set(m["baselines"]) == set(CFG.columns)
    assert 0 <= m["test"]["f1"] <= 1 and m["train"]["frame_auroc"] > 0.9


def test_frames_without_a_cnn_evaluation_nearby_score_zero(fitted, videos):
    v = videos[0]
    act = fitted.model.active(v.probs)
    assert (fitted.frame_probs[v.video_id][~act] == 0).all() and act.mean() < 0.9


def test_inference_from_the_saved_model_reproduces_the_stage(fitted, videos, tmp_path):
    fitted.model.save(tmp_path / "post")
    meta = json.loads((tmp_path / "post" / "meta.json").read_text())
    assert meta["half_window"] == 15 and meta["columns"] == list(CFG.columns) and meta["threshold"] == fitted.model.threshold
    model = PostFilter.load(tmp_path / "post")
    test = next(v for v in videos if v.split == "test")
    frames, scores, detected = model.detect(test.probs)
    want_f, want_s = fitted.events["m4"]
    assert frames.tolist() == want_f.tolist()
    np.testing.assert_allclose(scores, want_s, rtol=1e-6)
    assert detected.tolist() == (want_s >= fitted.model.threshold).tolist()
    short = model.score(test.probs[:10])  # a video shorter than the window
    assert short.shape == (10,) and np.isfinite(short).all()
    with pytest.raises(ValueError, match="probabilities must be"):
        model.score(test.probs[:, :2])


def test_every_frame_is_active_without_an_active_column(videos):
    fit = fit_post_filter(videos, PostFilterConfig(active_column=None, n_folds=2, xgb=XgbConfig(n_estimators=20, threads=1)))
    assert fit.model.active(videos[0].probs).all() and len(set(fit.folds.values())) == 2


def test_stage_outputs(fitted, videos, tmp_path):
    write_post_outputs(fitted, videos, model_dir=tmp_path / "models" / "post_xgb", events_csv=tmp_path / "pred" / "header_events.csv",
                       frames_csv=tmp_path / "pred" / "header_frames.csv")  # fmt: skip
    events = read_rows(tmp_path / "pred" / "header_events.csv")
    assert tuple(events[0]) == EVENT_COLUMNS
    thr = fitted.model.threshold
    assert all(int(r["detected"]) == (float(r["score"]) >= thr - 1e-6) for r in events)
    assert all(float(r["score"]) >= CFG.min_score for r in events)
    assert {r["split"] for r in events} == {"train", "val", "test"}
    frames = read_rows(tmp_path / "pred" / "header_frames.csv")
    assert tuple(frames[0]) == FRAME_COLUMNS and len(frames) == sum(v.n_frames for v in videos)
    assert (tmp_path / "models" / "post_xgb" / "plots" / "feature_importance.png").is_file()


def test_the_stage_script_end_to_end(matches_dir, probs_csv, tmp_path):
    root, splits = matches_dir
    (tmp_path / "params.yaml").write_text(f"""\
seed: 3
cache_clips:
  header: {{source: {{format: matches, root: {root}}}}}
split: {{out_dir: {splits.parent}}}
post_xgb: {{probs: {probs_csv}, n_folds: 2, xgb: {{n_estimators: 30, threads: 1}}}}
""")
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    res = subprocess.run([sys.executable, str(REPO / "stages" / "post_xgb.py")], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    metrics = json.loads((tmp_path / "metrics" / "post_xgb.json").read_text())
    assert metrics["train_splits"] == ["train", "val"] and metrics["test"]["n_matches"] == 1
    assert (tmp_path / "data" / "predictions" / "header_events.csv").is_file()
    assert (tmp_path / "models" / "post_xgb" / "model.ubj").is_file()
