"""Tasks as plugins. Each task is one package (``replaylab.tasks.<name>``) that registers a
:class:`TaskSpec`; the generic stages (``cache_clips@``, ``split@``, ``train@``, ``evaluate@``) and the params
schema read everything task-specific from the registry. See docs/adding-a-task.md."""

from __future__ import annotations

from .registry import (
    TaskOutputs,
    TaskSpec,
    Trainer,
    all_tasks,
    get_task,
    register_task,
    task_from_argv,
    task_names,
    unregister_task,
)

__all__ = [
    "TaskOutputs",
    "TaskSpec",
    "Trainer",
    "all_tasks",
    "get_task",
    "register_task",
    "task_from_argv",
    "task_names",
    "unregister_task",
]
