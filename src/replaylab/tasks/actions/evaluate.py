"""``evaluate@actions``: the official AVA frame-mAP of the trained model's prediction CSVs, per split and class,
next to two baselines that see the same person boxes:

* ``box_prior``: every proposal scores each class with the class's share of the training boxes times the
  proposal's detector score (what a model that knows the label statistics and the detector, but not the video,
  gets);
* ``random``: uniform random scores (mean over 5 seeds): chance.

Ground truth is the split's keyframes as the adapter indexed them (excluded keyframes already removed); it is
also written in the official ground-truth CSV form next to the label map ids, so the official
``get_ava_performance.py`` can be run on ``reports/actions/<split>/`` (``groundtruth.csv``, ``labelmap.pbtxt``)
and ``models/actions/predictions/<split>.csv``. Per-class AP goes to ``metrics/eval_actions.json``,
``reports/actions/<split>/per_class_ap.csv`` (``dvc plots``) and a PNG bar chart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...data.samples import read_csv
from ...evaluation.ava import frame_map, read_ava_csv, write_ava_csv
from ...io import write_csv, write_text
from ...viz.bars import save_bar_chart
from .adapter import DET_COLUMNS, ground_truth_rows, key_of
from .labels import label_map_of
from .trainer import PREDICTIONS_DIR

__all__ = ["box_prior_rows", "evaluate_actions", "random_rows"]

RANDOM_SEEDS = 5


def _proposal_rows(samples) -> list[tuple]:
    out = []
    for s in samples:
        vid, ts = key_of(s)
        for p in s.meta.get("proposals", []):
            out.append((vid, ts, *p[:4], float(p[4])))
    return out


def box_prior_rows(samples, prior: np.ndarray, class_ids: list[int]) -> pd.DataFrame:
    """Detections of the box-prior baseline: each proposal x each class, score = class share x detector score."""
    rows = [(vid, ts, x1, y1, x2, y2, cid, float(prior[c]) * score) for vid, ts, x1, y1, x2, y2, score in _proposal_rows(samples)
            for c, cid in enumerate(class_ids)]  # fmt: skip
    return pd.DataFrame(rows, columns=DET_COLUMNS)


def random_rows(samples, class_ids: list[int], seed: int) -> pd.DataFrame:
    """Detections with uniform random scores (chance)."""
    base = box_prior_rows(samples, np.ones(len(class_ids)), class_ids)
    base["score"] = np.random.default_rng(seed).random(len(base))
    return base


def _labelmap_text(names: dict[int, str]) -> str:
    return "".join(f'label {{\n  name: "{n}"\n  label_id: {i}\n}}\n' for i, n in names.items())


def evaluate_actions(task: str, params) -> dict[str, Any]:
    ev = params.evaluate.actions
    classes_map = label_map_of(params.cache_clips.actions.source)
    class_ids, names = list(classes_map), list(classes_map.values())
    split_dir = Path(params.split.out_dir) / task
    pred_dir = Path(params.train.out_dir) / task / PREDICTIONS_DIR
    out_root = Path(params.evaluate.out_dir) / task
    train = read_csv(split_dir / "train.csv", classes=names).samples
    counts = np.zeros(len(names))
    n_boxes = 0
    for s in train:
        for labels in s.meta["label_index"]:
            counts[list(labels)] += 1
            n_boxes += 1
    prior = counts / max(n_boxes, 1)
    summary: dict[str, Any] = {}
    for split in ev.splits:
        samples = read_csv(split_dir / f"{split}.csv", classes=names).samples
        gt = ground_truth_rows(samples, class_ids)
        pred_path = pred_dir / f"{split}.csv"
        result = frame_map(groundtruth=gt, detections=read_ava_csv(pred_path, kind="detections"), label_map=class_ids)
        prior_map = frame_map(groundtruth=gt, detections=box_prior_rows(samples, prior, class_ids), label_map=class_ids)
        chance = [frame_map(groundtruth=gt, detections=random_rows(samples, class_ids, seed), label_map=class_ids)["mAP"]
                  for seed in range(RANDOM_SEEDS)]  # fmt: skip
        out = out_root / split
        write_ava_csv(out / "groundtruth.csv", gt)
        write_text(out / "labelmap.pbtxt", _labelmap_text(classes_map))
        per_class = {names[k]: _round(result["per_class"][cid]) for k, cid in enumerate(class_ids)}
        prior_class = {names[k]: _round(prior_map["per_class"][cid]) for k, cid in enumerate(class_ids)}
        write_csv(out / "per_class_ap.csv", ["class", "ap", "box_prior_ap", "gt_boxes"],
                  [[n, per_class[n], prior_class[n], int(result["num_gt"][cid])] for n, cid in zip(names, class_ids)])  # fmt: skip
        shown = [n for n in names if per_class[n] is not None]
        save_bar_chart(out / "per_class_ap.png", shown, [per_class[n] for n in shown],
                       title=f"{split}: AP per class (frame-mAP {result['mAP']:.3f}; box prior {prior_map['mAP']:.3f})",
                       xlabel="AP at IoU 0.5")  # fmt: skip
        summary[split] = {
            "frame_map": _round(result["mAP"]),
            "box_prior_frame_map": _round(prior_map["mAP"]),
            "random_frame_map": _round(float(np.mean(chance))),
            "per_class_ap": per_class,
            "box_prior_per_class_ap": prior_class,
            "gt_boxes": {names[k]: int(result["num_gt"][cid]) for k, cid in enumerate(class_ids)},
            "classes_with_gt": sum(v is not None for v in per_class.values()),
            "keyframes": len(samples),
            "predictions": str(pred_path),
        }
        print(f"evaluate@{task} {split}: frame-mAP {result['mAP']:.4f} (box prior {prior_map['mAP']:.4f}, random "
              f"{np.mean(chance):.4f}; {summary[split]['classes_with_gt']} classes with ground truth, {len(samples)} keyframes)")  # fmt: skip
    return summary


def _round(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else round(v, 4)
