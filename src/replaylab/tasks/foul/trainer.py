"""``train@foul``: the multi-view network (shared registry backbone per view, view aggregation, two heads).

Training draws ``train.foul.views`` random views of each action; evaluation sees every view. The epoch is
selected on val with the official rules; the selected checkpoint then writes the official-format
prediction files ``models/foul/predictions/{val,test}.json`` (what ``evaluate@foul`` scores) and the test
split's prediction rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from ...data.adapters.mvfoul import ACTION_CLASSES, OFFENCE_SEVERITY_CLASSES
from ...io import write_json
from ...training import build_loss
from ...training.records import write_rows
from ..training import Trainable, TrainContext, round_metric
from .adapter import PREDICTIONS_DIR, TARGET_KEY, FoulTask, check_one_official_split, predicted_document


def model_spec(cfg, spec: dict, *, features: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything :func:`replaylab.models.build_multiview` needs to rebuild the trained network (with
    ``features``, a feature-store model's identity: its frozen backbone at its input size)."""
    if features is not None:
        backbone, options = features["backbone"], dict(features["backbone_options"])
        frames, size = int(features["frames"]), list(features["size"])
    else:
        backbone, options, frames, size = cfg.backbone, dict(cfg.backbone_options), int(spec["frames"]), list(spec["size"])
    return {"backbone": backbone, "backbone_options": options, "aggregation": cfg.aggregation, "hidden": cfg.hidden,
            "dropout": cfg.dropout, "frames": frames, "size": size}  # fmt: skip


class FoulTrainer:
    def dataset_options(self, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"views": cfg.views, "target_keys": (TARGET_KEY,)}, {"target_keys": (TARGET_KEY,)}

    def build(self, ctx: TrainContext) -> Trainable:
        from ...models import param_groups, set_finetune_mode
        from ...models.multiview import build_multiview

        cfg, data, task = ctx.cfg, ctx.data, ctx.spec.name
        if list(data.meta["classes"]) != ACTION_CLASSES:
            raise SystemExit(f"train@{task}: {data.cache} has classes {data.meta['classes']}, expected the MVFoul action classes")
        for name, ds in (("val", data.val), ("test", data.test)):
            check_one_official_split(ds, name)
        feats = ctx.features
        arch = model_spec(cfg, data.spec, features=feats)
        if feats is None:
            model = build_multiview(**arch, view_chunk=cfg.view_chunk, pretrained=cfg.pretrained)
            set_finetune_mode(model, mode=cfg.finetune_mode, partial_blocks=cfg.partial_blocks)
        else:  # the frozen backbone of the feature store; only the view aggregation and heads train
            from ...features.heads import PooledMultiView

            model = PooledMultiView(build_multiview(**arch).head)  # the same initial head as in video mode
        tcfg = ctx.tcfg
        groups = param_groups(model, lr_backbone=tcfg.lr_backbone, lr_head=tcfg.lr_head, weight_decay=tcfg.weight_decay)
        action_counts = np.bincount(data.train.labels, minlength=len(ACTION_CLASSES)).tolist()
        offence_counts = np.bincount([s.meta[TARGET_KEY] for s in data.train.index.samples],
                                     minlength=len(OFFENCE_SEVERITY_CLASSES)).tolist()  # fmt: skip
        adapter = FoulTask(build_loss(tcfg, class_counts=action_counts), build_loss(tcfg, class_counts=offence_counts),
                           action_weight=cfg.action_loss_weight, offence_weight=cfg.offence_loss_weight)  # fmt: skip
        source = getattr(ctx.params.cache_clips, task).source
        inputs = {"cache": data.spec, "norm": ctx.norm, "center_frame": source.center_frame, "source_fps": source.source_fps}
        if feats is not None:  # `replaylab predict-fouls` rebuilds the frozen backbone from this, then loads the heads
            inputs["features"] = feats
        classes = {"action": ACTION_CLASSES, "offence_severity": OFFENCE_SEVERITY_CLASSES}
        # best.pt carries the identity, so `replaylab predict-fouls` can rebuild the model and its input from it
        return Trainable(model=model, adapter=adapter, param_groups=groups, class_counts=action_counts,
                         identity={"architecture": arch, "inputs": inputs, "classes": classes},
                         resolved={"model": arch, "inputs": inputs, "classes": classes,
                                   "class_counts": {"action": action_counts, "offence_severity": offence_counts}},
                         summary={"aggregation": cfg.aggregation})  # fmt: skip

    def finish(self, ctx: TrainContext, trainable: Trainable, result) -> dict[str, Any]:
        adapter: FoulTask = trainable.adapter
        model, out_dir, cfg = trainable.model, ctx.out_dir, ctx.cfg
        device = next(model.parameters()).device
        scored: dict[str, dict[str, float]] = {}
        for name, ds in (("val", ctx.data.val), ("test", ctx.data.test)):
            tester = FoulTask(adapter.action_loss, adapter.offence_loss, prefix=name)
            metrics, rows = tester.evaluate(model, DataLoader(ds, batch_size=cfg.batch_size, num_workers=0), device)
            scored[name] = {k.removeprefix(f"{name}_"): v for k, v in metrics.items()}
            write_json(out_dir / PREDICTIONS_DIR / f"{name}.json", predicted_document(rows))
            if name == "test":
                write_rows(out_dir / "test_predictions.csv", rows)
        t = scored["test"]
        print(f"train@{ctx.spec.name}: best epoch {result.best_epoch} of {result.epochs_run}, val leaderboard "
              f"{scored['val']['leaderboard_value']:.2f}, test leaderboard {t['leaderboard_value']:.2f} (balanced accuracy "
              f"action {t['balanced_accuracy_action']:.2f}, offence-severity {t['balanced_accuracy_offence_severity']:.2f})")  # fmt: skip
        return {
            "val": {k: round_metric(v) for k, v in scored["val"].items()},
            "test": {k: round_metric(v) for k, v in t.items()},
            "actions": {"train": len(ctx.data.train), "val": len(ctx.data.val), "test": len(ctx.data.test)},
        }
