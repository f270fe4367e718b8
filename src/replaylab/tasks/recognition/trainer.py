"""``train@recognition``: the plain clip classifier on the recognition clip cache.

``input: video``: a registry backbone (``compact3d`` from scratch, or ``pretrained`` weights fine-tuned per
``finetune_mode``) + pooling head on the cached clips; ``input: features``: the head alone
(:class:`~replaylab.features.heads.PooledClassifier`) on ``featurize@recognition``'s stored features of a frozen
backbone. The epoch is selected on ``monitor`` (default ``val_top1``); the selected checkpoint then scores val and
test once and writes ``models/recognition/predictions/{val,test}.csv`` and ``classes.txt`` (the class names the
CSVs' indices refer to; what ``evaluate@recognition`` reads) and
the confusion rows of each split, ``models/recognition/plots/{val,test}/confusion.csv`` (``actual, predicted``
class names, the ``dvc plots`` confusion form).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from ...io import write_csv, write_text
from ...training import build_loss
from ..training import Trainable, TrainContext, round_metric
from .adapter import RecognitionTask

__all__ = ["CLASSES_FILE", "PREDICTIONS_DIR", "PREDICTION_COLUMNS", "RecognitionTrainer", "confusion_rows"]

PREDICTIONS_DIR = "predictions"
CLASSES_FILE = "classes.txt"  # in PREDICTIONS_DIR: the class names the indices of the CSVs refer to, one a line
PREDICTION_COLUMNS = ["sample_id", "label", "prediction", "top5", "probabilities"]


def confusion_rows(rows: list[dict], classes: list[str]) -> list[list[str]]:
    """``actual, predicted`` class names, one row per clip."""
    return [[classes[int(r["label"])], classes[int(r["prediction"])]] for r in rows]


class RecognitionTrainer:
    def dataset_options(self, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def build(self, ctx: TrainContext) -> Trainable:
        from ...models import build_classifier, param_groups, set_finetune_mode

        cfg, data = ctx.cfg, ctx.data
        classes = list(data.meta["classes"])
        spec, feats = data.spec, ctx.features
        if feats is None:
            arch = {"backbone": cfg.backbone, "num_classes": len(classes), "frames": spec["frames"], "size": list(spec["size"]),
                    "dropout": cfg.dropout, "backbone_options": dict(cfg.backbone_options), "head_norm": cfg.head_norm}  # fmt: skip
            model = build_classifier(**{**arch, "size": tuple(arch["size"])}, pretrained=cfg.pretrained)
            set_finetune_mode(model, mode=cfg.finetune_mode, partial_blocks=cfg.partial_blocks)
        else:  # the frozen backbone of the feature store; only the head trains, on the stored features
            from ...features.heads import PooledClassifier

            arch = {"backbone": feats["backbone"], "num_classes": len(classes), "frames": feats["frames"],
                    "size": list(feats["size"]), "dropout": cfg.dropout, "backbone_options": dict(feats["backbone_options"]),
                    "head_norm": cfg.head_norm}  # fmt: skip
            full = build_classifier(**{**arch, "size": tuple(arch["size"])})  # the same initial head as in video mode
            model = PooledClassifier(full.head)
        tcfg = ctx.tcfg
        groups = param_groups(model, lr_backbone=tcfg.lr_backbone, lr_head=tcfg.lr_head, weight_decay=tcfg.weight_decay)
        counts = np.bincount(np.asarray(data.train.labels, np.int64), minlength=len(classes)).tolist()
        adapter = RecognitionTask(build_loss(tcfg, class_counts=counts), num_classes=len(classes))
        return Trainable(model=model, adapter=adapter, param_groups=groups, class_counts=counts,
                         identity={"architecture": arch, "classes": classes, "normalisation": ctx.norm,
                                   **({"features": feats} if feats else {})},
                         resolved={"classes": classes, "model": arch},
                         summary={"classes": len(classes)})  # fmt: skip

    def finish(self, ctx: TrainContext, trainable: Trainable, result) -> dict[str, Any]:
        adapter: RecognitionTask = trainable.adapter
        model, out_dir, cfg = trainable.model, ctx.out_dir, ctx.cfg
        classes = list(ctx.data.meta["classes"])
        device = next(model.parameters()).device
        scored: dict[str, dict[str, float]] = {}
        write_text(out_dir / PREDICTIONS_DIR / CLASSES_FILE, "".join(f"{c}\n" for c in classes))
        for name, ds in (("val", ctx.data.val), ("test", ctx.data.test)):
            loader = DataLoader(ds, batch_size=cfg.batch_size, num_workers=0)
            metrics, rows = adapter.for_prefix(name).evaluate(model, loader, device)
            scored[name] = {k.removeprefix(f"{name}_"): v for k, v in metrics.items()}
            write_csv(
                out_dir / PREDICTIONS_DIR / f"{name}.csv", PREDICTION_COLUMNS, [[r[c] for c in PREDICTION_COLUMNS] for r in rows]
            )
            write_csv(out_dir / "plots" / name / "confusion.csv", ["actual", "predicted"], confusion_rows(rows, classes))
        print(f"train@{ctx.spec.name}: best epoch {result.best_epoch} of {result.epochs_run}, val top-1 "
              f"{scored['val']['top1']:.4f}, test top-1 {scored['test']['top1']:.4f}, test mean class accuracy "
              f"{scored['test']['mean_class_accuracy']:.4f}")  # fmt: skip
        return {
            "val": {k: round_metric(v) for k, v in scored["val"].items()},
            "test": {k: round_metric(v) for k, v in scored["test"].items()},
            "clips": {"train": len(ctx.data.train), "val": len(ctx.data.val), "test": len(ctx.data.test)},
        }
