"""``train@<task>`` for every task: the generic part of training, driven by the task's :class:`Trainer`.

The driver builds the task's clip datasets (cache + split CSVs), a :class:`TrainConfig` from
``train.<task>``, asks the task for its model and loop adapter (:class:`Trainable`), and runs
:func:`replaylab.training.fit` with a training identity that covers the data (content hashes of the clip
cache and of the split files), the code (the sources of the model, loop, data and task packages) and the
config. A finished ``models/<task>/`` is only reused when all three are unchanged; otherwise training
starts fresh and the log names what changed. The selected checkpoint is then scored on the test split
once by the task (``Trainer.finish``), and the summary becomes ``metrics/train_<task>.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.augment import AugmentConfig
from ..data.cache import read_cache_meta
from ..data.dataset import ClipDataset
from ..io import write_text
from ..training import TrainConfig, fit, load_best
from ..training.distributed import is_main
from ..training.fingerprint import code_digest, file_digest
from .registry import TaskSpec, get_task

__all__ = [
    "ClipData",
    "feature_data",
    "Trainable",
    "TrainContext",
    "round_metric",
    "train_config",
    "train_seed",
    "train_task",
    "training_code",
    "training_identity",
]

#: Modules whose source defines every trained model (the task's own package and its ``TaskSpec.code`` are added
#: per task, see :func:`training_code`): the model and loop packages, the clip dataset with what it reads (cache
#: metadata, split CSVs) and this driver.
CODE = ("replaylab.models", "replaylab.training", "replaylab.data.dataset", "replaylab.data.augment", "replaylab.data.cache",
        "replaylab.data.samples", "replaylab.tasks.training")  # fmt: skip
TIMING_DIR = "logs"  # git-ignored, not a DVC output
#: ``train.<task>`` keys that change how fast a run goes, not what it learns (not part of the identity).
NOT_IDENTITY = ("epochs", "threads", "num_workers", "device", "view_chunk")
#: What a model trained on stored features is also made of.
FEATURES_CODE = (
    "replaylab.features.dataset",
    "replaylab.features.heads",
    "replaylab.features.store",
    "replaylab.features.featurize",
)


@dataclass
class ClipData:
    """The task's clip cache and splits as datasets."""

    cache: Path
    split_dir: Path
    meta: dict[str, Any]  # the cache's metadata (spec, classes, sample ids)
    train: ClipDataset
    val: ClipDataset
    test: ClipDataset

    @property
    def spec(self) -> dict[str, Any]:
        return self.meta["spec"]


@dataclass
class TrainContext:
    """What a task's trainer gets: its spec, the params, its section, the datasets and the loop settings."""

    spec: TaskSpec
    params: Any
    cfg: Any  # train.<task>
    data: ClipData
    tcfg: TrainConfig
    norm: str  # the input normalisation in use (resolved from ``norm: auto``)
    out_dir: Path
    live_dir: Path
    features: dict[str, Any] | None = None  # input features: the store model's identity (``model.json``), else None


@dataclass
class Trainable:
    """A task's model and everything the loop and the summary need about it."""

    model: nn.Module
    adapter: Any  # a replaylab.training.TaskAdapter
    identity: dict[str, Any]  # what defines the model beyond train.<task> (architecture, classes, inputs)
    param_groups: list[dict] | None = None
    class_counts: list[int] | None = None
    resolved: dict[str, Any] = field(default_factory=dict)  # extra entries of config.yaml
    summary: dict[str, Any] = field(default_factory=dict)  # entries of metrics/train_<task>.json known before training
    collate_fn: Any = None


def train_config(cfg, *, seed: int) -> TrainConfig:
    """TrainConfig from a validated ``train.<task>`` section (``lr`` fills an unset ``lr_backbone`` / ``lr_head``)."""
    values = cfg.model_dump()
    values["lr_backbone"] = cfg.lr_backbone if cfg.lr_backbone is not None else cfg.lr
    values["lr_head"] = cfg.lr_head if cfg.lr_head is not None else cfg.lr
    return TrainConfig.from_dict(values, seed=seed)


def train_seed(params, cfg) -> int:
    """``train.<task>.seed``, or the top-level seed when it is null (vary it alone for a run-to-run spread)."""
    return params.seed if getattr(cfg, "seed", None) is None else int(cfg.seed)


