"""``train@<task>``: build the dataset, model and task adapter from params, run the training loop, score the
test split once with the selected checkpoint, and write the summary, plots and resolved config."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.augment import AugmentConfig
from ..data.cache import read_cache_meta
from ..data.dataset import ClipDataset
from ..io import write_text
from ..training import TrainConfig, build_loss, fit, load_best
from ..training.distributed import is_main
from .header import HeaderTask, confusion, write_plot_files


def _yaml(data: Any) -> str:
    from io import StringIO

    from ruamel.yaml import YAML

    buf = StringIO()
    y = YAML()
    y.default_flow_style = False
    y.dump(data, buf)
    return buf.getvalue()


def train_config(cfg, *, seed: int) -> TrainConfig:
    """TrainConfig from a validated ``train.<task>`` section (``lr`` fills an unset ``lr_backbone`` / ``lr_head``)."""
    values = cfg.model_dump()
    values["lr_backbone"] = cfg.lr_backbone if cfg.lr_backbone is not None else cfg.lr
    values["lr_head"] = cfg.lr_head if cfg.lr_head is not None else cfg.lr
    return TrainConfig.from_dict(values, seed=seed)


def _datasets(task: str, params, cfg, norm: str):
    cache = Path(params.cache_clips.out_dir) / f"{task}.h5"
    splits = Path(params.split.out_dir) / task
    aug = AugmentConfig(**cfg.augment.model_dump())
    make = lambda name, train: ClipDataset(cache, splits / f"{name}.csv", train=train, norm=norm,  # noqa: E731
                                           augment_cfg=aug if train else None, seed=params.seed)  # fmt: skip
    return make("train", True), make("val", False), make("test", False), read_cache_meta(cache)


def _event_targets(ds: ClipDataset, task: str) -> tuple[torch.Tensor, list[str]]:
    """Fine-grained targets: the kind of event of every training clip (``header`` and each kind of negative: type,
    refined by subtype where the adapter gives one, e.g. ``kick/volley`` vs ``kick/pass``)."""
    missing = next((s.sample_id for s in ds.index.samples if not s.meta.get("event")), None)
    if missing is not None:
        raise ValueError(f"train.{task}.targets: event_types needs an event type for every clip; {missing} has none "
                         f"(use targets: binary)")  # fmt: skip
    kind = [s.meta.get("kind") or s.meta["event"] for s in ds.index.samples]
    kinds = sorted(set(kind) | {"header"})
    return torch.tensor([kinds.index(k) for k in kind]), kinds


def train_header(task: str, params) -> dict | None:
    from ..models import build_classifier, normalisation_of, param_groups, set_finetune_mode

    cfg = getattr(params.train, task)
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    torch.manual_seed(params.seed)  # the model's initial weights (the loop reseeds per epoch after this)
    norm = normalisation_of(cfg.backbone) if cfg.norm == "auto" else cfg.norm
    train_ds, val_ds, test_ds, meta = _datasets(task, params, cfg, norm)
    spec = meta["spec"]
    if cfg.targets == "event_types":
        targets, kinds = _event_targets(train_ds, task)
        positive = kinds.index("header")
    else:
        targets, kinds, positive = None, list(meta["classes"]), 1
    model = build_classifier(backbone=cfg.backbone, num_classes=len(kinds), frames=spec["frames"], size=tuple(spec["size"]),
                             dropout=cfg.dropout, pretrained=cfg.pretrained, backbone_options=dict(cfg.backbone_options))  # fmt: skip
    set_finetune_mode(model, mode=cfg.finetune_mode, partial_blocks=cfg.partial_blocks)
    tcfg = train_config(cfg, seed=params.seed)
    groups = param_groups(model, lr_backbone=tcfg.lr_backbone, lr_head=tcfg.lr_head, weight_decay=tcfg.weight_decay)
    train_labels = targets.numpy() if targets is not None else train_ds.labels
    counts = np.bincount(train_labels, minlength=len(kinds)).tolist()
    head = HeaderTask(build_loss(tcfg, class_counts=counts), threshold=cfg.threshold, positive=positive, train_targets=targets)
    out_dir = Path(params.train.out_dir) / task
    live_dir = Path(params.train.live_dir) / task
    resolved = {"task": task, "seed": params.seed, "train": cfg.model_dump(), "cache_spec": spec, "classes": kinds,
                "normalisation": norm, "crop": _crop_settings(getattr(params.cache_clips, task).source),
                "train_config": asdict(tcfg)}  # fmt: skip
    if is_main():
        write_text(out_dir / "config.yaml", _yaml(json.loads(json.dumps(resolved))))
    t0 = time.perf_counter()
    result = fit(model=model, task=head, train_set=train_ds, val_set=val_ds, cfg=tcfg, out_dir=out_dir, live_dir=live_dir,
                 param_groups=groups, class_counts=counts,
                 resume_key={"backbone": cfg.backbone, "backbone_options": dict(cfg.backbone_options), "targets": cfg.targets,
                             "finetune_mode": cfg.finetune_mode, "partial_blocks": cfg.partial_blocks, "dropout": cfg.dropout,
                             "pretrained": cfg.pretrained, "norm": norm, "augment": cfg.augment.model_dump(), "cache": spec})  # fmt: skip
    seconds = time.perf_counter() - t0
    if not is_main():
        return None
    # the selected checkpoint, scored once on the test split
    load_best(model, out_dir)
    device = next(model.parameters()).device
    tester = HeaderTask(head.loss, threshold=cfg.threshold, positive=positive, prefix="test")
    loader = DataLoader(test_ds, batch_size=cfg.batch_size, num_workers=0)
    test_metrics, test_rows = tester.evaluate(model, loader, device)
    val_rows = _read_rows(out_dir / "val_predictions.csv")
    write_plot_files(val_rows, out_dir / "plots")
    write_plot_files(test_rows, out_dir / "plots" / "test")
    print(f"train@{task}: best epoch {result.best_epoch} of {result.epochs_run}, "
          f"val AUROC {result.best_metrics.get('val_auroc', float('nan')):.3f}, test AUROC {test_metrics['test_auroc']:.3f}, "
          f"{seconds:.0f} s this run")  # fmt: skip
    n_params = sum(p.numel() for p in model.parameters())
    return {
        "backbone": cfg.backbone,
        "parameters": n_params,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "val": {k.removeprefix("val_"): _round(v) for k, v in result.best_metrics.items()},
        "test": {k.removeprefix("test_"): _round(v) for k, v in test_metrics.items()},
        "test_confusion": confusion(test_rows),
        "clips": {"train": len(train_ds), "val": len(val_ds), "test": len(test_ds)},
    }


def _crop_settings(source) -> dict:
    """How the training clips were cropped, so inference (``replaylab detect``) cuts the same clips."""
    if source.format == "matches":
        return {"crop_on": source.crop_on, "track_smooth_s": source.track_smooth_s}
    return {"crop_on": "precut", "track_smooth_s": 0.0}


def _train_foul(task: str, params) -> dict | None:
    from .foul import train_foul

    return train_foul(task, params)


#: task -> trainer(task, params); returns the metrics summary on rank 0 and None on the other ranks
TRAINERS: dict[str, Callable[[str, Any], dict | None]] = {"header": train_header, "foul": _train_foul}


def train_task(task: str, params) -> dict | None:
    trainer = TRAINERS.get(task)
    if trainer is None:
        raise SystemExit(f"train@{task}: no trainer for this task yet (have: {', '.join(TRAINERS)})")
    return trainer(task, params)


def _round(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else round(v, 4)


def _read_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as fh:
        return [{"sample_id": r["sample_id"], "label": int(r["label"]), "probability": float(r["probability"]),
                 "prediction": int(r["prediction"])} for r in csv.DictReader(fh)]  # fmt: skip
