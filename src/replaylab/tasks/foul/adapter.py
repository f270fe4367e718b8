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

from typing import Any

import torch
import torch.nn.functional as F

from ...data.dataset import ClipDataset
from ...evaluation.mvfoul import METRIC_NAMES, evaluate_mvfoul, predictions_document

TARGET_KEY = "offence_severity"
PREDICTIONS_DIR = "predictions"
EVAL_SPLITS = ("val", "test")


def _views(batch: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    if "video" not in batch:  # training from the feature store: per-view features (B, V, ...) + view_mask
        feats = batch["features"].to(device, non_blocking=True)
        mask = batch.get("view_mask")
        return (feats.unsqueeze(1), None) if mask is None else (feats, mask.to(device))
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

    def metric_names(self, prefix: str) -> set[str]:
        """The metric keys :meth:`evaluate` returns with ``prefix`` (what ``monitor`` may name)."""
        return {f"{prefix}_{k}" for k in (*METRIC_NAMES, "loss", "loss_action", "loss_offence")}

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


def check_one_official_split(ds: ClipDataset, name: str) -> None:
    ids = [str(s.meta.get("action_id", s.sample_id)) for s in ds.index.samples]
    if len(set(ids)) != len(ids):
        splits = sorted({str(s.meta.get("split")) for s in ds.index.samples})
        raise SystemExit(f"train@foul: the {name} split mixes actions of the official splits {splits} (their action ids "
                         f"collide in the official predictions format); use split.foul.strategy: official")  # fmt: skip
