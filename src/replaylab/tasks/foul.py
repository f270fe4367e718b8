"""The multi-view foul task (SoccerNet-MVFoul): loss and evaluation for the training loop, and ``train@foul``.

Training draws ``train.foul.views`` random views of each action (the dataset's ``views``); the loss is
``action_loss_weight * CE(action) + offence_loss_weight * CE(offence-severity)``, each cross-entropy with
its own inverse-frequency class weights when ``class_weights: inverse_frequency``. Evaluation sees every
view of an action (missing ones masked) and scores the predictions with the official SoccerNet rules
(:mod:`replaylab.evaluation.mvfoul`) against the annotated strings the samples carry; its metrics are
``<prefix>_<official key>`` (x 100: ``leaderboard_value``, ``balanced_accuracy_action``, ...), the
``*_present`` variants and the losses. Prediction rows: ``sample_id, action_id, action, offence_severity,
pred_action, pred_offence_severity, p_action_0..7, p_offence_0..3``.

``train_foul`` selects the epoch on the validation split (``monitor``, default ``val_leaderboard_value_present``:
the official leaderboard value whenever every class occurs in val, and still finite when one does not),
then scores the test split once with that checkpoint and writes the official-format prediction files
``models/foul/predictions/{val,test}.json`` that ``evaluate@foul`` scores.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ..data.adapters.mvfoul import ACTION_CLASSES, OFFENCE_SEVERITY_CLASSES
from ..data.augment import AugmentConfig
from ..data.cache import read_cache_meta
from ..data.dataset import ClipDataset
from ..evaluation.mvfoul import evaluate_mvfoul, predictions_document
from ..io import write_json, write_text
from ..training import build_loss, fit, load_best
from ..training.distributed import is_main

TARGET_KEY = "offence_severity"
PREDICTIONS_DIR = "predictions"
EVAL_SPLITS = ("val", "test")


def _views(batch: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    video = batch["video"].to(device, non_blocking=True)
    if video.ndim == 5:  # a single-view cache: one view per action
        return video.unsqueeze(1), None
    mask = batch.get("view_mask")
    return video, None if mask is None else mask.to(device)


class FoulTask:
    """TaskAdapter of the multi-view foul network (``model(video, view_mask) -> (action, offence) logits``)."""

    def __init__(self, action_loss: torch.nn.Module, offence_loss: torch.nn.Module, *, prefix: str = "val",
                 action_weight: float = 1.0, offence_weight: float = 1.0):  # fmt: skip
        self.action_loss = action_loss
        self.offence_loss = offence_loss
        self.prefix = prefix
        self.action_weight = float(action_weight)
        self.offence_weight = float(offence_weight)

    def batch_size_of(self, batch: dict) -> int:
        return int(batch["label"].shape[0])

    def training_loss(self, model: torch.nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        video, mask = _views(batch, device)
        action, offence = model(video, mask)
        return (self.action_weight * self.action_loss(action.float(), batch["label"].to(device))
                + self.offence_weight * self.offence_loss(offence.float(), batch[TARGET_KEY].to(device)))  # fmt: skip

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[list[dict], dict[str, float]]:
        """Prediction rows for every action of ``loader`` (in order) and the mean cross-entropies."""
        was_training = model.training
        model.eval()
        samples = loader.dataset.index.samples
        rows: list[dict] = []
        ce_a, ce_o, n = 0.0, 0.0, 0
        for batch in loader:
            video, mask = _views(batch, device)
            action, offence = (t.float() for t in model(video, mask))
            ya, yo = batch["label"].to(device), batch[TARGET_KEY].to(device)
            ce_a += float(F.cross_entropy(action, ya, reduction="sum"))
            ce_o += float(F.cross_entropy(offence, yo, reduction="sum"))
            n += len(ya)
            pa, po = torch.softmax(action, 1).cpu().numpy(), torch.softmax(offence, 1).cpu().numpy()
            for j, i in enumerate(batch["index"].tolist()):
                s = samples[i]
                row = {"sample_id": s.sample_id, "action_id": s.meta.get("action_id", s.sample_id), "action": int(ya[j]),
                       "offence_severity": int(yo[j]), "pred_action": int(pa[j].argmax()), "pred_offence_severity": int(po[j].argmax())}  # fmt: skip
                row |= {f"p_action_{k}": round(float(p), 6) for k, p in enumerate(pa[j])}
                row |= {f"p_offence_{k}": round(float(p), 6) for k, p in enumerate(po[j])}
                rows.append(row)
        model.train(was_training)
        n = max(n, 1)
        return rows, {"loss": (ce_a + ce_o) / n, "loss_action": ce_a / n, "loss_offence": ce_o / n}

    def evaluate(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[dict[str, float], list[dict]]:
        rows, losses = self.predict(model, loader, device)
        result = evaluate_mvfoul(ground_truth_of(loader.dataset), predicted_document(rows, key="sample_id"),
                                 where=f"{self.prefix} split")  # fmt: skip
        metrics = {**result.metrics, **losses}
        return {f"{self.prefix}_{k}": float(v) for k, v in metrics.items()}, rows


def ground_truth_of(ds: ClipDataset, *, key: str = "sample_id") -> dict[str, Any]:
    """The annotated strings of the dataset's actions as an official ground-truth document keyed by
    ``sample_id`` (or ``action_id``)."""
    actions = {}
    for s in ds.index.samples:
        m = s.meta
        missing = [f for f in ("action_class", "offence", "severity") if f not in m]
        if missing:
            raise ValueError(f"{ds.cache_h5}: sample {s.sample_id} has no annotated {', '.join(missing)} (not an MVFoul cache?)")
        k = s.sample_id if key == "sample_id" else str(m.get("action_id", s.sample_id))
        actions[k] = {"Action class": m["action_class"], "Offence": m["offence"], "Severity": m["severity"]}
    return {"Actions": actions}


def predicted_document(rows: list[dict], *, key: str = "action_id") -> dict[str, Any]:
    """The official predictions document of prediction rows, keyed by ``action_id`` (or ``sample_id``)."""
    keys = [str(r[key]) for r in rows]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"two actions share the id {dup!r}: one predictions file must hold one official split "
                         f"(use split.foul.strategy: official)")  # fmt: skip
    return predictions_document({k: (r["pred_action"], r["pred_offence_severity"]) for k, r in zip(keys, rows)})


def _check_one_official_split(ds: ClipDataset, name: str) -> None:
    ids = [str(s.meta.get("action_id", s.sample_id)) for s in ds.index.samples]
    if len(set(ids)) != len(ids):
        splits = sorted({str(s.meta.get("split")) for s in ds.index.samples})
        raise SystemExit(f"train@foul: the {name} split mixes actions of the official splits {splits} (their action ids "
                         f"collide in the official predictions format); use split.foul.strategy: official")  # fmt: skip


# ------------------------------------------------------------------------------------------ train@foul
def _datasets(params, cfg, norm: str):
    cache = Path(params.cache_clips.out_dir) / "foul.h5"
    splits = Path(params.split.out_dir) / "foul"
    aug = AugmentConfig(**cfg.augment.model_dump())
    make = lambda name, train: ClipDataset(cache, splits / f"{name}.csv", train=train, norm=norm,  # noqa: E731
                                           augment_cfg=aug if train else None, views=cfg.views if train else None,
                                           target_keys=(TARGET_KEY,), seed=params.seed)  # fmt: skip
    return make("train", True), make("val", False), make("test", False), read_cache_meta(cache)


def model_spec(cfg, spec: dict) -> dict[str, Any]:
    """Everything :func:`replaylab.models.build_multiview` needs to rebuild the trained network."""
    return {"backbone": cfg.backbone, "backbone_options": dict(cfg.backbone_options), "aggregation": cfg.aggregation,
            "hidden": cfg.hidden, "dropout": cfg.dropout, "frames": int(spec["frames"]), "size": list(spec["size"])}  # fmt: skip


def train_foul(task: str, params) -> dict | None:
    from ..models import param_groups, set_finetune_mode
    from ..models.classifier import normalisation_of
    from ..models.multiview import build_multiview
    from .train import _round, _yaml, train_config

    cfg = params.train.foul
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    torch.manual_seed(params.seed)  # the model's initial weights (the loop reseeds per epoch after this)
    norm = normalisation_of(cfg.backbone) if cfg.norm == "auto" else cfg.norm
    train_ds, val_ds, test_ds, meta = _datasets(params, cfg, norm)
    if list(meta["classes"]) != ACTION_CLASSES:
        raise SystemExit(f"train@foul: {train_ds.cache_h5} has classes {meta['classes']}, expected the MVFoul action classes")
    for name, ds in (("val", val_ds), ("test", test_ds)):
        _check_one_official_split(ds, name)
    spec = meta["spec"]
    arch = model_spec(cfg, spec)
    model = build_multiview(**arch, view_chunk=cfg.view_chunk, pretrained=cfg.pretrained)
    set_finetune_mode(model, mode=cfg.finetune_mode, partial_blocks=cfg.partial_blocks)
    tcfg = train_config(cfg, seed=params.seed)
    groups = param_groups(model, lr_backbone=tcfg.lr_backbone, lr_head=tcfg.lr_head, weight_decay=tcfg.weight_decay)
    action_counts = np.bincount(train_ds.labels, minlength=len(ACTION_CLASSES)).tolist()
    offence_counts = np.bincount(
        [s.meta[TARGET_KEY] for s in train_ds.index.samples], minlength=len(OFFENCE_SEVERITY_CLASSES)
    ).tolist()
    head = FoulTask(build_loss(tcfg, class_counts=action_counts), build_loss(tcfg, class_counts=offence_counts),
                    action_weight=cfg.action_loss_weight, offence_weight=cfg.offence_loss_weight)  # fmt: skip
    out_dir = Path(params.train.out_dir) / task
    live_dir = Path(params.train.live_dir) / task
    source = params.cache_clips.foul.source
    inputs = {"cache": spec, "norm": norm, "center_frame": source.center_frame, "source_fps": source.source_fps}
    resolved = {"task": task, "seed": params.seed, "train": cfg.model_dump(), "model": arch, "inputs": inputs,
                "classes": {"action": ACTION_CLASSES, "offence_severity": OFFENCE_SEVERITY_CLASSES},
                "class_counts": {"action": action_counts, "offence_severity": offence_counts}, "train_config": asdict(tcfg)}  # fmt: skip
    if is_main():
        write_text(out_dir / "config.yaml", _yaml(json.loads(json.dumps(resolved))))
    # best.pt carries this key (as JSON text), so `replaylab predict-fouls` can rebuild the model and its input
    resume_key = {"model": arch, "inputs": inputs, "pretrained": cfg.pretrained, "finetune_mode": cfg.finetune_mode,
                  "partial_blocks": cfg.partial_blocks, "views": cfg.views, "augment": cfg.augment.model_dump(),
                  "loss_weights": [cfg.action_loss_weight, cfg.offence_loss_weight]}  # fmt: skip
    t0 = time.perf_counter()
    result = fit(model=model, task=head, train_set=train_ds, val_set=val_ds, cfg=tcfg, out_dir=out_dir, live_dir=live_dir,
                 param_groups=groups, class_counts=action_counts, resume_key=resume_key)  # fmt: skip
    seconds = time.perf_counter() - t0
    if not is_main():
        return None
    # the selected checkpoint: val predictions in the official format, and the test split scored once
    load_best(model, out_dir)
    device = next(model.parameters()).device
    scored: dict[str, dict[str, float]] = {}
    for name, ds in (("val", val_ds), ("test", test_ds)):
        tester = FoulTask(head.action_loss, head.offence_loss, prefix=name)
        loader = DataLoader(ds, batch_size=cfg.batch_size, num_workers=0)
        metrics, rows = tester.evaluate(model, loader, device)
        scored[name] = {k.removeprefix(f"{name}_"): v for k, v in metrics.items()}
        write_json(out_dir / PREDICTIONS_DIR / f"{name}.json", predicted_document(rows))
        if name == "test":
            from ..training.records import write_rows

            write_rows(out_dir / "test_predictions.csv", rows)
    print(f"train@{task}: best epoch {result.best_epoch} of {result.epochs_run}, val leaderboard "
          f"{scored['val']['leaderboard_value']:.2f}, test leaderboard {scored['test']['leaderboard_value']:.2f} "
          f"(balanced accuracy action {scored['test']['balanced_accuracy_action']:.2f}, offence-severity "
          f"{scored['test']['balanced_accuracy_offence_severity']:.2f}), {seconds:.0f} s this run")  # fmt: skip
    return {
        "backbone": cfg.backbone,
        "aggregation": cfg.aggregation,
        "parameters": sum(p.numel() for p in model.parameters()),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "val": {k: _round(v) for k, v in scored["val"].items()},
        "test": {k: _round(v) for k, v in scored["test"].items()},
        "actions": {"train": len(train_ds), "val": len(val_ds), "test": len(test_ds)},
    }
