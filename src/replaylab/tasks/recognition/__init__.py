"""The recognition task: classify short trimmed clips (UCF101 / HMDB51 layouts with their official split lists, Kinetics-400 CSVs).

Registers :data:`SPEC`. Its parts: :mod:`.params` (params sections), :mod:`.adapter` (cross-entropy, top-1 /
top-5 / mean class accuracy for the training loop), :mod:`.trainer` (``train@recognition``: a registry backbone +
pooling head on the clips, or the head alone on the feature store) and :mod:`.evaluate` (``evaluate@recognition``:
the metrics recomputed from the prediction CSVs, per-class accuracy, confusion matrices).
"""

from __future__ import annotations

from ..lazy import lazy
from ..registry import TaskSpec, register_task
from .params import SPLIT_DEFAULT, RecognitionCacheParams, RecognitionEvaluateParams, RecognitionTrainParams

__all__ = ["SPEC", "RecognitionCacheParams", "RecognitionEvaluateParams", "RecognitionTrainParams"]

SPEC = register_task(
    TaskSpec(
        name="recognition",
        description="classify short clips (UCF101 / HMDB51 split lists, Kinetics CSVs): clip classifier, top-1 / top-5 / mean class accuracy",
        package=__name__,
        cache_params=RecognitionCacheParams,
        split_params=SPLIT_DEFAULT,
        train_params=RecognitionTrainParams,
        trainer=lazy("replaylab.tasks.recognition.trainer:RecognitionTrainer"),
        evaluate_params=RecognitionEvaluateParams,
        evaluate=lazy("replaylab.tasks.recognition.evaluate:evaluate_recognition"),
        code=("replaylab.evaluation.classification",),
    )
)
