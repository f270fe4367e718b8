"""The SoccerNet-MVFoul metrics: hand-computed cases (skip rules, the Dive and raw-offence rules, absent classes,
missing predictions), reports, and number-for-number parity with the official ``SoccerNet`` package."""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings

import numpy as np
import pytest

from replaylab.data.adapters.mvfoul import ACTION_CLASSES
from replaylab.data.samples import AdapterError
from replaylab.evaluation.mvfoul import (
    METRIC_KEYS,
    classification_report,
    evaluate_files,
    evaluate_mvfoul,
    prediction_entry,
    predictions_document,
    report_text,
)


def gt(*actions: tuple[str, str, str]) -> dict:
    return {"Set": "test", "Actions": {str(i): {"Action class": a, "Offence": o, "Severity": s, "Clips": []}
                                       for i, (a, o, s) in enumerate(actions)}}  # fmt: skip


def pred(**entries: tuple[str, str, str]) -> dict:
    return {"Actions": {k.lstrip("_"): {"Action class": a, "Offence": o, "Severity": s} for k, (a, o, s) in entries.items()}}


def test_prediction_entries_use_the_baseline_strings():
    assert prediction_entry(0, 0) == {"Action class": "Tackling", "Offence": "No offence", "Severity": ""}
    assert prediction_entry(7, 3) == {"Action class": "Dive", "Offence": "Offence", "Severity": "5.0"}
    assert predictions_document({"4": (1, 2)}) == {"Actions": {"4": {"Action class": "Standing tackling", "Offence": "Offence",
                                                                     "Severity": "3.0"}}}  # fmt: skip
    with pytest.raises(ValueError, match="out of range"):
        prediction_entry(8, 0)


def test_hand_computed_with_absent_classes():
    # action classes present: Tackling (2), High leg (1); offence-severity present: 0 (1), 1 (1), 3 (1)
    truth = gt(("Tackling", "No offence", ""), ("Tackling", "Offence", "1.0"), ("High leg", "Offence", "5.0"))
    p = pred(_0=("Tackling", "No offence", ""), _1=("High leg", "Offence", "1.0"), _2=("High leg", "Offence", "3.0"))
    r = evaluate_mvfoul(truth, p)
    m = r.metrics
    assert m["accuracy_action"] == pytest.approx(100 * 2 / 3)
    assert m["accuracy_offence_severity"] == pytest.approx(100 * 2 / 3)
    # 6 of 8 action classes and 1 of 4 offence-severity classes have no ground truth: NaN, as the official code
    assert math.isnan(m["balanced_accuracy_action"]) and math.isnan(m["balanced_accuracy_offence_severity"])
    assert math.isnan(m["leaderboard_value"])
    assert m["balanced_accuracy_action_present"] == pytest.approx(100 * (1 / 2 + 1) / 2)
    assert m["balanced_accuracy_offence_severity_present"] == pytest.approx(100 * (1 + 1 + 0) / 3)
    assert m["leaderboard_value_present"] == pytest.approx((75 + 200 / 3) / 2)
    assert r.absent_action_classes == [c for c in ACTION_CLASSES if c not in ("Tackling", "High leg")]
    assert r.absent_offence_severity_classes == ["Offence + 3.0"]
    summary = r.summary()
    assert summary["balanced_accuracy_action"] is None and summary["actions_counted"] == 3
    json.dumps(summary)  # JSON-ready (NaN -> null)


def test_hand_computed_all_classes_present():
    rows = [
        (c, o, s)
        for c, (o, s) in zip(ACTION_CLASSES, [("No offence", ""), ("Offence", "1.0"), ("Offence", "3.0"), ("Offence", "5.0")] * 2)
    ]
    truth = gt(*rows)  # the Dive (index 7) is Offence + 5.0 -> class 3, but must be predicted with severity "1.0"
    entries = {f"_{i}": r for i, r in enumerate(rows)}
    entries["_2"] = ("Tackling", "Offence", "3.0")  # wrong action
    entries["_4"] = ("Pushing", "Offence", "3.0")  # wrong offence-severity (truth No offence)
    r = evaluate_mvfoul(truth, pred(**entries))
    m = r.metrics
    assert m["accuracy_action"] == pytest.approx(100 * 7 / 8)
    assert m["balanced_accuracy_action"] == pytest.approx(100 * 7 / 8)
    # offence-severity support: class 0: 2, 1: 2, 2: 2, 3: 2; hits: class 0: 1 (action 4 wrong), class 3: 1 (the Dive's
    # "5.0" is wrong since its severity is forced to "1.0")
    assert m["accuracy_offence_severity"] == pytest.approx(100 * 6 / 8)
    assert m["balanced_accuracy_offence_severity"] == pytest.approx(100 * (0.5 + 1 + 1 + 0.5) / 4)
    assert m["leaderboard_value"] == pytest.approx((87.5 + 75) / 2)
    assert m["leaderboard_value_present"] == m["leaderboard_value"]
    assert r.confusion_offence_severity[3, 3] == 2  # by class index the Dive's prediction is on the diagonal
    dive_right = dict(entries, _7=("Dive", "Offence", "1.0"))
    assert evaluate_mvfoul(truth, pred(**dive_right)).metrics["accuracy_offence_severity"] == pytest.approx(100 * 7 / 8)


