"""``evaluate@foul``: the official SoccerNet-MVFoul metrics of the trained model's prediction files, per split,
with confusion matrices (CSV for ``dvc plots``, PNG) and classification reports (JSON, text).

Ground truth is the split's official ``annotations.json`` (``<source.root>/<valid|test>/annotations.json``).
When a split is not an official split as a whole (a validation split carved out of train), the annotations
are limited to the split's actions, and the summary says so (``ground_truth_filtered``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.adapters.mvfoul import ACTION_CLASSES, OFFENCE_SEVERITY_CLASSES
from ...data.samples import AdapterError, read_csv
from ...data.sources import MVFOUL_SPLIT
from ...evaluation.mvfoul import classification_report, evaluate_mvfoul, read_json, report_text
from ...io import write_csv, write_json, write_text
from ...viz.confusion import confusion_png
from .adapter import PREDICTIONS_DIR

UNPARSED = "(other)"


def ground_truth_for(
    split_csv: Path, source_root: Path, *, split: str, official_strategy: bool
) -> tuple[dict[str, Any], Path, bool]:
    """(ground-truth document, its annotations.json, whether it was limited to the split's actions). The whole
    file is used when the split is an official split kept whole (``official_strategy`` and ``split`` is the
    official split the actions come from: val = valid, test = test)."""
    index = read_csv(split_csv, classes=ACTION_CLASSES)
    dirs = sorted({str(s.meta.get("split", "")) for s in index.samples})
    if len(dirs) != 1 or not dirs[0]:
        raise AdapterError(f"{split_csv}: the actions come from the official splits {dirs}; the official format scores one "
                           f"split directory at a time (use split.foul.strategy: official)")  # fmt: skip
    path = source_root / dirs[0] / "annotations.json"
    doc = read_json(path, "ground-truth annotations")
    ids = {str(s.meta.get("action_id")) for s in index.samples}
    actions = doc.get("Actions") if isinstance(doc, dict) else None
    if not isinstance(actions, dict):
        raise AdapterError(f"{path}: expected an object with an 'Actions' object")
    unknown = sorted(ids - set(actions), key=lambda k: (len(k), k))
    if unknown:
        raise AdapterError(f"{split_csv}: actions {unknown[:5]} are not in {path} (a stale split or cache?)")
    if official_strategy and MVFOUL_SPLIT.get(dirs[0]) == split:
        return doc, path, False
    return {**doc, "Actions": {k: v for k, v in actions.items() if k in ids}}, path, True


def _confusion_rows(matrix, rows: list[str], cols: list[str]) -> list[list[str]]:
    return [[rows[i], cols[j]] for i in range(len(rows)) for j in range(len(cols)) for _ in range(int(matrix[i, j]))]


def write_reports(result, out_dir: Path, split: str) -> None:
    """Confusion matrices (CSV rows ``actual, predicted``; PNG) and classification reports of one split."""
    heads = (("action", ACTION_CLASSES, result.confusion_action), ("offence_severity", OFFENCE_SEVERITY_CLASSES,
             result.confusion_offence_severity))  # fmt: skip
    reports, texts = {}, []
    for name, classes, cm in heads:
        cols = [*classes, UNPARSED]
        keep = cols if cm[:, -1].any() else list(classes)
        write_csv(
            out_dir / f"confusion_{name}.csv", ["actual", "predicted"], _confusion_rows(cm[:, : len(keep)], list(classes), keep)
        )
        confusion_png(out_dir / f"confusion_{name}.png", cm[:, : len(keep)], list(classes), keep,
                      title=f"{split}: {name.replace('_', '-')} ({int(cm.sum())} actions)")  # fmt: skip
        reports[name] = classification_report(cm, classes)
        texts.append(report_text(reports[name], f"{split} - {name.replace('_', '-')} (class indices; official hits in metrics)"))
    write_json(out_dir / "classification_report.json", reports)
    write_text(out_dir / "classification_report.txt", "\n".join(texts))


def evaluate_foul(task: str, params) -> dict:
    ev = params.evaluate.foul
    source_root = Path(params.cache_clips.foul.source.root)
    pred_dir = Path(params.train.out_dir) / task / PREDICTIONS_DIR
    out_root = Path(params.evaluate.out_dir) / task
    official = params.split.foul.strategy == "official"
    summary: dict[str, Any] = {}
    for split in ev.splits:
        split_csv = Path(params.split.out_dir) / task / f"{split}.csv"
        gt, gt_path, filtered = ground_truth_for(split_csv, source_root, split=split, official_strategy=official)
        pred_path = pred_dir / f"{split}.json"
        result = evaluate_mvfoul(gt, read_json(pred_path, "predictions"), where=str(gt_path))
        write_reports(result, out_root / split, split)
        summary[split] = {**result.summary(), "ground_truth": str(gt_path), "ground_truth_filtered": filtered,
                          "predictions": str(pred_path)}  # fmt: skip
        m = result.metrics
        print(f"evaluate@{task} {split}: leaderboard {m['leaderboard_value']:.2f}  balanced accuracy action "
              f"{m['balanced_accuracy_action']:.2f}  offence-severity {m['balanced_accuracy_offence_severity']:.2f}  "
              f"({result.counted} actions, {len(result.missing)} without a prediction)")  # fmt: skip
    return summary
