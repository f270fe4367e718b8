import json

import numpy as np
import pytest

from replaylab.evaluation.spotting import (
    LOOSE_DELTAS_S,
    TIGHT_DELTAS_S,
    average_precision,
    best_f1_threshold,
    group_events,
    match_greedy,
    pr_curve,
    soccernet_average_map,
    soccernet_map_classes,
    spotting_prf,
    spotting_report,
)  # fmt: skip


# ------------------------------------------------------------------------------------------ our greedy matching
def test_one_to_one_highest_score_first():
    m = match_greedy([10, 20], [11, 12, 19], [0.9, 0.8, 0.7], tolerance=2)
    assert m.tolist() == [0, -1, 1]  # 12 finds 10 taken and 20 too far
    m = match_greedy([10], [12, 9], [0.5, 0.9], tolerance=3)
    assert m.tolist() == [-1, 0]  # the higher score takes the event, whatever its order in the list


def test_a_prediction_takes_the_nearest_free_event_and_ties_go_to_the_earlier():
    assert match_greedy([10, 13], [12, 9], [0.9, 0.8], tolerance=3).tolist() == [1, 0]
    assert match_greedy([10, 12], [11], [0.9], tolerance=1).tolist() == [0]


def test_tolerance_is_inclusive():
    assert match_greedy([10], [12], [1.0], tolerance=2).tolist() == [0]
    assert match_greedy([10], [13], [1.0], tolerance=2).tolist() == [-1]
    assert match_greedy([10], [22], [1.0], tolerance=12.5).tolist() == [0]  # +-0.5 s at 25 fps


