"""SoccerNet-MVFoul evaluation with the official rules, number for number (``MV_FoulRecognition.evaluate`` of
the ``SoccerNet`` package, which scores an ``annotations.json`` against a predictions file).

Predictions file (the official format)::

    {"Actions": {"<action id>": {"Action class": "Tackling", "Offence": "Offence", "Severity": "3.0"}, ...}}

The official rules, per ground-truth action (in the order the evaluator applies them):

1. skipped: action class "" or "Dont know"; offence "" or "Between" (unless a Dive); severity "", "2.0" or
   "4.0" for an offence (unless a Dive);
2. then offence "" / "Between" (Dives only) counts as "Offence", severity "" / "2.0" / "4.0" as "1.0";
   offence-severity class: No offence -> 0, Offence + 1.0 / 3.0 / 5.0 -> 1 / 2 / 3;
3. the severity a prediction must give: "1.0" for a Dive (forced, whatever was annotated), "" for
   "No offence" / "No Offence", else the (normalised) annotated severity;
4. the action is right when the predicted "Action class" equals the annotated one; the offence-severity is
   right when the predicted "Offence" equals the *annotated* offence string (not the normalised one: a Dive
   annotated with offence "" or "Between" can only be matched by predicting that string) and the predicted
   "Severity" equals the string of rule 3. An action without a prediction counts as wrong.

Metrics (x 100, as the official evaluator reports them): ``accuracy_action``, ``accuracy_offence_severity``
(right / counted); ``balanced_accuracy_action`` / ``balanced_accuracy_offence_severity``: the mean of the
per-class recalls over the fixed 8 action / 4 offence-severity classes, NaN when a class has no ground truth
in the split (0 / 0, as the official numpy code gives); ``leaderboard_value`` = the mean of the two balanced
accuracies. The ``*_present`` variants average the recalls over the classes that do occur only (equal to the
official value when every class occurs).

Confusion matrices and classification reports work on class indices (prediction strings parsed with the
same normalisation as the ground truth); their diagonal can therefore exceed the official offence-severity
hits by the Dives of rule 4.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.adapters.mvfoul import ACTION_CLASSES, OFFENCE_SEVERITY_CLASSES, official_labels
from ..data.samples import AdapterError

__all__ = [
    "METRIC_KEYS",
    "OFFENCE_SEVERITY_STRINGS",
    "MVFoulResult",
    "classification_report",
    "evaluate_files",
    "evaluate_mvfoul",
    "prediction_entry",
    "predictions_document",
    "read_json",
]

#: the (Offence, Severity) strings a prediction of each offence-severity class is written with (the baseline's)
OFFENCE_SEVERITY_STRINGS: tuple[tuple[str, str], ...] = (
    ("No offence", ""),
    ("Offence", "1.0"),
    ("Offence", "3.0"),
    ("Offence", "5.0"),
)
METRIC_KEYS = ("accuracy_offence_severity", "accuracy_action", "balanced_accuracy_offence_severity", "balanced_accuracy_action",
               "leaderboard_value")  # fmt: skip
_NO_OFFENCE = ("No offence", "No Offence")


def prediction_entry(action: int, offence_severity: int) -> dict[str, str]:
    """The official prediction object for class indices ``action`` (0-7) and ``offence_severity`` (0-3)."""
    if not 0 <= action < len(ACTION_CLASSES) or not 0 <= offence_severity < len(OFFENCE_SEVERITY_STRINGS):
        raise ValueError(f"class index out of range: action {action}, offence_severity {offence_severity}")
    offence, severity = OFFENCE_SEVERITY_STRINGS[offence_severity]
    return {"Action class": ACTION_CLASSES[action], "Offence": offence, "Severity": severity}


def predictions_document(predicted: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """``{"Actions": {id: entry}}`` from ``{action id: (action index, offence-severity index)}``."""
    return {"Actions": {str(k): prediction_entry(int(a), int(o)) for k, (a, o) in predicted.items()}}


@dataclass(frozen=True)
class _Counted:
    key: str
    action: int
    offence_severity: int
    offence_raw: str  # the annotated "Offence" string a prediction must equal
    action_raw: str
    severity_expected: str  # the "Severity" string a prediction must equal


def _counted_actions(ground_truth: Mapping[str, Any], where: str) -> list[_Counted]:
    actions = ground_truth.get("Actions") if isinstance(ground_truth, Mapping) else None
    if not isinstance(actions, Mapping):
        raise AdapterError(f"{where}: expected an object with an 'Actions' object")
    out = []
    for key, a in actions.items():
        if not isinstance(a, Mapping) or any(f not in a for f in ("Action class", "Offence", "Severity")):
            raise AdapterError(f"{where}, action {key}: needs 'Action class', 'Offence' and 'Severity'")
        ac, off, sev = a["Action class"], a["Offence"], a["Severity"]
        labels = official_labels(ac, off, sev)  # the skip rules and classes (raises on an unknown value)
        if labels is None:
            continue
        if ac == "Dive":
            expected = "1.0"
        elif sev in ("", "2.0", "4.0"):
            expected = "1.0"
        else:
            expected = sev
        if off in _NO_OFFENCE:
            expected = ""
        out.append(_Counted(str(key), labels[0], labels[1], off, ac, expected))
    return out


def _pred_index(entry: Mapping[str, Any]) -> tuple[int, int]:
    """Class indices of a prediction object (-1 where its strings name no class)."""
    ac = entry.get("Action class")
    action = ACTION_CLASSES.index(ac) if ac in ACTION_CLASSES else -1
    off, sev = entry.get("Offence"), entry.get("Severity")
    if off in _NO_OFFENCE:
        return action, 0
    return action, {"1.0": 1, "3.0": 2, "5.0": 3}.get(sev, -1) if off == "Offence" else -1


def _mean_recall(hits: np.ndarray, support: np.ndarray) -> tuple[float, float]:
    """(mean over all classes, NaN if any has no support; mean over the classes with support)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = hits / support
    official = float(np.mean(recall))
    present = support > 0
    return official, float(np.mean(recall[present])) if present.any() else math.nan


