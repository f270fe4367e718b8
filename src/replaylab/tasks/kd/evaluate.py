"""``evaluate@kd``: every row of the distillation table recomputed from ``train@kd``'s prediction CSVs.

Rows: ``fusion`` (student + converters + fusion head: what runs at test time), ``student`` (the student's features
alone, same head recipe) and ``teacher_<key>`` (a teacher's features alone: the upper reference, not available at
test time). Per row and split: top-1, top-5, mean class accuracy, per-class accuracy and the confusion matrix
(``reports/kd/<row>/<split>/``), as ``evaluate@recognition`` computes them; ``gain_over_student`` is the
fusion's top-1 minus the student's. The converters' R^2 / cosine come from ``models/kd/converters.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ...data.samples import read_csv
from ..recognition.evaluate import _check_split, evaluate_split, read_predictions, trained_classes
from ..recognition.trainer import PREDICTIONS_DIR
from .trainer import CONVERTERS_FILE, REFERENCE_DIR, reference_rows

__all__ = ["evaluate_kd"]


def evaluate_kd(task: str, params) -> dict[str, Any]:
    ev = getattr(params.evaluate, task)
    model_dir = Path(params.train.out_dir) / task
    split_dir = Path(params.split.out_dir) / "recognition"
    out_root = Path(params.evaluate.out_dir) / task
    classes = trained_classes(model_dir / PREDICTIONS_DIR)
    train = read_csv(split_dir / "train.csv", classes=classes).samples
    majority = int(np.argmax(np.bincount([s.label for s in train], minlength=len(classes))))
    conv = json.loads((model_dir / CONVERTERS_FILE).with_suffix(".json").read_text())
    teachers = list(conv["teacher_dims"])  # what train@kd was trained with (not today's params)
    refs = [
        r for r in reference_rows(SimpleNamespace(teachers=teachers, references=True)) if (model_dir / REFERENCE_DIR / r).is_dir()
    ]
    rows = {"fusion": model_dir, **{r: model_dir / REFERENCE_DIR / r for r in refs}}
    summary: dict[str, Any] = {"classes": len(classes), "teachers": teachers}
    for row, where in rows.items():
        summary[row] = {}
        for split in ev.splits:
            path = where / PREDICTIONS_DIR / f"{split}.csv"
            preds, probs = read_predictions(path, len(classes))
            _check_split(preds, split_dir / f"{split}.csv", path, classes)
            summary[row][split] = evaluate_split(
                preds, probs, classes, majority=majority, out=out_root / row / split, split=split
            )
            summary[row][split]["predictions"] = str(path)
    summary["converters"] = {t: {s: {k: round(float(v), 4) for k, v in conv["metrics"][s][t].items()} for s in conv["metrics"]}
                             for t in teachers}  # fmt: skip
    for split in ev.splits:
        if "student" in summary:
            summary.setdefault("gain_over_student", {})[split] = round(
                summary["fusion"][split]["top1"] - summary["student"][split]["top1"], 4
            )
        line = ", ".join(f"{r} {summary[r][split]['top1']}" for r in rows)
        print(f"evaluate@{task} {split} top-1: {line}")
    return summary
