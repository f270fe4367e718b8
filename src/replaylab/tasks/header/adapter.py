"""The header clip classifier: loss and evaluation for the training loop, and its plot files.

Evaluation returns the metrics the loop logs and selects on (``<prefix>_loss``, ``_auroc``, ``_ap``,
``_f1``, ``_accuracy``, ``_precision``, ``_recall``) and one prediction row per clip
(``sample_id, label, probability, prediction``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...evaluation.classification import auroc, average_precision, binary_report, confusion_matrix, pr_curve, roc_curve
from ...io import write_csv

CLASSES = ("no_header", "header")


def inputs_of(batch: dict) -> torch.Tensor:
    """What the model takes: the clips (``video``) or, training from the feature store, the ``features``."""
    return batch["video"] if "video" in batch else batch["features"]


class HeaderTask:
    """TaskAdapter for the header clip classifier.

    The model's logits are either binary (no_header, header) or one per event type (``header`` and each
    kind of negative: kick, chest, fly_past, ..., random), which gives the network finer supervision on
    the look-alikes; ``positive`` is the header column, and the header probability is its softmax.
    ``train_targets`` (event-type ids by position in the training split) replace the binary labels in
    the loss when given.
    """

    def __init__(self, loss: torch.nn.Module, *, threshold: float = 0.5, positive: int = 1, prefix: str = "val",
                 train_targets: torch.Tensor | None = None):  # fmt: skip
        self.loss = loss
        self.threshold = threshold
        self.positive = positive
        self.prefix = prefix
        self.train_targets = train_targets

    def batch_size_of(self, batch: dict) -> int:
        return int(batch["label"].shape[0])

    def training_loss(self, model: torch.nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        logits = model(inputs_of(batch).to(device, non_blocking=True))
        target = self.train_targets[batch["index"]] if self.train_targets is not None else batch["label"]
        return self.loss(logits.float(), target.to(device))

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[list[dict], float]:
        """Prediction rows for every clip of ``loader`` (in order) and the mean binary cross-entropy of the
        header probability."""
        was_training = model.training
        model.eval()
        samples = loader.dataset.index.samples
        rows: list[dict] = []
        total, n = 0.0, 0
        for batch in loader:
            logits = model(inputs_of(batch).to(device)).float()
            labels = batch["label"].to(device)
            p_header = torch.softmax(logits, 1)[:, self.positive].clamp(1e-7, 1 - 1e-7)
            total += float(F.binary_cross_entropy(p_header, labels.float(), reduction="sum"))
            n += len(labels)
            probs = p_header.cpu().numpy()
            for i, lab, p in zip(batch["index"].tolist(), labels.tolist(), probs.tolist()):
                rows.append({"sample_id": samples[i].sample_id, "label": int(lab), "probability": round(float(p), 6),
                             "prediction": int(p >= self.threshold)})  # fmt: skip
        model.train(was_training)
        return rows, total / max(n, 1)

    def evaluate(self, model: torch.nn.Module, loader, device: torch.device) -> tuple[dict[str, float], list[dict]]:
        rows, loss = self.predict(model, loader, device)
        return with_prefix(scores(rows, threshold=self.threshold) | {"loss": loss}, self.prefix), rows

    def metric_names(self, prefix: str) -> set[str]:
        """The metric keys :meth:`evaluate` returns with ``prefix`` (what ``monitor`` may name)."""
        probe = [{"label": 0, "probability": 0.2}, {"label": 1, "probability": 0.8}]
        return {f"{prefix}_{k}" for k in (*scores(probe, threshold=self.threshold), "loss")}


def scores(rows: list[dict], *, threshold: float = 0.5) -> dict[str, float]:
    labels = [r["label"] for r in rows]
    probs = [r["probability"] for r in rows]
    rep = binary_report(labels, probs, threshold=threshold)
    return {"auroc": auroc(labels, probs), "ap": average_precision(labels, probs), **rep}


def with_prefix(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{k}": (float(v) if v is not None else float("nan")) for k, v in metrics.items()}


def write_plot_files(rows: list[dict], out_dir: str | os.PathLike) -> None:
    """ROC, PR and confusion-matrix data for ``dvc plots`` (CSV, one file per plot)."""
    out = Path(out_dir)
    labels = np.array([r["label"] for r in rows])
    probs = np.array([r["probability"] for r in rows])
    if len(set(labels.tolist())) == 2:
        fpr, tpr, thr = roc_curve(labels, probs)
        write_csv(out / "roc.csv", ["fpr", "tpr", "threshold"], [[round(a, 6), round(b, 6), "inf" if np.isinf(t) else round(t, 6)]
                                                                 for a, b, t in zip(fpr, tpr, thr)])  # fmt: skip
        precision, recall, thr = pr_curve(labels, probs)
        write_csv(out / "pr.csv", ["recall", "precision", "threshold"],
                  [[round(r, 6), round(p, 6), round(t, 6)] for r, p, t in zip(recall, precision, thr)])  # fmt: skip
    else:  # one class only: the curves are undefined; keep the files so dvc plots has something to read
        write_csv(out / "roc.csv", ["fpr", "tpr", "threshold"], [])
        write_csv(out / "pr.csv", ["recall", "precision", "threshold"], [])
    write_csv(out / "confusion.csv", ["actual", "predicted"], [[CLASSES[r["label"]], CLASSES[r["prediction"]]] for r in rows])


def confusion(rows: list[dict]) -> list[list[int]]:
    return confusion_matrix([r["label"] for r in rows], [r["prediction"] for r in rows], 2).tolist()
