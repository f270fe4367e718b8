"""Phase 1 of ``train@kd``: fit one converter per teacher from the student's stored features to the teacher's.

Inputs are the student's features standardised per channel with the train split's mean and standard deviation.
Targets are each teacher's stored pooled features standardised with the train split's mean and standard deviation
(so teachers of any scale weigh alike; the converted features live in that standardised space). Training: AdamW on
minibatches of the train split (shuffled with the seed), ``converter_loss`` (regression + optional relational term)
summed over teachers, early stopping on the val loss (the best epoch's weights are kept). Reported per teacher and
split: R^2 (uniform average over dimensions, as scikit-learn) and mean cosine of converted vs teacher features.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...kd.converters import ConverterBank
from ...kd.losses import converter_loss, converter_metrics

__all__ = ["ConverterFit", "converter_options", "fit_converters", "floored_std", "standardise"]


@dataclass
class ConverterFit:
    bank: ConverterBank
    mean: dict[str, np.ndarray]  # each teacher's train-split feature mean (the standardisation)
    std: dict[str, np.ndarray]
    in_mean: np.ndarray  # the student input's train-split mean / std (per channel; tokens pooled over time too)
    in_std: np.ndarray
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: train_loss, val_loss
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # split -> teacher -> r2 / cosine


def converter_options(cfg, *, tokens: int) -> dict[str, Any]:
    """The converter kind's own keyword arguments from ``train.kd.converter`` (``tokens``: the sequence length)."""
    return {"linear": {}, "mlp": {"hidden": cfg.hidden, "depth": cfg.depth, "dropout": cfg.dropout},
            "transformer": {"width": cfg.width, "layers": cfg.layers, "heads": cfg.heads, "dropout": cfg.dropout,
                            "max_tokens": max(tokens, 1)}}[cfg.kind]  # fmt: skip


def floored_std(std: np.ndarray) -> np.ndarray:
    """Per-dimension std with a floor (1% of the mean std): a (nearly) constant train dimension is not blown up."""
    return np.maximum(std, 0.01 * float(std.mean()) + 1e-8).astype(np.float32)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((x - mean) / std).astype(np.float32)


def _loss(bank: ConverterBank, x: torch.Tensor, targets: dict[str, torch.Tensor], cfg) -> torch.Tensor:
    out = bank(x)
    return sum(converter_loss(out[t], targets[t], kind=cfg.loss, relational=cfg.relational, weight=cfg.relational_weight)
               for t in targets)  # fmt: skip


@torch.no_grad()
def _eval_loss(bank: ConverterBank, x: torch.Tensor, targets: dict[str, torch.Tensor], cfg, batch: int) -> float:
    bank.eval()
    total, n = 0.0, x.shape[0]
    for i in range(0, n, batch):  # the relational term is a batch statistic: same batches every epoch
        sl = slice(i, i + batch)
        if min(batch, n - i) < 2 and cfg.relational != "none":
            continue
        total += float(_loss(bank, x[sl], {t: v[sl] for t, v in targets.items()}, cfg)) * min(batch, n - i)
    return total / max(n, 1)


def fit_converters(inputs: dict[str, np.ndarray], teachers: dict[str, dict[str, np.ndarray]], cfg, *, seed: int,
                   progress: bool = True) -> ConverterFit:  # fmt: skip
    """``inputs[split]``: student features (N, Ds) or tokens (N, T, Ds); ``teachers[name][split]``: (N, Dt).
    Splits ``train`` and ``val`` are needed (``test`` is scored when given). ``cfg``: ``train.kd.converter``."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    mean = {t: f["train"].mean(axis=0) for t, f in teachers.items()}
    std = {t: floored_std(f["train"].std(axis=0)) for t, f in teachers.items()}
    flat = np.asarray(inputs["train"], np.float32).reshape(-1, np.shape(inputs["train"])[-1])
    in_mean, in_std = flat.mean(axis=0), floored_std(flat.std(axis=0))
    x = {s: torch.as_tensor(standardise(np.asarray(v, np.float32), in_mean, in_std)) for s, v in inputs.items()}
    y = {s: {t: torch.as_tensor(standardise(f[s], mean[t], std[t])) for t, f in teachers.items()} for s in inputs}
    opts = converter_options(cfg, tokens=int(x["train"].shape[1]) if x["train"].ndim == 3 else 1)
    bank = ConverterBank(kind=cfg.kind, in_dim=int(x["train"].shape[-1]),
                         teacher_dims={t: int(f["train"].shape[1]) for t, f in teachers.items()}, **opts)  # fmt: skip
    optim = torch.optim.AdamW(bank.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = x["train"].shape[0]
    best, best_epoch, best_state, history, stale = math.inf, 0, copy.deepcopy(bank.state_dict()), [], 0
    bar = tqdm(range(1, cfg.epochs + 1), desc="train@kd converters", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        bank.train()
        order, total = torch.randperm(n, generator=gen), 0.0
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if len(idx) < 2:  # a relational term / cosine needs a batch; a lone last sample waits for the next epoch
                continue
            loss = _loss(bank, x["train"][idx], {t: v[idx] for t, v in y["train"].items()}, cfg)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            total += loss.item() * len(idx)
        val = _eval_loss(bank, x["val"], y["val"], cfg, cfg.batch_size)
        history.append({"epoch": epoch, "train_loss": total / n, "val_loss": val})
        bar.set_postfix(val_loss=f"{val:.4f}")
        if val < best - 1e-9:
            best, best_epoch, best_state, stale = val, epoch, copy.deepcopy(bank.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    bank.load_state_dict(best_state)
    bank.eval()
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    with torch.no_grad():
        for s in x:
            out = bank(x[s])
            metrics[s] = {t: {k: float(v) for k, v in converter_metrics(out[t], y[s][t]).items()} for t in teachers}
    return ConverterFit(bank=bank, mean=mean, std=std, in_mean=in_mean, in_std=in_std, best_epoch=best_epoch, epochs_run=len(history), history=history,
                        metrics=metrics)  # fmt: skip
