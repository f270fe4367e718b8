"""Converter losses and metrics: converted student features (B, D) against teacher features (B, D).

* regression: ``mse`` (mean over batch and dims of the squared error) or ``cosine`` (mean over the batch of
  1 - cos(pred_i, target_i));
* relational (batch structure, optional): ``cka`` adds ``weight * (1 - linear CKA(pred, target))``;
  ``similarity`` adds ``weight * MSE`` between the batch's (B, B) cosine-similarity matrices;
* metrics (torch, float64, no gradient): :func:`r2_score` with scikit-learn's ``r2_score`` semantics
  (``uniform_average`` by default, or ``variance_weighted``; a constant target dim scores 1.0 if predicted
  exactly, else 0.0, as sklearn's ``force_finite=True``) and :func:`mean_cosine`.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "RELATIONAL",
    "REGRESSION",
    "converter_loss",
    "converter_metrics",
    "linear_cka",
    "mean_cosine",
    "r2_score",
    "regression_loss",
    "similarity_matching",
]

Regression = Literal["mse", "cosine"]
Relational = Literal["none", "cka", "similarity"]
Multioutput = Literal["uniform_average", "variance_weighted"]
REGRESSION: tuple[str, ...] = ("mse", "cosine")
RELATIONAL: tuple[str, ...] = ("none", "cka", "similarity")
_EPS = 1e-8


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.ndim != 2 or pred.shape != target.shape:
        raise ValueError(f"expected pred and target of the same shape (B, D), got {tuple(pred.shape)} and {tuple(target.shape)}")


def regression_loss(pred: torch.Tensor, target: torch.Tensor, *, kind: Regression = "mse") -> torch.Tensor:
    """(B, D), (B, D) -> scalar: ``mse`` (mean squared error over all entries) or ``cosine`` (mean 1 - cos)."""
    _check_pair(pred, target)
    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(pred, target, dim=1, eps=_EPS)).mean()
    raise ValueError(f"unknown regression loss {kind!r}; known: {list(REGRESSION)}")


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear CKA of (B, Dx) and (B, Dy) (Kornblith et al. 2019): with column-centred X, Y,
    ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), a scalar in [0, 1]; 1 for identical features, invariant to
    orthogonal transforms and isotropic scaling of either side. Needs B >= 2."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected (B, Dx) and (B, Dy) with the same B, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2:
        raise ValueError("linear CKA needs a batch of at least 2")
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    cross = (y.T @ x).square().sum()
    return cross / ((x.T @ x).norm() * (y.T @ y).norm()).clamp_min(_EPS)


def similarity_matching(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE between the (B, B) cosine-similarity matrices of the rows of (B, Dx) and (B, Dy)."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected (B, Dx) and (B, Dy) with the same B, got {tuple(x.shape)} and {tuple(y.shape)}")
    xn, yn = F.normalize(x, dim=1, eps=_EPS), F.normalize(y, dim=1, eps=_EPS)
    return F.mse_loss(xn @ xn.T, yn @ yn.T)


def converter_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    kind: Regression = "mse",
    relational: Relational = "none",
    weight: float = 0.0,
) -> torch.Tensor:
    """(B, D), (B, D) -> scalar: ``regression_loss(kind)`` + ``weight`` * the relational term (``cka``:
    1 - linear CKA; ``similarity``: :func:`similarity_matching`; ``none``: nothing)."""
    loss = regression_loss(pred, target, kind=kind)
    if relational == "none":
        return loss
    if weight < 0:
        raise ValueError(f"relational weight must be >= 0, got {weight}")
    if relational == "cka":
        return loss + weight * (1.0 - linear_cka(pred, target))
    if relational == "similarity":
        return loss + weight * similarity_matching(pred, target)
    raise ValueError(f"unknown relational term {relational!r}; known: {list(RELATIONAL)}")


@torch.no_grad()
def r2_score(pred: torch.Tensor, target: torch.Tensor, *, multioutput: Multioutput = "uniform_average") -> float:
    """Coefficient of determination of (N, D) predictions, as ``sklearn.metrics.r2_score(target, pred,
    multioutput=...)``: per dim 1 - SS_res / SS_tot (a dim with SS_tot = 0 scores 1.0 if SS_res = 0 else 0.0),
    averaged uniformly (``uniform_average``) or weighted by SS_tot (``variance_weighted``; uniformly when every
    SS_tot is 0). Needs N >= 2."""
    _check_pair(pred, target)
    if pred.shape[0] < 2:
        raise ValueError("R^2 needs at least 2 samples")
    p, t = pred.detach().double(), target.detach().double()
    ss_res = (t - p).square().sum(dim=0)
    ss_tot = (t - t.mean(dim=0)).square().sum(dim=0)
    nonzero_tot, nonzero_res = ss_tot != 0, ss_res != 0
    scores = torch.ones_like(ss_tot)
    valid = nonzero_tot & nonzero_res
    scores[valid] = 1.0 - ss_res[valid] / ss_tot[valid]
    scores[nonzero_res & ~nonzero_tot] = 0.0
    if multioutput == "uniform_average" or (multioutput == "variance_weighted" and not bool(nonzero_tot.any())):
        return float(scores.mean())  # every target dim constant: variance weights all 0, sklearn averages uniformly
    if multioutput == "variance_weighted":
        return float((scores * ss_tot).sum() / ss_tot.sum())
    raise ValueError(f"unknown multioutput {multioutput!r}; known: uniform_average, variance_weighted")


@torch.no_grad()
def mean_cosine(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over rows of cos(pred_i, target_i) for (N, D) tensors (float64)."""
    _check_pair(pred, target)
    return float(F.cosine_similarity(pred.detach().double(), target.detach().double(), dim=1, eps=_EPS).mean())


def converter_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Per-teacher test metrics of (N, D) converted vs teacher features: {"r2": uniform-average R^2,
    "cosine": mean cosine}."""
    return {"r2": r2_score(pred, target), "cosine": mean_cosine(pred, target)}