def test_skip_rules_and_severity_normalisation():
    truth = gt(
        ("Dont know", "Offence", "1.0"),  # skipped
        ("", "Offence", "1.0"),  # skipped
        ("Pushing", "Between", "3.0"),  # skipped (not a Dive)
        ("Pushing", "", "3.0"),  # skipped
        ("Pushing", "Offence", "2.0"),  # skipped: in-between severity of an offence
        ("Pushing", "Offence", ""),  # skipped
        ("Holding", "No offence", "4.0"),  # kept: class 0, must be predicted with severity ""
        ("Dive", "Between", ""),  # kept: class 1, predicted offence must be "Between" (the annotated string)
        ("Dive", "No Offence", "1.0"),  # kept: class 0, offence must be "No Offence"
        ("Elbowing", "Offence", "4.0"),  # skipped
    )
    ok = pred(_6=("Holding", "No offence", ""), _7=("Dive", "Between", "1.0"), _8=("Dive", "No Offence", ""))
    r = evaluate_mvfoul(truth, ok)
    assert r.counted == 3 and r.metrics["accuracy_offence_severity"] == pytest.approx(100.0)
    canonical = pred(_6=("Holding", "No offence", "4.0"), _7=("Dive", "Offence", "1.0"), _8=("Dive", "No offence", ""))
    r = evaluate_mvfoul(truth, canonical)
    assert r.metrics["accuracy_offence_severity"] == 0.0 and r.metrics["accuracy_action"] == pytest.approx(100.0)
    assert r.confusion_offence_severity[:, :4].trace() == 3  # index-wise all three are right


def test_missing_predictions_count_as_wrong_and_unparsed_strings():
    truth = gt(("Tackling", "Offence", "1.0"), ("Tackling", "Offence", "1.0"))
    r = evaluate_mvfoul(truth, pred(_0=("Tackling", "Offence", "1.0")))
    assert r.missing == ["1"] and r.metrics["accuracy_action"] == pytest.approx(50.0)
    r = evaluate_mvfoul(truth, pred(_0=("Kick", "Offence", "9.0"), _1=("Tackling", "Offence", "1.0")))
    assert r.confusion_action[0, -1] == 1 and r.confusion_offence_severity[1, -1] == 1


def test_empty_ground_truth_gives_nan():
    r = evaluate_mvfoul(gt(("Dont know", "", "")), {"Actions": {}})
    assert r.counted == 0 and all(math.isnan(r.metrics[k]) for k in METRIC_KEYS)


def test_bad_input_is_named(tmp_path):
    with pytest.raises(AdapterError, match="unknown 'Action class' value 'Kick'"):
        evaluate_mvfoul(gt(("Kick", "Offence", "1.0")), {"Actions": {}})
    with pytest.raises(AdapterError, match="'Actions' object"):
        evaluate_mvfoul({"actions": {}}, {"Actions": {}})
    with pytest.raises(AdapterError, match="predictions, action 0: needs"):
        evaluate_mvfoul(gt(("Tackling", "Offence", "1.0")), {"Actions": {"0": {"Action class": "Tackling"}}})
    g = tmp_path / "annotations.json"
    g.write_text(json.dumps(gt(("Tackling", "Offence", "1.0"))))
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(AdapterError, match=r"p\.json: malformed JSON at line 1"):
        evaluate_files(g, bad)
    with pytest.raises(AdapterError, match="predictions file not found"):
        evaluate_files(g, tmp_path / "missing.json")


