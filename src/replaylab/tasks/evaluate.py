"""``evaluate@<task>``: score a trained task's predictions against the ground truth; one evaluator per task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _header(task: str, params) -> dict:
    from .header_eval import evaluate_header

    return evaluate_header(task, params)


def _foul(task: str, params) -> dict:
    from .foul_eval import evaluate_foul

    return evaluate_foul(task, params)


#: task -> evaluator(task, params) -> the metrics summary (written to metrics/eval_<task>.json)
EVALUATORS: dict[str, Callable[[str, Any], dict]] = {"header": _header, "foul": _foul}


def evaluate_task(task: str, params) -> dict:
    evaluator = EVALUATORS.get(task)
    if evaluator is None:
        raise SystemExit(f"evaluate@{task}: no evaluator for this task yet (have: {', '.join(EVALUATORS)})")
    return evaluator(task, params)