def test_prf_counts_and_thresholds():
    gt = {"a": [10, 20, 30], "b": [5]}
    preds = {"a": ([11, 19, 40], [0.9, 0.4, 0.8]), "b": ([50], [0.7]), "c": ([3], [0.95])}
    r = spotting_prf(gt, preds, tolerance=2)
    assert (r["tp"], r["fp"], r["fn"]) == (2, 3, 2) and r["precision"] == pytest.approx(0.4) and r["recall"] == pytest.approx(0.5)
    assert r["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    r = spotting_prf(gt, preds, tolerance=2, threshold=0.85)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 3)
    assert spotting_prf(gt, {}, tolerance=2)["recall"] == 0.0


def test_average_precision_on_a_known_ranking():
    gt = {"v": [10, 50]}
    preds = {"v": ([10, 30, 50], [0.9, 0.8, 0.7])}  # TP, FP, TP
    assert average_precision(gt, preds, tolerance=1) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    p, r, t = pr_curve(gt, preds, tolerance=1)
    assert t.tolist() == [0.9, 0.8, 0.7] and p.tolist() == pytest.approx([1, 0.5, 2 / 3]) and r.tolist() == [0.5, 0.5, 1.0]
    assert average_precision({"v": []}, preds, tolerance=1) != average_precision({"v": []}, preds, tolerance=1)  # NaN
    assert average_precision(gt, {}, tolerance=1) == 0.0


def test_tied_scores_form_one_threshold():
    p, r, t = pr_curve({"v": [10, 50]}, {"v": ([10, 30], [0.5, 0.5])}, tolerance=1)
    assert t.tolist() == [0.5] and p.tolist() == [0.5] and r.tolist() == [0.5]


def test_best_f1_threshold():
    gt = {"v": [10, 50, 90]}
    preds = {"v": ([10, 30, 50, 70, 90], [0.9, 0.85, 0.8, 0.3, 0.6])}
    thr, rep = best_f1_threshold(gt, preds, tolerance=1)
    assert thr == pytest.approx(0.6) and rep["f1"] == pytest.approx(2 * 0.75 * 1.0 / 1.75)
    thr, rep = best_f1_threshold(gt, {}, tolerance=1)
    assert thr == float("inf") and rep["tp"] == 0


def test_group_events_from_rows_in_frames_or_seconds():
    gt = group_events([("a", 10), ("b", 4), ("a", 3)])
    assert set(gt) == {"a", "b"} and gt["a"].tolist() == [10, 3]
    preds = group_events([("a", 0.4, 0.9), ("a", 1.0, 0.1)], fps=25, unit="time")
    assert preds["a"][0].tolist() == [10, 25] and preds["a"][1].tolist() == [0.9, 0.1]
    with pytest.raises(ValueError, match="some rows have a score"):
        group_events([("a", 1, 0.5), ("a", 2)])
    with pytest.raises(ValueError, match="needs the fps"):
        group_events([("a", 1.0)], unit="time")


# ------------------------------------------------------------------------------------------ SoccerNet rules, hand-made
def test_soccernet_takes_the_best_prediction_per_event():
    gt = {"g": [100]}
    preds = {"g": ([100, 101], [0.3, 0.9])}
    out = soccernet_average_map(gt, preds, fps=2, deltas_s=[1.0], framerate=None)  # delta 2 frames: within 1 frame
    assert out["a_mAP"] == pytest.approx(1.0)  # precision 1 at every recall level once the threshold passes 0.3


def test_soccernet_11_point_ap_known_value():
    gt = {"g": [10, 50]}
    preds = {"g": ([10, 30], [0.8, 0.9])}
    out = soccernet_average_map(gt, preds, fps=1, deltas_s=[4.0], framerate=None)
    assert out["a_mAP"] == pytest.approx(6 * 0.5 / 11)  # recall 0.5 at precision 0.5, reached at levels 0 .. 0.5


def test_soccernet_delta_is_the_full_window():
    gt = {"g": [20]}
    assert soccernet_average_map(gt, {"g": ([22], [1.0])}, fps=1, deltas_s=[4.0], framerate=None)["a_mAP"] == pytest.approx(1.0)
    assert soccernet_average_map(gt, {"g": ([23], [1.0])}, fps=1, deltas_s=[4.0], framerate=None)["a_mAP"] == pytest.approx(0.0)


def test_soccernet_average_is_the_trapezoid_over_deltas():
    gt = {"g": [20]}
    out = soccernet_average_map(gt, {"g": ([22], [1.0])}, fps=1, deltas_s=[2.0, 4.0, 6.0], framerate=None)
    assert out["mAP"] == {"2": 0.0, "4": 1.0, "6": 1.0}
    assert out["a_mAP"] == pytest.approx(((0 + 1) / 2 + (1 + 1) / 2) / 2)
    assert soccernet_average_map(gt, {}, fps=1, deltas_s="loose")["deltas_s"] == list(LOOSE_DELTAS_S)
    assert soccernet_average_map(gt, {}, fps=1)["deltas_s"] == list(TIGHT_DELTAS_S)


def test_soccernet_grid_and_duplicates():
    # 25 fps frames on the official 2 fps grid: frames 0..12 are grid frame 0; two events there count once
    gt = {"g": [3, 5, 40]}
    out = soccernet_average_map(gt, {"g": ([4, 40], [0.9, 0.8])}, fps=25, deltas_s=[1.0], framerate=2.0)
    assert out["a_mAP"] == pytest.approx(1.0)
    negative = soccernet_average_map(gt, {"g": ([4, 40], [-0.5, 0.8])}, fps=25, deltas_s=[1.0], framerate=2.0)
    assert negative["a_mAP"] < 1.0  # a negative score is no prediction


def test_spotting_report_keys():
    rep = spotting_report({"v": [10, 50]}, {"v": ([10, 30], [0.9, 0.2])}, fps=25, tolerance_s=0.5, threshold=0.5)
    assert (
        rep["tp"] == 1
        and rep["fp"] == 0
        and rep["precision"] == 1.0
        and rep["recall"] == 0.5
        and 0 <= rep["soccernet_a_mAP"] <= 1
    )


# ------------------------------------------------------------------------------------------ parity with the official code
def _random_games(rng, n_games=3, classes=("Header",)):
    """Ground truth and predictions in milliseconds over 45 minutes of half 1, per class."""
    games = {}
    for g in range(n_games):
        per_class = {}
        for c in classes:
            gt = np.sort(rng.integers(0, 45 * 60_000, rng.integers(20, 40)))
            gt = np.concatenate([gt, gt[:1]])  # one duplicate event: it counts once
            hits = gt[rng.random(gt.shape[0]) < 0.7]
            near = np.clip(hits + rng.normal(0, 3_000, hits.shape[0]).astype(np.int64), 0, None)
            spurious = rng.integers(0, 45 * 60_000, rng.integers(10, 30))
            pos = np.concatenate([near, spurious])
            score = rng.random(pos.shape[0])
            per_class[c] = (gt, pos, score)
        games[f"league/season/game_{g}"] = per_class
    return games


def _unique_on_grid(pos, score, framerate):
    """One prediction per grid frame (the official code keeps the last one written, we keep the best: avoid the case)."""
    grid = np.array([int(framerate * (p / 1000)) for p in pos.tolist()])
    _, first = np.unique(grid, return_index=True)
    return pos[first], score[first]


def _write(root, games, framerate):
    labels, preds = root / "labels", root / "preds"
    for game, per_class in games.items():
        ann, out = [], []
        for c, (gt, pos, score) in per_class.items():
            for ms in gt.tolist():
                ann.append({"gameTime": f"1 - {ms // 60000:02d}:{ms // 1000 % 60:02d}", "label": c, "position": str(ms),
                            "team": "home", "visibility": "visible"})  # fmt: skip
            pos, score = _unique_on_grid(pos, score, framerate)
            for ms, s in zip(pos.tolist(), score.tolist()):
                out.append({"gameTime": f"1 - {ms // 60000:02d}:{ms // 1000 % 60:02d}", "label": c, "position": str(ms), "half": "1",
                            "confidence": s})  # fmt: skip
        (labels / game).mkdir(parents=True)
        (labels / game / "Labels-v2.json").write_text(json.dumps({"annotations": ann}))
        (preds / game).mkdir(parents=True)
        (preds / game / "results_spotting.json").write_text(json.dumps({"predictions": out}))
    return labels, preds


def _ours(games, framerate, metric, classes):
    by_class = {}
    for c in classes:
        gt = {g: pc[c][0] for g, pc in games.items()}
        preds = {g: _unique_on_grid(pc[c][1], pc[c][2], framerate) for g, pc in games.items()}
        by_class[c] = (gt, preds)
    return soccernet_map_classes(by_class, fps=1000, deltas_s=metric, framerate=framerate)  # frames = milliseconds


@pytest.mark.parametrize("framerate, metric, classes", [
    (2, "loose", ("Header",)), (2, "tight", ("Header",)), (25, "tight", ("Header",)), (2, "tight", ("Header", "Kick")),
])  # fmt: skip
def test_identical_to_the_official_soccernet_evaluator(tmp_path, framerate, metric, classes):
    official = pytest.importorskip(
        "SoccerNet.Evaluation.ActionSpotting", reason="the dev extra installs SoccerNet (pip install -e '.[dev]')"
    )
    games = _random_games(np.random.default_rng(framerate * 10 + len(metric) + len(classes)), classes=classes)
    labels, preds = _write(tmp_path, games, framerate)
    ref = official.evaluate(SoccerNet_path=str(labels), Predictions_path=str(preds), prediction_file="results_spotting.json",
                            split="test", version=2, framerate=framerate, metric=metric, label_files="Labels-v2.json", dataset=None,
                            EVENT_DICTIONARY={c: i for i, c in enumerate(classes)})  # fmt: skip
    ours = _ours(games, framerate, metric, classes)
    assert 0.05 < ours["a_mAP"] < 0.95  # a non-trivial case
    assert ours["a_mAP"] == pytest.approx(ref["a_mAP"], abs=1e-12)
    for i, c in enumerate(classes):
        assert ours["a_mAP_per_class"][c] == pytest.approx(ref["a_mAP_per_class"][i], abs=1e-12)
