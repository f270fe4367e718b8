"""``evaluate@recognition``: top-1, top-5 and mean class accuracy of the trained classifier's prediction CSVs, per
split, with per-class accuracy and the confusion matrix.

Reads ``models/recognition/predictions/<split>.csv`` and ``classes.txt`` (written by ``train@recognition``: the class
names the CSVs' indices refer to) and the split CSVs (the predictions must cover exactly the
split's clips, with the same labels: a stale file is named, not scored). The metrics are recomputed from the
written probabilities with scikit-learn (:func:`.adapter.scores`: ``accuracy_score``, ``top_k_accuracy_score`` with
``k = min(5, classes)``, ``balanced_accuracy_score``, ``confusion_matrix``), next to the majority-class baseline
(always the most frequent training class). Writes ``reports/recognition/<split>/``: ``confusion.csv`` (``actual,
predicted`` class names, for ``dvc plots``), ``confusion.png``, ``per_class_accuracy.csv`` (class, clips, correct,
accuracy) and ``per_class_accuracy.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from ...data.samples import AdapterError, read_csv
from ...io import write_csv
from ...tables import read_table
from ...viz.bars import save_bar_chart
from ...viz.confusion import confusion_png
from .adapter import probabilities_of, scores, top_k_of
from .trainer import CLASSES_FILE, PREDICTION_COLUMNS, PREDICTIONS_DIR, confusion_rows

__all__ = ["evaluate_recognition", "read_predictions", "trained_classes"]


def trained_classes(pred_dir: Path) -> list[str]:
    """The class names the prediction CSVs' indices refer to (``classes.txt`` of ``train@recognition``)."""
    path = pred_dir / CLASSES_FILE
    if not path.is_file():
        raise AdapterError(f"{path}: not found (run train@recognition)")
    classes = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(classes) < 2:
        raise AdapterError(f"{path}: needs at least two class names, one a line")
    return classes


def read_predictions(path: Path, n_classes: int) -> tuple[list[dict], np.ndarray]:
    """Prediction rows (labels and predictions as ints) and their (N, K) probabilities; errors name the file and row."""
    try:
        table = read_table(path, what="predictions file")
    except ValueError as e:
        raise AdapterError(f"{e} (run train@recognition)") from None
    missing = [c for c in PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise AdapterError(f"{path}: missing columns {missing}")
    rows = table.to_dict("records")
    for n, r in enumerate(rows, start=2):
        try:
            r["label"], r["prediction"] = int(r["label"]), int(r["prediction"])
        except ValueError:
            raise AdapterError(f"{path}, row {n}: label and prediction must be class indices") from None
        if not (0 <= r["label"] < n_classes and 0 <= r["prediction"] < n_classes):
            raise AdapterError(f"{path}, row {n}: class index outside 0..{n_classes - 1}")
    try:
        probs = probabilities_of(rows, n_classes, where=str(path))
    except ValueError as e:
        raise AdapterError(str(e)) from None
    return rows, probs


def _check_split(rows: list[dict], split_csv: Path, path: Path, classes: list[str]) -> list:
    samples = read_csv(split_csv, classes=classes).samples
    want = {s.sample_id: s.label for s in samples}
    got = {r["sample_id"]: r["label"] for r in rows}
    if set(want) != set(got) or len(got) != len(rows):
        extra, lost = sorted(set(got) - set(want)), sorted(set(want) - set(got))
        raise AdapterError(f"{path}: its clips differ from {split_csv} ({len(lost)} missing, e.g. {lost[:3]}; {len(extra)} "
                           f"not in the split, e.g. {extra[:3]}; or repeated ids): train@recognition again")  # fmt: skip
    wrong = next((k for k, v in got.items() if want[k] != v), None)
    if wrong is not None:
        raise AdapterError(f"{path}: clip {wrong} has label {got[wrong]}, the split says {want[wrong]}")
    return samples


def _round(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else round(v, 4)


def evaluate_split(
    rows: list[dict], probs: np.ndarray, classes: list[str], *, majority: int, out: Path, split: str
) -> dict[str, Any]:
    """The metrics of one split (returned) and its report files (written to ``out``)."""
    k = len(classes)
    labels = np.asarray([r["label"] for r in rows], np.int64)
    preds = np.asarray([r["prediction"] for r in rows], np.int64)
    result = scores(labels, probs, preds)
    cm = skm.confusion_matrix(labels, preds, labels=np.arange(k)) if len(rows) else np.zeros((k, k), np.int64)
    clips, correct = cm.sum(1), np.diag(cm)
    per_class = {c: (_round(correct[i] / clips[i]) if clips[i] else None) for i, c in enumerate(classes)}
    write_csv(out / "confusion.csv", ["actual", "predicted"], confusion_rows(rows, classes))
    confusion_png(out / "confusion.png", cm, classes, classes,
                  title=f"{split}: {len(rows)} clips, top-1 {result['top1']:.3f}")  # fmt: skip
    write_csv(out / "per_class_accuracy.csv", ["class", "clips", "correct", "accuracy"],
              [[c, int(clips[i]), int(correct[i]), "" if per_class[c] is None else per_class[c]] for i, c in enumerate(classes)])  # fmt: skip
    shown = [c for c in classes if per_class[c] is not None]
    save_bar_chart(out / "per_class_accuracy.png", shown, [per_class[c] for c in shown],
                   title=f"{split}: accuracy per class (mean {result['mean_class_accuracy']:.3f})", xlabel="accuracy")  # fmt: skip
    base = np.full(len(labels), majority)
    return {
        **{m: _round(v) for m, v in result.items()},
        "top5_k": top_k_of(k),
        "majority_top1": _round(skm.accuracy_score(labels, base)) if len(rows) else None,
        "majority_mean_class_accuracy": _round(scores(labels, np.eye(k)[base], base)["mean_class_accuracy"])
        if len(rows)
        else None,
        "clips": len(rows),
        "classes_with_clips": int((clips > 0).sum()),
        "per_class_accuracy": per_class,
    }


def evaluate_recognition(task: str, params) -> dict[str, Any]:
    ev = getattr(params.evaluate, task)
    model_dir = Path(params.train.out_dir) / task
    split_dir = Path(params.split.out_dir) / task
    out_root = Path(params.evaluate.out_dir) / task
    classes = trained_classes(model_dir / PREDICTIONS_DIR)
    train = read_csv(split_dir / "train.csv", classes=classes).samples
    counts = np.bincount([s.label for s in train], minlength=len(classes))
    majority = int(np.argmax(counts))
    summary: dict[str, Any] = {"classes": len(classes), "majority_class": classes[majority]}
    for split in ev.splits:
        path = model_dir / PREDICTIONS_DIR / f"{split}.csv"
        rows, probs = read_predictions(path, len(classes))
        _check_split(rows, split_dir / f"{split}.csv", path, classes)
        summary[split] = evaluate_split(rows, probs, classes, majority=majority, out=out_root / split, split=split)
        summary[split]["predictions"] = str(path)
        s = summary[split]
        print(f"evaluate@{task} {split}: top-1 {s['top1']}, top-{s['top5_k']} {s['top5']}, mean class accuracy "
              f"{s['mean_class_accuracy']} (majority class: top-1 {s['majority_top1']}; {s['clips']} clips)")  # fmt: skip
    return summary
