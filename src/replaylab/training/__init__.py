"""One training loop for every ReplayLab task: the task supplies batches, loss and evaluation; :func:`fit`
does the rest (devices, DDP, AMP, accumulation, schedule, model selection, early stopping, checkpoints,
resume, dvclive)."""

from .checkpoint import load_best
from .config import TrainConfig
from .loop import FitResult, NamesMetrics, TaskAdapter, fit
from .losses import build_loss

__all__ = ["FitResult", "NamesMetrics", "TaskAdapter", "TrainConfig", "build_loss", "fit", "load_best"]
