"""The actions task: AVA-style person-action detection (what each person does at each keyframe).

Registers :data:`SPEC`. Its parts: :mod:`.params`, :mod:`.boxes` (training / scoring boxes and targets),
:mod:`.model` (ROI head + optional IA over a backbone map), :mod:`.adapter` (loss and frame-mAP for the loop),
:mod:`.trainer` (``train@actions``), :mod:`.evaluate` (``evaluate@actions``: the official frame-mAP, per class,
against a box-prior baseline) and :mod:`.predict` (``replaylab predict-actions``).
"""

from __future__ import annotations

from ..lazy import lazy
from ..registry import TaskSpec, register_task
from .params import SPLIT_DEFAULT, ActionsCacheParams, ActionsEvaluateParams, ActionsTrainParams

SPEC = register_task(
    TaskSpec(
        name="actions",
        description="what each person does at each keyframe (AVA layout): ROI action head, optional IA, frame-mAP",
        package=__name__,
        code=(
            "replaylab.features.memory",
            "replaylab.features.store",
            "replaylab.evaluation.ava",
        ),  # the IA memory bank and the store it reads, the frame-mAP selecting the epoch
        cache_params=ActionsCacheParams,
        split_params=SPLIT_DEFAULT,
        train_params=ActionsTrainParams,
        trainer=lazy("replaylab.tasks.actions.trainer:ActionsTrainer"),
        evaluate_params=ActionsEvaluateParams,
        evaluate=lazy("replaylab.tasks.actions.evaluate:evaluate_actions"),
    )
)
