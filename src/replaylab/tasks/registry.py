"""The task registry: one :class:`TaskSpec` per task, and how tasks are found.

A task is one package under ``replaylab.tasks`` (or any importable package of a user's) whose import
registers a :class:`TaskSpec`. The spec says everything the generic stages need:

* what it reads: the schema of its ``cache_clips.<name>`` section (clip settings plus a ``source`` whose
  ``format`` picks an adapter of :mod:`replaylab.data.adapters`) and its default ``split.<name>``;
* how it trains (optional): the schema of ``train.<name>`` and a :class:`Trainer` (datasets options, the
  model and its adapter for the loop, the final test pass), and ``code``: the modules outside the task's package
  that its training uses (hashed into the training identity with the package);
* how it is evaluated (optional): the schema of ``evaluate.<name>`` and an ``evaluate(task, params)`` function;
* its output paths, derived from params (:class:`TaskOutputs`).

The params schema (:mod:`replaylab.params`) is assembled from the registered specs, so a task's keys are
validated like every other key. Built-in tasks are listed in :data:`BUILTIN`; more come from the
``REPLAYLAB_TASKS`` environment variable (comma-separated module names) or from :func:`register_task`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

__all__ = [
    "BUILTIN",
    "TASKS_ENV",
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

#: Packages of the built-in tasks, imported (in this order) the first time the registry is read.
BUILTIN: tuple[str, ...] = (
    "replaylab.tasks.header",
    "replaylab.tasks.foul",
    "replaylab.tasks.actions",
    "replaylab.tasks.recognition",
    "replaylab.tasks.kd",
)
TASKS_ENV = "REPLAYLAB_TASKS"  # extra task modules to import, comma-separated (plugins outside this package)


@dataclass(frozen=True)
class TaskOutputs:
    """Where a task's stages write (relative to the project root, from params)."""

    cache: Path  # data/cache/<task>.h5
    index: Path  # data/cache/<task>_index.csv
    splits: Path  # data/splits/<task>/
    model: Path  # models/<task>/
    live: Path  # dvclive/<task>/
    reports: Path  # reports/<task>/
    train_metrics: Path  # metrics/train_<task>.json
    eval_metrics: Path  # metrics/eval_<task>.json


class Trainer(Protocol):
    """The training side of a task, driven by :func:`replaylab.tasks.training.train_task`.

    * ``dataset_options(cfg)``: extra keyword arguments of :class:`~replaylab.data.dataset.ClipDataset` for the
      training split (e.g. ``views``) and for evaluation splits, as ``(train_kwargs, eval_kwargs)``;
    * ``build(ctx)``: the model, its adapter for the loop and what identifies them (:class:`~.training.Trainable`);
    * ``finish(ctx, trainable, result)``: score the test split once with the selected checkpoint (already loaded
      into ``trainable.model``), write the task's prediction files and return the task-specific part of
      ``metrics/train_<task>.json``.
    """

    def dataset_options(self, cfg: Any) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def build(self, ctx: Any) -> Any: ...

    def finish(self, ctx: Any, trainable: Any, result: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TaskSpec:
    """One task: its params schemas and the code the generic stages call."""

    name: str
    description: str
    package: str  # the module that defines the task (its source is part of a trained model's identity)
    cache_params: type[BaseModel] | None  # None: the task reads another task's data (``data``)
    split_params: BaseModel | None  # the default split.<name> section (its schema is shared by every task)
    train_params: type[BaseModel] | None = None
    trainer: Trainer | None = None
    evaluate_params: type[BaseModel] | None = None
    evaluate: Callable[[str, Any], dict] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # anything else a task's own stages need
    # modules outside ``package`` its training uses (beyond the generic ones of replaylab.tasks.training.CODE):
    # their source is part of a trained model's identity too (e.g. the metric that selects the checkpoint)
    code: tuple[str, ...] = ()
    #: another task whose clip cache, splits and feature store this task reads (it then has no
    #: ``cache_clips`` / ``split`` / ``featurize`` section of its own), e.g. ``kd`` reads ``recognition``'s
    data: str | None = None

    @property
    def data_name(self) -> str:
        """The task whose cache, splits and feature store this task reads (itself unless ``data`` is set)."""
        return self.data or self.name

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"task name {self.name!r} must be a Python identifier (it is a params key)")
        if (self.train_params is None) != (self.trainer is None):
            raise ValueError(f"task {self.name!r}: train_params and trainer come together")
        if (self.evaluate_params is None) != (self.evaluate is None):
            raise ValueError(f"task {self.name!r}: evaluate_params and evaluate come together")
        if (self.data is None) != (self.cache_params is not None and self.split_params is not None):
            raise ValueError(f"task {self.name!r}: give cache_params and split_params, or data (another task's data)")
        if isinstance(self.code, str) or not all(isinstance(m, str) and m for m in self.code):
            raise ValueError(f"task {self.name!r}: code must be a tuple of module names, got {self.code!r}")

    def outputs(self, params: Any) -> TaskOutputs:
        n, d = self.name, self.data_name
        return TaskOutputs(
            cache=Path(params.cache_clips.out_dir) / f"{d}.h5",
            index=Path(params.cache_clips.out_dir) / f"{d}_index.csv",
            splits=Path(params.split.out_dir) / d,
            model=Path(params.train.out_dir) / n,
            live=Path(params.train.live_dir) / n,
            reports=Path(params.evaluate.out_dir) / n,
            train_metrics=Path("metrics") / f"train_{n}.json",
            eval_metrics=Path("metrics") / f"eval_{n}.json",
        )


