"""A tiny learnable classification problem for the training-loop tests: 8-d inputs, label = sign of a
fixed projection, a small MLP or 1-d conv net, and a TaskAdapter with loss and accuracy."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

DIM = 8


class ToyDataset(Dataset):
    """``n`` samples; ``noise`` > 0 adds numpy-drawn jitter in ``__getitem__`` (an augmentation whose
    randomness the loop's seeding must control)."""

    def __init__(self, n: int, seed: int, noise: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, DIM, generator=g)
        w = torch.linspace(-1.0, 1.0, DIM)
        self.y = (self.x @ w > 0).long()
        self.noise = noise
        self.epochs_seen: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs_seen.append(epoch)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        x = self.x[i]
        if self.noise:
            x = x + torch.from_numpy(np.random.normal(0.0, self.noise, DIM).astype(np.float32))
        return {"x": x, "label": self.y[i], "index": i}

    def class_counts(self) -> list[int]:
        return torch.bincount(self.y, minlength=2).tolist()


def mlp(seed: int = 0, dropout: float = 0.1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


class TinyConv(nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv1d(1, 4, 3, padding=1)
        self.head = nn.Linear(4 * DIM, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.conv(x.unsqueeze(1))).flatten(1))


class ToyTask:
    """TaskAdapter: cross-entropy (or ``loss``), metrics val_loss / val_accuracy, one row per sample."""

    def __init__(self, loss: nn.Module | None = None):
        self.loss = loss if loss is not None else nn.CrossEntropyLoss()
        self.autocast_seen: list[tuple[bool, torch.dtype]] = []
        self.eval_calls = 0
        self.train_steps = 0  # training_loss calls (every optimiser step makes at least one)

    def metric_names(self, prefix: str) -> set[str]:
        return {f"{prefix}_loss", f"{prefix}_accuracy"}

    def batch_size_of(self, batch: dict) -> int:
        return int(batch["label"].shape[0])

    def training_loss(self, model: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        self.train_steps += 1
        self.autocast_seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        logits = model(batch["x"].to(device))
        return self.loss(logits.float(), batch["label"].to(device))

    def evaluate(self, model: nn.Module, loader, device: torch.device) -> tuple[dict[str, float], list[dict]]:
        self.eval_calls += 1
        assert not model.training
        total, correct, n, rows = 0.0, 0, 0, []
        for batch in loader:
            logits = model(batch["x"].to(device)).float()
            labels = batch["label"].to(device)
            total += float(F.cross_entropy(logits, labels, reduction="sum"))
            pred = logits.argmax(1)
            correct += int((pred == labels).sum())
            n += len(labels)
            probs = torch.softmax(logits, 1)[:, 1]
            for i, lab, p, q in zip(batch["index"].tolist(), labels.tolist(), pred.tolist(), probs.tolist()):
                rows.append({"sample_id": f"s{i:04d}", "label": lab, "prediction": p, "probability": round(q, 6)})
        return {"val_loss": total / n, "val_accuracy": correct / n}, rows


def params_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def tree_bytes(root) -> dict[str, bytes]:
    """Every file under ``root``: relative path -> bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