@dataclass
class MVFoulResult:
    """The official metrics (x 100) plus what is needed for reports."""

    metrics: dict[str, float]
    counted: int
    missing: list[str] = field(default_factory=list)  # counted actions without a prediction
    confusion_action: np.ndarray = field(default_factory=lambda: np.zeros((8, 9), np.int64))  # last column: unparsed
    confusion_offence_severity: np.ndarray = field(default_factory=lambda: np.zeros((4, 5), np.int64))
    absent_action_classes: list[str] = field(default_factory=list)
    absent_offence_severity_classes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: metrics rounded (NaN -> null), counts, absent classes."""
        clean = {k: (None if not math.isfinite(v) else round(v, 4)) for k, v in self.metrics.items()}
        return {**clean, "actions_counted": self.counted, "actions_missing": len(self.missing),
                "absent_action_classes": self.absent_action_classes,
                "absent_offence_severity_classes": self.absent_offence_severity_classes}  # fmt: skip


def evaluate_mvfoul(
    ground_truth: Mapping[str, Any], predictions: Mapping[str, Any], *, where: str = "ground truth"
) -> MVFoulResult:
    """Score ``predictions`` against ``ground_truth`` (both parsed official JSON documents) with the official
    rules (module docstring). ``where`` names the ground truth in error messages."""
    counted = _counted_actions(ground_truth, where)
    pred_actions = predictions.get("Actions") if isinstance(predictions, Mapping) else None
    if not isinstance(pred_actions, Mapping):
        raise AdapterError("predictions: expected an object with an 'Actions' object")
    n_a, n_o = len(ACTION_CLASSES), len(OFFENCE_SEVERITY_CLASSES)
    support_a, hits_a = np.zeros(n_a), np.zeros(n_a)
    support_o, hits_o = np.zeros(n_o), np.zeros(n_o)
    conf_a = np.zeros((n_a, n_a + 1), np.int64)
    conf_o = np.zeros((n_o, n_o + 1), np.int64)
    missing = []
    for c in counted:
        support_a[c.action] += 1
        support_o[c.offence_severity] += 1
        p = pred_actions.get(c.key)
        if p is None:
            missing.append(c.key)
            continue
        if not isinstance(p, Mapping) or any(f not in p for f in ("Action class", "Offence", "Severity")):
            raise AdapterError(f"predictions, action {c.key}: needs 'Action class', 'Offence' and 'Severity'")
        if p["Offence"] == c.offence_raw and p["Severity"] == c.severity_expected:
            hits_o[c.offence_severity] += 1
        if p["Action class"] == c.action_raw:
            hits_a[c.action] += 1
        pa, po = _pred_index(p)
        conf_a[c.action, pa] += 1  # -1 -> the last ("unparsed") column
        conf_o[c.offence_severity, po] += 1
    total = len(counted)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_o = float(hits_o.sum() / total) if total else math.nan
        acc_a = float(hits_a.sum() / total) if total else math.nan
    bal_a, bal_a_present = _mean_recall(hits_a, support_a)
    bal_o, bal_o_present = _mean_recall(hits_o, support_o)
    metrics = {
        "accuracy_offence_severity": 100 * acc_o,
        "accuracy_action": 100 * acc_a,
        "balanced_accuracy_offence_severity": 100 * bal_o,
        "balanced_accuracy_action": 100 * bal_a,
        "leaderboard_value": 100 * (0.5 * bal_o + 0.5 * bal_a),
        "balanced_accuracy_offence_severity_present": 100 * bal_o_present,
        "balanced_accuracy_action_present": 100 * bal_a_present,
        "leaderboard_value_present": 100 * (0.5 * bal_o_present + 0.5 * bal_a_present),
    }
    return MVFoulResult(
        metrics=metrics, counted=total, missing=missing, confusion_action=conf_a, confusion_offence_severity=conf_o,
        absent_action_classes=[ACTION_CLASSES[i] for i in range(n_a) if support_a[i] == 0],
        absent_offence_severity_classes=[OFFENCE_SEVERITY_CLASSES[i] for i in range(n_o) if support_o[i] == 0],
    )  # fmt: skip


#: the keys of :attr:`MVFoulResult.metrics` (the official ones and their ``_present`` variants)
METRIC_NAMES: tuple[str, ...] = (
    "accuracy_offence_severity",
    "accuracy_action",
    "balanced_accuracy_offence_severity",
    "balanced_accuracy_action",
    "leaderboard_value",
    "balanced_accuracy_offence_severity_present",
    "balanced_accuracy_action_present",
    "leaderboard_value_present",
)


def read_json(path: str | os.PathLike, what: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise AdapterError(f"{p}: {what} file not found")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AdapterError(f"{p}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e


def evaluate_files(ground_truth_file: str | os.PathLike, predictions_file: str | os.PathLike) -> MVFoulResult:
    """:func:`evaluate_mvfoul` on an ``annotations.json`` and a predictions file (the official call's arguments)."""
    gt = read_json(ground_truth_file, "ground-truth annotations")
    pred = read_json(predictions_file, "predictions")
    try:
        return evaluate_mvfoul(gt, pred, where=str(ground_truth_file))
    except AdapterError as e:
        raise AdapterError(
            str(e).replace("predictions:", f"{predictions_file}:", 1).replace("predictions,", f"{predictions_file},", 1)
        ) from None


def classification_report(confusion: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Per-class precision / recall / F1 / support from a confusion matrix (rows true, columns predicted; an
    extra last column of unparsed predictions counts against recall only), plus macro and weighted means:
    scikit-learn's ``precision_recall_fscore_support`` on the matrix's cells (``zero_division=0``)."""
    from sklearn.metrics import precision_recall_fscore_support

    k = len(classes)
    cm = np.asarray(confusion, dtype=np.int64)
    support = cm.sum(1)
    n = int(support.sum())
    true, pred = np.nonzero(cm)  # one weighted sample per non-empty cell; column k = unparsed, outside ``labels``
    rows: dict[str, Any] = {}
    for name, average in ((None, None), ("macro avg", "macro"), ("weighted avg", "weighted")):
        if n:
            p, r, f, _ = precision_recall_fscore_support(true, pred, labels=np.arange(k), average=average,
                                                         sample_weight=cm[true, pred], zero_division=0)  # fmt: skip
        else:
            p = r = f = np.zeros(k) if average is None else 0.0
        if average is None:
            rows.update({c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
                             "support": int(support[i])} for i, c in enumerate(classes)})  # fmt: skip
        else:
            rows[name] = {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": n}
    rows["accuracy"] = {"value": round(float(np.trace(cm[:, :k]) / n), 4) if n else None, "support": n}
    return rows


def report_text(report: Mapping[str, Any], title: str) -> str:
    """A classification report as a fixed-width table."""
    width = max(len(k) for k in report) + 2
    lines = [title, "", f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, r in report.items():
        if name == "accuracy":
            value = "-" if r["value"] is None else f"{r['value']:.4f}"
            lines.append(f"{name:<{width}}{'':>10}{'':>10}{value:>10}{r['support']:>10}")
        else:
            lines.append(f"{name:<{width}}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1']:>10.4f}{r['support']:>10}")
    return "\n".join(lines) + "\n"