_REGISTRY: dict[str, TaskSpec] = {}
_loaded: set[str] = set()
_version = [0]  # bumped on every change (the params schema is rebuilt when it moves)


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add ``spec`` (a name registers once; registering the same spec again is a no-op)."""
    have = _REGISTRY.get(spec.name)
    if have is not None and have is not spec:
        if have.package != spec.package:
            raise ValueError(f"task {spec.name!r} is already registered by {have.package}")
    _REGISTRY[spec.name] = spec
    _version[0] += 1
    return spec


def unregister_task(name: str) -> None:
    """Remove a task (tests and plugins that replace one)."""
    if _REGISTRY.pop(name, None) is not None:
        _version[0] += 1


def _load() -> None:
    extra = [m.strip() for m in os.environ.get(TASKS_ENV, "").split(",") if m.strip()]
    for module in (*BUILTIN, *extra):
        if module not in _loaded:
            try:
                importlib.import_module(module)
            except ImportError as err:
                raise ImportError(f"task module {module!r} cannot be imported ({TASKS_ENV} or built-in): {err}") from err
            _loaded.add(module)


def registry_version() -> int:
    _load()
    return _version[0]


def all_tasks() -> list[TaskSpec]:
    """Every registered task: built-ins first (in :data:`BUILTIN` order), then the others as they registered."""
    _load()
    rank = {m: i for i, m in enumerate(BUILTIN)}
    return sorted(_REGISTRY.values(), key=lambda t: rank.get(t.package, len(rank)))


def task_names(*, trainable: bool = False, evaluable: bool = False, own_data: bool = False) -> list[str]:
    """Registered task names; ``own_data``: only tasks with a clip cache of their own (not reading another's)."""
    return [t.name for t in all_tasks() if (not trainable or t.trainer is not None) and (not evaluable or t.evaluate is not None)
            and (not own_data or t.data is None)]  # fmt: skip


def get_task(name: str) -> TaskSpec:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(_REGISTRY)}") from None


def task_from_argv(argv: list[str], stage: str, *, need: str | None = None) -> str:
    """The task named on a stage script's command line (``python stages/<stage>.py <task>``); ``need``
    (``"trainer"`` / ``"evaluate"`` / ``"data"``: a clip cache of its own) requires the task to have that part."""
    names = task_names(trainable=need == "trainer", evaluable=need == "evaluate", own_data=need == "data")
    if len(argv) != 2 or argv[1] not in names:
        got = " ".join(argv[1:]) or "nothing"
        raise SystemExit(f"usage: python stages/{stage}.py {{{','.join(names)}}} (got {got})")
    return argv[1]