def round_metric(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else round(v, 4)


def to_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    buf = StringIO()
    y = YAML()
    y.default_flow_style = False
    y.dump(json.loads(json.dumps(data)), buf)
    return buf.getvalue()


def clip_data(spec: TaskSpec, params, cfg, norm: str) -> ClipData:
    out = spec.outputs(params)
    aug = AugmentConfig(**cfg.augment.model_dump())
    train_kw, eval_kw = spec.trainer.dataset_options(cfg)

    def make(name: str, train: bool) -> ClipDataset:
        kw = train_kw if train else eval_kw
        return ClipDataset(out.cache, out.splits / f"{name}.csv", train=train, norm=norm, augment_cfg=aug if train else None,
                           seed=train_seed(params, cfg), **kw)  # fmt: skip

    return ClipData(
        out.cache, out.splits, read_cache_meta(out.cache), make("train", True), make("val", False), make("test", False)
    )


def feature_data(spec: TaskSpec, params, cfg) -> tuple[ClipData, dict[str, Any]]:
    """``input: features``: the task's splits as :class:`~replaylab.features.dataset.FeatureDataset` over the
    store model ``features_model`` (default: the first of ``featurize.<task>.models``), and that model's identity."""
    from ..features.dataset import FeatureDataset
    from ..features.featurize import check_store_current
    from ..features.store import FeatureStoreError, ModelStore

    out = spec.outputs(params)
    store_dir = Path(params.featurize.out_dir) / spec.data_name
    fz = getattr(params.featurize, spec.data_name)
    key = cfg.features_model or fz.models[0].key
    model_cfg = next((m for m in fz.models if m.key == key), None)
    if model_cfg is None:
        raise FeatureStoreError(f"train.{spec.name}.features_model: {key!r} is not a key of featurize.{spec.data_name}.models "
                                f"({', '.join(m.key for m in fz.models)})")  # fmt: skip
    store = ModelStore.read(store_dir, key, maps=cfg.features_source == "map")
    meta = read_cache_meta(out.cache)
    check_store_current(store.info, model_cfg, cache_h5=out.cache, cache_spec=meta["spec"], dtype=fz.dtype, seed=params.seed,
                        where=store_dir / key)  # fmt: skip
    train_kw, eval_kw = spec.trainer.dataset_options(cfg)

    def make(name: str, train: bool) -> FeatureDataset:
        kw = train_kw if train else eval_kw
        return FeatureDataset(store, out.splits / f"{name}.csv", classes=meta["classes"], train=train, seed=train_seed(params, cfg),
                              source=cfg.features_source, where=store_dir / key, **kw)  # fmt: skip

    info = {k: v for k, v in store.info.items() if k not in ("shards", "cache_spec", "classes")}
    info["store"] = str(store_dir)
    return ClipData(out.cache, out.splits, meta, make("train", True), make("val", False), make("test", False)), info


def training_identity(spec: TaskSpec, params, cfg, trainable: Trainable) -> dict[str, Any]:
    """Everything a trained model was made from: data (content hashes), code (source hash) and config; with
    ``input: features`` also the feature store (index, the model's description and shards)."""
    out = spec.outputs(params)
    config = {k: v for k, v in cfg.model_dump().items() if k not in NOT_IDENTITY}
    inputs = {"cache": file_digest(out.cache)}
    inputs |= {f"split_{name}": file_digest(out.splits / f"{name}.csv") for name in ("train", "val", "test")}
    if cfg.input == "features":
        from ..features.store import store_digest

        key = cfg.features_model or getattr(params.featurize, spec.data_name).models[0].key
        inputs["features"] = store_digest(Path(params.featurize.out_dir) / spec.data_name, key)
    return {
        "task": spec.name,
        "seed": train_seed(params, cfg),
        "config": config,
        "model": trainable.identity,
        "inputs": inputs,
        "code": code_digest(*training_code(spec, cfg)),
    }


def training_code(spec: TaskSpec, cfg) -> tuple[str, ...]:
    """The modules whose source a model of ``spec`` trained with ``train.<task>`` = ``cfg`` is made of: :data:`CODE`,
    the task's package, the modules its spec names (``TaskSpec.code``) and, with ``input: features``,
    :data:`FEATURES_CODE` (each once, in that order)."""
    code = (*CODE, spec.package, *spec.code, *(FEATURES_CODE if cfg.input == "features" else ()))
    return tuple(dict.fromkeys(code))


def train_task(task: str, params) -> dict | None:
    """Train ``task`` from params; the summary (``metrics/train_<task>.json``) on rank 0, None elsewhere."""
    from ..models import normalisation_of

    spec = get_task(task)
    if spec.trainer is None:
        raise SystemExit(f"train@{task}: this task has no trainer (tasks with one: "
                         f"{', '.join(t for t in _trainable())})")  # fmt: skip
    cfg = getattr(params.train, task)
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    seed = train_seed(params, cfg)
    torch.manual_seed(seed)  # the model's initial weights (the loop reseeds per epoch after this)
    features = None
    if cfg.input == "features":
        data, features = feature_data(spec, params, cfg)
        norm = features["norm"]
        warn_unused_augment(task, cfg)
    else:
        own_norm = getattr(spec.trainer, "input_norm", None)  # a task whose video input is fixed by its own model
        norm = own_norm(params, cfg) if own_norm else normalisation_of(cfg.backbone) if cfg.norm == "auto" else cfg.norm
        data = clip_data(spec, params, cfg, norm)
    tcfg = train_config(cfg, seed=seed)
    out = spec.outputs(params)
    ctx = TrainContext(spec=spec, params=params, cfg=cfg, data=data, tcfg=tcfg, norm=norm, out_dir=out.model, live_dir=out.live,
                       features=features)  # fmt: skip
    trainable = spec.trainer.build(ctx)
    identity = training_identity(spec, params, cfg, trainable)
    check_monitor(task, tcfg.monitor, trainable.adapter)  # before anything of a previous run is touched
    if is_main():
        resolved = {"task": task, "seed": seed, "train": cfg.model_dump(), "cache_spec": data.spec,
                    "normalisation": norm, "input": cfg.input, **({"features": features} if features else {}),
                    **trainable.resolved, "train_config": asdict(tcfg)}  # fmt: skip
        write_text(out.model / "config.yaml", to_yaml(resolved))
    result = fit(model=trainable.model, task=trainable.adapter, train_set=data.train, val_set=data.val, cfg=tcfg,
                 out_dir=out.model, live_dir=out.live, param_groups=trainable.param_groups,
                 class_counts=trainable.class_counts, collate_fn=trainable.collate_fn, resume_key=identity,
                 timing_path=timing_path(task))  # fmt: skip
    if not is_main():
        return None
    load_best(trainable.model, out.model)  # the selected checkpoint, scored once on the test split by the task
    summary = {
        "backbone": features["backbone"] if features else cfg.backbone,
        "input": cfg.input,
        **trainable.summary,
        "parameters": sum(p.numel() for p in trainable.model.parameters()),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
    }
    return summary | spec.trainer.finish(ctx, trainable, result)


def timing_path(task: str) -> Path:
    """Epoch times and throughput of the last ``train@<task>`` (wall-clock figures stay out of DVC outputs)."""
    return Path(TIMING_DIR) / f"train_{task}_timing.csv"


def warn_unused_augment(task: str, cfg) -> None:
    """Stored features are fixed: augmentation settings have no effect in features mode (said once in the log)."""
    import logging

    active = {k: v for k, v in cfg.augment.model_dump().items() if v}
    if active:
        logging.getLogger("replaylab.training").warning(
            "train.%s.input: features: the stored features are not augmented (train.%s.augment %s is not applied)",
            task, task, ", ".join(f"{k}={v}" for k, v in active.items()))  # fmt: skip


def check_monitor(task: str, monitor: str, adapter: Any) -> None:
    """``train.<task>.monitor`` must be one of the validation metrics the task's adapter reports."""
    names = getattr(adapter, "metric_names", None)
    if names is None:
        return
    valid = sorted(names("val"))
    if monitor not in valid:
        raise SystemExit(f"train.{task}.monitor: {monitor!r} is not a validation metric of this task; choose one of: "
                         f"{', '.join(valid)}")  # fmt: skip


def _trainable() -> list[str]:
    from .registry import task_names

    return task_names(trainable=True)
