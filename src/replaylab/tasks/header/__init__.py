"""The header task: is there a header in this clip? (the clip classifier of the header detector).

Registers :data:`SPEC`. Its parts: :mod:`.params` (params sections), :mod:`.adapter` (loss, evaluation and
plot files for the training loop), :mod:`.trainer` (model, test pass, summary), :mod:`.evaluate`
(``evaluate@header``: event spotting of every stage of the detector). The pre-/post-filters and inference
on new footage live in :mod:`replaylab.filters` and :mod:`replaylab.inference`.
"""

from __future__ import annotations

from ..lazy import lazy
from ..registry import TaskSpec, register_task
from .params import SPLIT_DEFAULT, EvaluateHeaderParams, HeaderCacheParams, HeaderTrainParams

SPEC = register_task(
    TaskSpec(
        name="header",
        description="header vs. not in short clips around the ball; the clip classifier of the header detector",
        package=__name__,
        code=("replaylab.evaluation.classification",),  # the AUROC selecting the epoch
        cache_params=HeaderCacheParams,
        split_params=SPLIT_DEFAULT,
        train_params=HeaderTrainParams,
        trainer=lazy("replaylab.tasks.header.trainer:HeaderTrainer"),
        evaluate_params=EvaluateHeaderParams,
        evaluate=lazy("replaylab.tasks.header.evaluate:evaluate_header"),
    )
)
