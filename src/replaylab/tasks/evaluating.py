"""``evaluate@<task>`` for every task: run the task's evaluator (official metrics of the trained model's
predictions, plots, reports); its summary becomes ``metrics/eval_<task>.json``."""

from __future__ import annotations

from .registry import get_task, task_names


def evaluate_task(task: str, params) -> dict:
    spec = get_task(task)
    if spec.evaluate is None:
        raise SystemExit(f"evaluate@{task}: this task has no evaluator (tasks with one: {', '.join(task_names(evaluable=True))})")
    return spec.evaluate(task, params)
