"""The kd task: distillation fusion (TC-BombKD) on the recognition task's clips and feature store.

Registers :data:`SPEC` (``data: recognition``: it reads ``recognition``'s cache, splits and ``featurize@recognition``
store, and has no cache of its own). Its parts: :mod:`.params` (``train.kd``, ``evaluate.kd``), :mod:`.distill`
(phase 1: converters from student to teacher features), :mod:`.model` (student + converters + fusion head),
:mod:`.trainer` (``train@kd``: both phases, the reference heads), :mod:`.evaluate` (``evaluate@kd``) and
:mod:`.predict` (``replaylab predict-clips``: student + converters + fusion on new clips, no teacher loaded).
"""

from __future__ import annotations

from ..lazy import lazy
from ..registry import TaskSpec, register_task
from .params import KdEvaluateParams, KdTrainParams

__all__ = ["SPEC", "KdEvaluateParams", "KdTrainParams"]

SPEC = register_task(
    TaskSpec(
        name="kd",
        description="distillation fusion on the recognition data: converters to teacher feature spaces + fusion head; "
        "only the student runs at test time",
        package=__name__,
        cache_params=None,
        split_params=None,
        train_params=KdTrainParams,
        trainer=lazy("replaylab.tasks.kd.trainer:KdTrainer"),
        evaluate_params=KdEvaluateParams,
        evaluate=lazy("replaylab.tasks.kd.evaluate:evaluate_kd"),
        data="recognition",
        code=(
            "replaylab.kd",
            "replaylab.tasks.recognition",
            "replaylab.features.store",
            "replaylab.features.featurize",
            "replaylab.features.dataset",
            "replaylab.evaluation.classification",
        ),
    )
)
