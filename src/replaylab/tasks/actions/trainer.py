"""``train@actions``: the person-action ROI head (+ optional IA) on a backbone map or the feature store's maps.

Default (``input: features``): the frozen Kinetics-400 I3D's stored maps (``featurize@actions`` with
``store_maps: true``); only :class:`~.model.ActionHead` trains. ``input: video``: a registry backbone
(``i3d``, ``slowfast_r50``, ...) runs on the cached clips every step (``frozen_bn`` keeps its BatchNorm fixed).
The learning rate is ``lr * world_size * batch_size / reference_batch`` (the linear scaling rule); the
schedule is AlphAction's (linear warmup from ``warmup_factor`` over ``warmup_iters`` steps, then ``gamma`` at each
of ``milestones``, in optimiser steps). The epoch is selected on the val frame-mAP; the selected checkpoint
then writes ``models/actions/predictions/{val,test}.csv`` in the official AVA format (what ``evaluate@actions``
scores).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ...training.distributed import world_size
from ..training import Trainable, TrainContext, round_metric
from .adapter import DECIMALS, DET_COLUMNS, ActionsTask, BoxSettings, key_of
from .boxes import to_rois
from .labels import label_ids

__all__ = [
    "ActionsTrainer",
    "PREDICTIONS_DIR",
    "architecture",
    "backbone_input",
    "build_input_backbone",
    "map_geometry",
    "memory_banks",
    "scaled_lr",
]

PREDICTIONS_DIR = "predictions"


def scaled_lr(lr: float, *, batch_size: int, reference_batch: int, world: int) -> float:
    """The linear scaling rule: ``lr`` is the rate for a global batch of ``reference_batch``."""
    return float(lr) * world * batch_size / reference_batch


def map_geometry(backbone: str, *, frames: int, size: list[int], options: dict[str, Any],
                 built: nn.Module | None = None) -> tuple[int, int]:  # fmt: skip
    """(channels, spatial stride) of a registry backbone's map for this input; ``built``: that backbone, already
    built for this input (probed instead of building another)."""
    from ...models import build_backbone

    probe = built if built is not None else build_backbone(backbone, frames=frames, size=tuple(size), **options)
    _, sh, sw = probe.feature_strides
    if sh != sw:
        raise SystemExit(
            f"train.actions: backbone {backbone} has unequal spatial strides {sh} x {sw}; the ROI head needs equal ones"
        )
    return int(probe.feature_dim), int(sh)


def backbone_input(cfg, *, spec: dict, features: dict[str, Any] | None) -> dict[str, Any]:
    """The backbone and its input: ``backbone``, ``backbone_options``, ``frames``, ``size`` (the feature store
    model's with ``features``, else ``train.actions``'s on the clip cache's clips)."""
    if features is not None:
        backbone, options = features["backbone"], dict(features["backbone_options"])
        frames, size = int(features["frames"]), [int(s) for s in features["size"]]
    else:
        backbone, options = cfg.backbone, dict(cfg.backbone_options)
        if cfg.frozen_bn:
            options.setdefault("bn_frozen", True)
        frames, size = int(spec["frames"]), [int(s) for s in spec["size"]]
    return {"backbone": backbone, "backbone_options": options, "frames": frames, "size": size}


def build_input_backbone(inp: dict[str, Any]) -> nn.Module:
    """The registry backbone of :func:`backbone_input`'s ``inp`` (random weights)."""
    from ...models import build_backbone

    return build_backbone(inp["backbone"], frames=inp["frames"], size=tuple(inp["size"]), **inp["backbone_options"])


def architecture(cfg, *, num_classes: int, spec: dict, features: dict[str, Any] | None, memory_dim: int | None,
                 backbone: nn.Module | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything :func:`.model.build_detector` needs (and what identifies the model). ``backbone``: the backbone
    of :func:`backbone_input`, already built (video mode: the detector's own), probed for the map's channels and
    stride instead of building one."""
    inp = backbone_input(cfg, spec=spec, features=features)
    channels, stride = map_geometry(inp["backbone"], frames=inp["frames"], size=inp["size"], options=inp["backbone_options"],
                                    built=backbone)  # fmt: skip
    ia = cfg.ia.model_dump() if cfg.ia.active else None
    return {**inp, "channels": channels, "spatial_stride": stride, "num_classes": int(num_classes),
            "roi": cfg.roi.model_dump(), "dropout": float(cfg.dropout), "ia": ia,
            "memory_dim": memory_dim if ia and "M" in ia["blocks"] else None}  # fmt: skip


def memory_banks(maps: np.ndarray, row_of: dict[str, int], splits: dict[str, Any], *, size: list[int], stride: int,
                 roi: dict[str, Any], span_s: int, per_sec: int) -> dict[str, Any]:  # fmt: skip
    """One :class:`~replaylab.features.memory.MemoryBank` per split from stored maps: the actor features of every
    keyframe (train: its ground-truth boxes; val / test: its proposals, highest score first), pooled like the
    ROI head pools (parameter-free)."""
    from torchvision.ops import roi_align

    from ...features.memory import MemoryBank

    banks = {}
    for name, samples in splits.items():
        feats: dict[tuple[str, int], np.ndarray] = {}
        for s in samples:
            if name == "train":
                boxes = np.asarray(s.meta["boxes"], np.float32).reshape(-1, 4)
            else:
                props = np.asarray(s.meta.get("proposals", []), np.float32).reshape(-1, 5)
                boxes = props[np.argsort(-props[:, 4], kind="stable"), :4]
            fmap = torch.from_numpy(np.asarray(maps[row_of[s.sample_id]], np.float32)).mean(dim=1, keepdim=False)[None]
            if len(boxes):
                cells = roi_align(fmap, to_rois([boxes], size), output_size=int(roi["output_size"]), spatial_scale=1.0 / stride,
                                  sampling_ratio=int(roi["sampling_ratio"]), aligned=True)  # fmt: skip
                pooled = cells.amax(dim=(2, 3)) if roi["spatial_pool"] == "max" else cells.mean(dim=(2, 3))
                feats[key_of(s)] = pooled.numpy()
            else:
                feats[key_of(s)] = np.zeros((0, fmap.shape[1]), np.float32)
        banks[name] = MemoryBank(feats, span_s=span_s, max_per_sec=per_sec)
    return banks


class ActionsTrainer:
    def dataset_options(self, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def build(self, ctx: TrainContext) -> Trainable:
        from ...models import param_groups, set_finetune_mode
        from .model import build_detector

        cfg, data, params = ctx.cfg, ctx.data, ctx.params
        classes = list(data.meta["classes"])
        source = params.cache_clips.actions.source
        ids = label_ids(source, classes)
        pose = _pose_positions(cfg, classes)
        feats = ctx.features
        # each backbone is built once and probed for its map's geometry: features mode, the store model's (a probe
        # shared by the memory and the head); video mode, the detector's own, built after the memory's probe and
        # before the head as when it had a probe of its own (the head's initial weights draw the same numbers)
        probe = build_input_backbone(backbone_input(cfg, spec=data.spec, features=feats)) if feats is not None else None
        banks, memory_info, memory_dim = None, None, None
        if cfg.ia.active and "M" in cfg.ia.blocks:
            banks, memory_info, memory_dim = self._memory(ctx, probe=probe)
        net = probe if feats is not None else build_input_backbone(backbone_input(cfg, spec=data.spec, features=None))
        arch = architecture(cfg, num_classes=len(classes), spec=data.spec, features=feats, memory_dim=memory_dim, backbone=net)
        model = build_detector(arch, features=feats is not None, pretrained=None if feats else cfg.pretrained,
                               backbone=None if feats is not None else net)  # fmt: skip
        if feats is None:  # features mode: the stored maps' backbone is not part of the model
            set_finetune_mode(model, mode=cfg.finetune_mode, partial_blocks=cfg.partial_blocks)
        lr = scaled_lr(cfg.lr, batch_size=cfg.batch_size, reference_batch=cfg.reference_batch, world=world_size())
        tcfg = ctx.tcfg
        lr_backbone = scaled_lr(cfg.lr_backbone, batch_size=cfg.batch_size, reference_batch=cfg.reference_batch,
                                world=world_size()) if cfg.lr_backbone else lr  # fmt: skip
        groups = param_groups(model, lr_backbone=lr_backbone, lr_head=lr, weight_decay=tcfg.weight_decay)
        adapter = ActionsTask(num_classes=len(classes), class_ids=ids, size=arch["size"],
                              boxes=BoxSettings(iou=cfg.proposal_iou, per_clip=cfg.proposal_per_clip, jitter=cfg.box_jitter),
                              pose=pose, memory=banks)  # fmt: skip
        adapter.train_samples = data.train.index.samples
        counts = _class_counts(data.train.index.samples, len(classes))
        inputs = {"cache": data.spec, "norm": ctx.norm, **({"features": feats} if feats else {}),
                  **({"memory": memory_info} if memory_info else {})}  # fmt: skip
        return Trainable(model=model, adapter=adapter, param_groups=groups, class_counts=counts,
                         identity={"architecture": arch, "classes": classes, "class_ids": ids, "pose": pose, "inputs": inputs},
                         resolved={"model": arch, "classes": classes, "class_ids": ids, "pose_classes": [classes[p] for p in pose],
                                   "inputs": inputs, "lr_scaled": lr},
                         summary={"ia": bool(cfg.ia.active), "lr_scaled": lr})  # fmt: skip

    def _memory(self, ctx: TrainContext, *, probe: nn.Module | None = None):
        """The IA memory banks, from the feature store's maps (in either input mode); ``probe``: the store model's
        backbone, already built (features mode), probed for the maps' stride instead of building one."""
        from ...features.store import ModelStore, store_digest

        params, cfg, data = ctx.params, ctx.cfg, ctx.data
        store_dir = Path(params.featurize.out_dir) / "actions"
        fz = params.featurize.actions
        key = cfg.features_model or fz.models[0].key
        if ctx.features is not None:  # the maps the datasets already hold (every sample of the store)
            maps, maps_info = data.train.data, ctx.features
            store_rows = {
                s.sample_id: int(r) for ds in (data.train, data.val, data.test) for s, r in zip(ds.index.samples, ds.rows)
            }
        else:
            store = ModelStore.read(store_dir, key, maps=True)
            maps, store_rows, maps_info = store.maps, store.row_of, store.info
            missing = [
                s.sample_id for ds in (data.train, data.val, data.test) for s in ds.index.samples if s.sample_id not in store_rows
            ]
            if missing:
                raise SystemExit(f"train.actions.ia (block M): {len(missing)} keyframes have no maps in {store_dir / key} "
                                 f"(first: {missing[0]}); run featurize@actions again")  # fmt: skip
        size = [int(s) for s in maps_info["size"]]
        _, stride = map_geometry(maps_info["backbone"], frames=int(maps_info["frames"]), size=size,
                                 options=dict(maps_info["backbone_options"]), built=probe)  # fmt: skip
        splits = {"train": data.train.index.samples, "val": data.val.index.samples, "test": data.test.index.samples}
        banks = memory_banks(maps, store_rows, splits, size=size, stride=stride, roi=cfg.roi.model_dump(),
                             span_s=cfg.ia.memory_span_s, per_sec=cfg.ia.memory_per_sec)  # fmt: skip
        identity = {k: v for k, v in maps_info.items() if k not in ("shards", "cache_spec", "classes", "store")}
        info = {"store": str(store_dir), "model": key, "digest": store_digest(store_dir, key), "identity": identity,
                "stride": stride, "span_s": cfg.ia.memory_span_s, "per_sec": cfg.ia.memory_per_sec}  # fmt: skip
        return banks, info, int(maps.shape[1])

    def finish(self, ctx: TrainContext, trainable: Trainable, result) -> dict[str, Any]:
        import pandas as pd

        from ...evaluation.ava import write_ava_csv

        adapter: ActionsTask = trainable.adapter
        model, out_dir, cfg = trainable.model, ctx.out_dir, ctx.cfg
        device = next(model.parameters()).device
        scored: dict[str, dict[str, float]] = {}
        for name, ds in (("val", ctx.data.val), ("test", ctx.data.test)):
            tester = adapter.for_split(name, name)
            metrics, rows = tester.evaluate(model, DataLoader(ds, batch_size=cfg.batch_size, num_workers=0), device)
            scored[name] = {k.removeprefix(f"{name}_"): v for k, v in metrics.items()}
            write_ava_csv(
                out_dir / PREDICTIONS_DIR / f"{name}.csv",
                pd.DataFrame(rows, columns=DET_COLUMNS),
                box_decimals=DECIMALS,
                score_decimals=DECIMALS,
            )
        print(f"train@{ctx.spec.name}: best epoch {result.best_epoch} of {result.epochs_run}, val frame-mAP "
              f"{scored['val']['frame_map']:.4f}, test frame-mAP {scored['test']['frame_map']:.4f}")  # fmt: skip
        return {
            "val": {k: round_metric(v) for k, v in scored["val"].items()},
            "test": {k: round_metric(v) for k, v in scored["test"].items()},
            "keyframes": {"train": len(ctx.data.train), "val": len(ctx.data.val), "test": len(ctx.data.test)},
        }


def _pose_positions(cfg, classes: list[str]) -> list[int]:
    if cfg.pose_loss == "sigmoid":
        return []
    missing = [c for c in cfg.pose_classes if c not in classes]
    if missing or len(cfg.pose_classes) < 2:
        raise SystemExit(f"train.actions.pose_classes: {missing or cfg.pose_classes} - pose_loss softmax needs at least "
                         f"two class names of the label map ({', '.join(classes)})")  # fmt: skip
    return [classes.index(c) for c in cfg.pose_classes]


def _class_counts(samples, n: int) -> list[int]:
    counts = np.zeros(n, np.int64)
    for s in samples:
        for labels in s.meta["label_index"]:
            counts[list(labels)] += 1
    return counts.tolist()
