"""``train@header``: the clip classifier (registry backbone + pooling head) on the header clip cache.

Targets are binary (no_header, header) or one class per event type (``targets: event_types``: ``header`` and
each kind of look-alike, refined by subtype where the adapter gives one, e.g. ``kick/volley``); the header
probability is the softmax of the ``header`` column either way. The test split is scored once with the
selected checkpoint; ROC / PR / confusion files go to ``models/header/plots/`` (val) and ``plots/test/``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ...data.dataset import ClipDataset
from ...training import build_loss
from ..training import Trainable, TrainContext, round_metric
from .adapter import HeaderTask, confusion, write_plot_files


def event_targets(ds: ClipDataset, task: str) -> tuple[torch.Tensor, list[str]]:
    """The kind of event of every training clip, as class ids, and the sorted kinds (``header`` included)."""
    missing = next((s.sample_id for s in ds.index.samples if not s.meta.get("event")), None)
    if missing is not None:
        raise ValueError(f"train.{task}.targets: event_types needs an event type for every clip; {missing} has none "
                         f"(use targets: binary)")  # fmt: skip
    kind = [s.meta.get("kind") or s.meta["event"] for s in ds.index.samples]
    kinds = sorted(set(kind) | {"header"})
    return torch.tensor([kinds.index(k) for k in kind]), kinds


def crop_settings(source) -> dict:
    """How the training clips were cropped, so inference (``replaylab detect``) cuts the same clips."""
    if source.format == "matches":
        return {"crop_on": source.crop_on, "track_smooth_s": source.track_smooth_s}
    return {"crop_on": "precut", "track_smooth_s": 0.0}


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [{"sample_id": r["sample_id"], "label": int(r["label"]), "probability": float(r["probability"]),
                 "prediction": int(r["prediction"])} for r in csv.DictReader(fh)]  # fmt: skip


class HeaderTrainer:
    def dataset_options(self, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def build(self, ctx: TrainContext) -> Trainable:
        from ...models import build_classifier, param_groups, set_finetune_mode

        cfg, data, task = ctx.cfg, ctx.data, ctx.spec.name
        if cfg.targets == "event_types":
            targets, kinds = event_targets(data.train, task)
            positive = kinds.index("header")
        else:
            targets, kinds, positive = None, list(data.meta["classes"]), 1
        spec, feats = data.spec, ctx.features
        if feats is None:
            arch = {"backbone": cfg.backbone, "num_classes": len(kinds), "frames": spec["frames"], "size": list(spec["size"]),
                    "dropout": cfg.dropout, "backbone_options": dict(cfg.backbone_options), "head_norm": cfg.head_norm}  # fmt: skip
            model = build_classifier(**{**arch, "size": tuple(arch["size"])}, pretrained=cfg.pretrained)
            set_finetune_mode(model, mode=cfg.finetune_mode, partial_blocks=cfg.partial_blocks)
        else:  # the frozen backbone of the feature store; only the head trains, on the stored features
            from ...features.heads import PooledClassifier

            arch = {"backbone": feats["backbone"], "num_classes": len(kinds), "frames": feats["frames"],
                    "size": list(feats["size"]), "dropout": cfg.dropout, "backbone_options": dict(feats["backbone_options"]),
                    "head_norm": cfg.head_norm}  # fmt: skip
            full = build_classifier(**{**arch, "size": tuple(arch["size"])})  # the same initial head as in video mode
            model = PooledClassifier(full.head)
        tcfg = ctx.tcfg
        groups = param_groups(model, lr_backbone=tcfg.lr_backbone, lr_head=tcfg.lr_head, weight_decay=tcfg.weight_decay)
        train_labels = targets.numpy() if targets is not None else data.train.labels
        counts = np.bincount(train_labels, minlength=len(kinds)).tolist()
        adapter = HeaderTask(
            build_loss(tcfg, class_counts=counts), threshold=cfg.threshold, positive=positive, train_targets=targets
        )
        crop = crop_settings(getattr(ctx.params.cache_clips, task).source)
        return Trainable(model=model, adapter=adapter, param_groups=groups, class_counts=counts,
                         identity={"architecture": arch, "classes": kinds, "normalisation": ctx.norm, "crop": crop,
                                   **({"features": feats} if feats else {})},
                         resolved={"classes": kinds, "crop": crop})  # fmt: skip

    def finish(self, ctx: TrainContext, trainable: Trainable, result) -> dict[str, Any]:
        adapter: HeaderTask = trainable.adapter
        model, out_dir, cfg = trainable.model, ctx.out_dir, ctx.cfg
        device = next(model.parameters()).device
        tester = HeaderTask(adapter.loss, threshold=cfg.threshold, positive=adapter.positive, prefix="test")
        loader = DataLoader(ctx.data.test, batch_size=cfg.batch_size, num_workers=0)
        test_metrics, test_rows = tester.evaluate(model, loader, device)
        write_plot_files(read_rows(out_dir / "val_predictions.csv"), out_dir / "plots")
        write_plot_files(test_rows, out_dir / "plots" / "test")
        print(f"train@{ctx.spec.name}: best epoch {result.best_epoch} of {result.epochs_run}, "
              f"val AUROC {result.best_metrics.get('val_auroc', float('nan')):.3f}, test AUROC {test_metrics['test_auroc']:.3f}")  # fmt: skip
        return {
            "val": {k.removeprefix("val_"): round_metric(v) for k, v in result.best_metrics.items()},
            "test": {k.removeprefix("test_"): round_metric(v) for k, v in test_metrics.items()},
            "test_confusion": confusion(test_rows),
            "clips": {"train": len(ctx.data.train), "val": len(ctx.data.val), "test": len(ctx.data.test)},
        }
