"""The foul task: multi-view foul recognition (SoccerNet-MVFoul), scored with the official rules.

Registers :data:`SPEC`. Its parts: :mod:`.params`, :mod:`.adapter` (loss and official-rule evaluation for the
loop, prediction documents), :mod:`.trainer` (the multi-view network, official prediction files),
:mod:`.evaluate` (``evaluate@foul``) and :mod:`.predict` (``replaylab predict-fouls``).
"""

from __future__ import annotations

from ..lazy import lazy
from ..registry import TaskSpec, register_task
from .params import SPLIT_DEFAULT, FoulCacheParams, FoulEvaluateParams, FoulTrainParams

SPEC = register_task(
    TaskSpec(
        name="foul",
        description="multi-view foul recognition: 8 action classes and 4 offence-severity classes per action",
        package=__name__,
        code=("replaylab.evaluation.mvfoul", "replaylab.data.adapters.mvfoul"),  # the official rules selecting the epoch
        cache_params=FoulCacheParams,
        split_params=SPLIT_DEFAULT,
        train_params=FoulTrainParams,
        trainer=lazy("replaylab.tasks.foul.trainer:FoulTrainer"),
        evaluate_params=FoulEvaluateParams,
        evaluate=lazy("replaylab.tasks.foul.evaluate:evaluate_foul"),
    )
)
