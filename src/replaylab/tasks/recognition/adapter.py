"""The recognition clip classifier for the training loop: cross-entropy, and top-1 / top-k / mean class accuracy.

Evaluation returns the metrics the loop logs and selects on (``<prefix>_loss``: the mean cross-entropy of the
split, unweighted; ``<prefix>_top1``; ``<prefix>_top5``: the label among the ``k = min(5, classes)`` highest
probabilities; ``<prefix>_mean_class_accuracy``: the recall of each class present in the split, averaged, i.e.
scikit-learn's balanced accuracy) and one prediction row per clip: ``sample_id, label, prediction, top5,
probabilities`` (class indices of the cache's class list; ``top5`` the k best, space-separated, best first;
``probabilities`` the softmax in class order, space-separated, rounded to :data:`DECIMALS`).

The metrics are computed from the probabilities as written (rounded), with the ranking scikit-learn's
``top_k_accuracy_score`` uses (ties go to the higher class index), so ``evaluate@recognition`` recomputes the
same numbers from the CSVs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import metrics as skm

from ...evaluation.classification import balanced_accuracy

__all__ = ["DECIMALS", "METRICS", "RecognitionTask", "inputs_of", "prediction_rows", "probabilities_of", "ranking", "scores",
           "scores_of_rows", "top_k_of"]  # fmt: skip

TOP_K = 5
DECIMALS = 6  # decimals of the written probabilities
METRICS = ("top1", "top5", "mean_class_accuracy")


def inputs_of(batch: dict) -> torch.Tensor:
    """What the model takes: the clips (``video``) or, training from the feature store, the ``features``."""
    return batch["video"] if "video" in batch else batch["features"]


def top_k_of(n_classes: int) -> int:
    """The k of the ``top5`` metric: 5, or every class when there are fewer."""
    return min(TOP_K, int(n_classes))


def ranking(probs: np.ndarray) -> np.ndarray:
    """Class indices of each row of ``probs`` (N, K), best first, ties to the higher index (as scikit-learn ranks)."""
    return np.argsort(np.asarray(probs), axis=1, kind="mergesort")[:, ::-1]


def rounded(probs: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(probs, np.float64), DECIMALS)


def prediction_rows(sample_ids: Sequence[str], labels: Sequence[int], probs: np.ndarray) -> list[dict]:
    """One row per clip from the softmax ``probs`` (N, K): the prediction is the first of the ranking."""
    p = rounded(probs)
    order = ranking(p)[:, : top_k_of(p.shape[1])]
    return [{"sample_id": sid, "label": int(y), "prediction": int(o[0]), "top5": " ".join(str(int(c)) for c in o),
             "probabilities": " ".join(f"{v:.{DECIMALS}f}" for v in row)}
            for sid, y, o, row in zip(sample_ids, labels, order, p)]  # fmt: skip


def scores(labels: Sequence[int], probs: np.ndarray, predictions: Sequence[int] | None = None) -> dict[str, float]:
    """top1 (of ``predictions``, default the ranking's first), top5 (k = min(5, K)) and mean class accuracy;
    NaN for no clips."""
    y = np.asarray(labels, np.int64)
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"probabilities of shape {p.shape} for {len(y)} labels (expected (N, classes))")
    k_classes = p.shape[1]
    if not len(y):
        return dict.fromkeys(METRICS, math.nan)
    pred = ranking(p)[:, 0] if predictions is None else np.asarray(predictions, np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "'k' ... will result in a perfect score" (fewer than 6 classes)
        score = p[:, 1] if k_classes == 2 else p  # scikit-learn takes the positive column alone for two classes
        top5 = skm.top_k_accuracy_score(y, score, k=top_k_of(k_classes), labels=np.arange(k_classes))
    return {"top1": float(skm.accuracy_score(y, pred)), "top5": float(top5),
            "mean_class_accuracy": balanced_accuracy(y, pred, k_classes)}  # fmt: skip


class RecognitionTask:
    """TaskAdapter of the clip classifier (see the module doc); ``loss`` is the training loss
    (:func:`replaylab.training.build_loss`: class weights, label smoothing, focal)."""

    def __init__(self, loss: torch.nn.Module, *, num_classes: int, prefix: str = "val") -> None:
        if num_classes < 2:
            raise ValueError(f"recognition needs at least two classes, got {num_classes}")
        self.loss = loss
        self.num_classes = int(num_classes)
        self.prefix = prefix

    def for_prefix(self, prefix: str) -> RecognitionTask:
        return RecognitionTask(self.loss, num_classes=self.num_classes, prefix=prefix)

    def batch_size_of(self, batch: dict) -> int:
        return int(batch["label"].shape[0])

    def training_loss(self, model: torch.nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        logits = model(inputs_of(batch).to(device, non_blocking=True))
        return self.loss(logits.float(), batch["label"].to(device))

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[list[dict], float]:
        """Prediction rows of every clip of ``loader`` (in order) and the mean cross-entropy."""
        was_training = model.training
        model.eval()
        samples = loader.dataset.index.samples
        ids, labels, probs = [], [], []
        total = 0.0
        for batch in loader:
            logits = model(inputs_of(batch).to(device)).float()
            if logits.shape[1] != self.num_classes:
                raise ValueError(f"the model gives {logits.shape[1]} logits for {self.num_classes} classes")
            y = batch["label"].to(device)
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            probs.append(torch.softmax(logits, 1).cpu().numpy())
            labels += y.tolist()
            ids += [samples[int(i)].sample_id for i in batch["index"]]
        model.train(was_training)
        p = np.concatenate(probs) if probs else np.zeros((0, self.num_classes))
        return prediction_rows(ids, labels, p), total / max(len(labels), 1)

    def evaluate(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[dict[str, float], list[dict]]:
        rows, loss = self.predict(model, loader, device)
        metrics = scores_of_rows(rows, self.num_classes) | {"loss": loss}
        return {f"{self.prefix}_{k}": float(v) for k, v in metrics.items()}, rows

    def metric_names(self, prefix: str) -> set[str]:
        """The metric keys :meth:`evaluate` returns with ``prefix`` (what ``monitor`` may name)."""
        return {f"{prefix}_{k}" for k in (*METRICS, "loss")}


def probabilities_of(rows: Sequence[dict], n_classes: int, *, where: str = "predictions") -> np.ndarray:
    """The (N, K) probabilities of prediction rows (the ``probabilities`` column parsed back)."""
    out = np.zeros((len(rows), n_classes))
    for n, r in enumerate(rows):
        try:
            vals = [float(v) for v in str(r["probabilities"]).split()]
        except (KeyError, ValueError):
            raise ValueError(f"{where}, row {n + 2}: 'probabilities' must be {n_classes} numbers separated by spaces") from None
        if len(vals) != n_classes:
            raise ValueError(f"{where}, row {n + 2}: {len(vals)} probabilities for {n_classes} classes")
        out[n] = vals
    return out


def scores_of_rows(rows: Sequence[dict], n_classes: int) -> dict[str, float]:
    """:func:`scores` of prediction rows (their written probabilities and predictions)."""
    probs = probabilities_of(rows, n_classes)
    return scores([int(r["label"]) for r in rows], probs, [int(r["prediction"]) for r in rows])
