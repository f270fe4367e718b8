"""Classification losses for logits (B, K) and integer targets (B,): class-weighted cross-entropy and
multi-class softmax focal loss."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig


def inverse_frequency_weights(class_counts: Sequence[int]) -> torch.Tensor:
    """Per-class weights proportional to 1 / count, scaled so that their mean over the classes that occur
    is 1. A class with no examples gets weight 0 (and a warning): it cannot be learnt from this data."""
    counts = torch.as_tensor(list(class_counts), dtype=torch.float64)
    if counts.ndim != 1 or len(counts) == 0:
        raise ValueError("class_counts must be a non-empty sequence of per-class counts")
    if bool((counts < 0).any()):
        raise ValueError(f"class_counts must be >= 0, got {list(class_counts)}")
    present = counts > 0
    if not bool(present.any()):
        raise ValueError("class_counts are all zero: no class to weight")
    if not bool(present.all()):
        missing = [i for i, ok in enumerate(present.tolist()) if not ok]
        warnings.warn(f"classes {missing} have no training examples: their loss weight is 0", stacklevel=2)
    weights = torch.zeros_like(counts)
    weights[present] = 1.0 / counts[present]
    weights[present] /= weights[present].mean()
    return weights.float()


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy with optional per-class weights and label smoothing (the weighted mean over the batch,
    as ``F.cross_entropy``: sum_i w[y_i] * nll_i / sum_i w[y_i])."""

    def __init__(self, weight: torch.Tensor | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.register_buffer("weight", None if weight is None else weight.detach().clone().float())
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.to(device=logits.device, dtype=torch.float32)
        return F.cross_entropy(logits.float(), targets.long(), weight=weight, label_smoothing=self.label_smoothing)


class FocalLoss(nn.Module):
    """Multi-class softmax focal loss (Lin et al.): per sample sum_k q_k a_k (1 - p_k)^gamma (-log p_k), where q
    is the (optionally smoothed) one-hot target and a the class weights (alpha; 1 when not given), averaged
    with the weights of the targets as cross-entropy does. With gamma = 0 it equals :class:`WeightedCrossEntropy`
    with the same weights and smoothing."""

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None, label_smoothing: float = 0.0):
        super().__init__()
        if gamma < 0:
            raise ValueError("focal gamma must be >= 0")
        self.gamma = float(gamma)
        self.register_buffer("weight", None if weight is None else weight.detach().clone().float())
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 2:
            raise ValueError(f"focal loss expects logits (B, K), got shape {tuple(logits.shape)}")
        targets = targets.long()
        k = logits.shape[1]
        log_p = F.log_softmax(logits.float(), dim=1)
        q = F.one_hot(targets, k).to(log_p.dtype)
        if self.label_smoothing > 0:
            q = q * (1.0 - self.label_smoothing) + self.label_smoothing / k
        term = -log_p
        if self.gamma > 0:
            term = term * (1.0 - log_p.exp()).clamp_min(0.0).pow(self.gamma)
        if self.weight is None:
            return (q * term).sum(1).mean()
        w = self.weight.to(device=logits.device, dtype=log_p.dtype)
        per_sample = (q * w * term).sum(1)
        return per_sample.sum() / w[targets].sum().clamp_min(torch.finfo(log_p.dtype).tiny)


def build_loss(cfg: TrainConfig, *, class_counts: Sequence[int] | None = None) -> nn.Module:
    """The loss named by ``cfg.loss`` with the class weighting of ``cfg.class_weights``
    (``inverse_frequency`` needs the training-set ``class_counts``)."""
    weight = None
    if cfg.class_weights == "inverse_frequency":
        if class_counts is None:
            raise ValueError("class_weights='inverse_frequency' needs the training set's class_counts")
        weight = inverse_frequency_weights(class_counts)
    if cfg.loss == "ce":
        return WeightedCrossEntropy(weight, label_smoothing=cfg.label_smoothing)
    return FocalLoss(cfg.focal_gamma, weight, label_smoothing=cfg.label_smoothing)