def test_classification_report():
    cm = np.array([[3, 1, 0], [0, 2, 1]])  # 2 classes + an unparsed column
    rep = classification_report(cm, ["a", "b"])
    assert rep["a"] == {"precision": 1.0, "recall": 0.75, "f1": round(2 * 0.75 / 1.75, 4), "support": 4}
    assert rep["b"]["precision"] == round(2 / 3, 4) and rep["b"]["recall"] == round(2 / 3, 4)
    assert rep["accuracy"] == {"value": round(5 / 7, 4), "support": 7}
    assert rep["macro avg"]["recall"] == round((0.75 + 2 / 3) / 2, 4)
    text = report_text(rep, "title")
    assert text.startswith("title") and "macro avg" in text


def test_classification_report_equals_sklearn_on_random_predictions():
    from sklearn.metrics import classification_report as sk_report

    rng = np.random.default_rng(0)
    true, pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    pred[pred == 3] = rng.integers(0, 3, int((pred == 3).sum()))  # class 3 never predicted: precision 0 / 0
    cm = np.zeros((4, 5), np.int64)
    np.add.at(cm, (true, pred), 1)
    rep = classification_report(cm, ["a", "b", "c", "d"])
    ref = sk_report(true, pred, labels=[0, 1, 2, 3], target_names=["a", "b", "c", "d"], output_dict=True, zero_division=0)
    for name in ("a", "b", "c", "d", "macro avg", "weighted avg"):
        assert rep[name] == {k: (round(ref[name][m], 4) if k != "support" else int(ref[name][m]))
                             for k, m in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("support", "support"))}  # fmt: skip
    assert rep["accuracy"]["value"] == round(float(np.mean(true == pred)), 4)
    empty = classification_report(np.zeros((2, 3), np.int64), ["a", "b"])
    assert empty["accuracy"] == {"value": None, "support": 0} and empty["macro avg"]["f1"] == 0.0


# ------------------------------------------------------------------------------------------ parity
ACTIONS = [*ACTION_CLASSES, "Dont know", ""]
OFFENCES = ["Offence", "No offence", "No Offence", "Between", ""]
SEVERITIES = ["", "1.0", "2.0", "3.0", "4.0", "5.0"]


def _random_files(tmp_path, seed: int, n: int, *, missing: float, rich: bool):
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(n):
        if rich:
            a, o, s = rng.choice(ACTIONS), rng.choice(OFFENCES), rng.choice(SEVERITIES)
        else:  # mostly clean labels, so every class occurs and the balanced accuracies are finite
            a = ACTION_CLASSES[i % 8] if i < 16 else rng.choice(ACTION_CLASSES)
            o, s = [("No offence", ""), ("Offence", "1.0"), ("Offence", "3.0"), ("Offence", "5.0")][int(rng.integers(4))]
        truth[str(i)] = {"Action class": str(a), "Offence": str(o), "Severity": str(s), "Clips": []}
    preds = {}
    for k, t in truth.items():
        if rng.random() < missing:
            continue
        if rng.random() < 0.5:  # often right, to exercise the hit paths
            entry = {"Action class": t["Action class"], "Offence": t["Offence"], "Severity": t["Severity"]}
        else:
            entry = {"Action class": str(rng.choice(ACTION_CLASSES)), "Offence": str(rng.choice(OFFENCES[:3])),
                     "Severity": str(rng.choice(SEVERITIES))}  # fmt: skip
        preds[k] = entry
    g, p = tmp_path / f"gt_{seed}.json", tmp_path / f"pred_{seed}.json"
    g.write_text(json.dumps({"Set": "test", "Number of actions": n, "Actions": truth}))
    p.write_text(json.dumps({"Actions": preds}))
    return g, p


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("seed,n,missing,rich", [(0, 60, 0.0, False), (1, 200, 0.1, False), (2, 300, 0.05, True), (3, 25, 0.3, True),
                                                 (4, 7, 0.0, False)])  # fmt: skip
def test_parity_with_the_official_soccernet_evaluator(tmp_path, seed, n, missing, rich):
    try:
        from SoccerNet.Evaluation.MV_FoulRecognition import evaluate as official
    except ImportError as e:  # the dev extra installs it; without it, say why this test did not run
        pytest.skip(f"the official evaluator cannot be imported (pip install -e '.[dev]' installs SoccerNet): {e}")
    g, p = _random_files(tmp_path, seed, n, missing=missing, rich=rich)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0 / 0 of an absent class
        theirs = official(str(g), str(p))
    ours = evaluate_files(g, p).metrics
    assert set(theirs) == set(METRIC_KEYS)
    for k in METRIC_KEYS:
        assert _same(ours[k], float(theirs[k])), (k, ours[k], theirs[k])
