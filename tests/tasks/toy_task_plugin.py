"""A complete task outside replaylab, registered through the task registry alone (used by test_plugin.py).

It classifies the recognition clips (UCF101 layout) with a small clip classifier: its own params sections, a
trainer, a loop adapter and an evaluator; nothing in replaylab names it.
"""

from __future__ import annotations

import json
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch.utils.data import DataLoader

from replaylab.params.base import Section
from replaylab.params.data import ClipParams, SplitTaskParams, Ucf101Source
from replaylab.params.train import TrainTaskParams
from replaylab.tasks import TaskSpec, register_task
from replaylab.tasks.training import Trainable


class ToyCache(ClipParams):
    source: Ucf101Source = Ucf101Source(format="ucf101")


class ToyTrain(TrainTaskParams):
    width: float = Field(0.25, gt=0.0, le=1.0)
    monitor: str = "val_accuracy"


class ToyEvaluate(Section):
    split: str = "test"


class ToyAdapter:
    def __init__(self, prefix: str = "val") -> None:
        self.prefix = prefix

    def batch_size_of(self, batch: dict) -> int:
        return int(batch["label"].shape[0])

    def training_loss(self, model, batch, device):
        return F.cross_entropy(model(batch["video"].to(device)).float(), batch["label"].to(device))

    @torch.no_grad()
    def evaluate(self, model, loader, device):
        model.eval()
        rows, loss, n = [], 0.0, 0
        for batch in loader:
            logits = model(batch["video"].to(device)).float()
            loss += float(F.cross_entropy(logits, batch["label"], reduction="sum"))
            n += len(batch["label"])
            rows += [{"label": int(y), "prediction": int(p)} for y, p in zip(batch["label"], logits.argmax(1))]
        acc = sum(r["label"] == r["prediction"] for r in rows) / max(len(rows), 1)
        return {f"{self.prefix}_accuracy": acc, f"{self.prefix}_loss": loss / max(n, 1)}, rows

    def metric_names(self, prefix: str) -> set[str]:
        return {f"{prefix}_accuracy", f"{prefix}_loss"}


class ToyTrainer:
    def dataset_options(self, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def build(self, ctx) -> Trainable:
        from replaylab.models import build_classifier

        spec = ctx.data.spec
        arch = {"num_classes": len(ctx.data.meta["classes"]), "frames": spec["frames"], "size": list(spec["size"])}
        model = build_classifier(backbone="compact3d", num_classes=arch["num_classes"], frames=arch["frames"],
                                 size=tuple(arch["size"]), backbone_options={"width": ctx.cfg.width})  # fmt: skip
        return Trainable(model=model, adapter=ToyAdapter(), identity={"architecture": arch, "width": ctx.cfg.width})

    def finish(self, ctx, trainable, result) -> dict[str, Any]:
        loader = DataLoader(ctx.data.test, batch_size=ctx.cfg.batch_size)
        metrics, rows = ToyAdapter("test").evaluate(trainable.model, loader, torch.device("cpu"))
        (ctx.out_dir / "test_rows.json").write_text(json.dumps(rows))
        return {"test_accuracy": metrics["test_accuracy"], "val_accuracy": result.best_metrics["val_accuracy"]}


def evaluate_toy(task: str, params) -> dict:
    with open(f"{params.train.out_dir}/{task}/test_rows.json") as fh:
        rows = json.load(fh)
    accuracy = sum(r["label"] == r["prediction"] for r in rows) / len(rows)
    return {"split": getattr(params.evaluate, task).split, "clips": len(rows), "accuracy": accuracy}


SPEC = register_task(
    TaskSpec(
        name="toy",
        description="a toy clip classifier",
        package=__name__,
        cache_params=ToyCache,
        split_params=SplitTaskParams(strategy="official"),
        train_params=ToyTrain,
        trainer=ToyTrainer(),
        evaluate_params=ToyEvaluate,
        evaluate=evaluate_toy,
    )  # fmt: skip
)
