"""``train@kd``: distillation fusion (TC-BombKD) on the recognition data, in two phases.

1. **Converters** (:mod:`.distill`): from the stored features of the student (``features_model``) and of each
   teacher (``teachers``; all keys of ``featurize.recognition.models``), one converter per teacher is fitted on the
   train split with early stopping on the val converter loss. Saved as ``converters.pt`` (weights + the teachers'
   standardisation) and ``converters.json`` (per teacher and split: R^2, cosine; epochs).
2. **Fusion head**: converters frozen, the head over [student, converted teachers] trains in the generic loop
   (:func:`replaylab.training.fit`, selection on ``monitor``, early stopping, resume). ``input: features`` reads the
   student's stored features; ``input: video`` decodes the cached clips through the frozen student every step
   (the same network and preprocessing as ``featurize``), so both modes train the same function.

With ``references: true`` two more heads of the same recipe train on stored features, for the table: the
student alone (the concat head without teachers) and each teacher alone (the upper reference; teachers are not
available at test time). The selected checkpoints score val and test once: ``predictions/{val,test}.csv``
(fusion) and ``reference/<row>/predictions/{val,test}.csv``, with ``classes.txt``; ``evaluate@kd`` recomputes
every row from these files.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ...io import write_csv, write_json, write_text
from ...training import build_loss, fit, load_best
from ..recognition.adapter import RecognitionTask
from ..recognition.trainer import CLASSES_FILE, PREDICTION_COLUMNS, PREDICTIONS_DIR
from ..training import Trainable, TrainContext, round_metric
from .distill import ConverterFit, fit_converters

__all__ = ["CONVERTERS_FILE", "KdTrainer", "REFERENCE_DIR", "load_converters", "reference_rows", "save_converters"]

CONVERTERS_FILE = "converters.pt"
REFERENCE_DIR = "reference"


def store_dir(params) -> Path:
    return Path(params.featurize.out_dir) / "recognition"


def read_store(params, key: str, *, maps: bool = False):
    """A model's features from ``featurize@recognition``'s store, checked current against the cache and params."""
    from ...data.cache import read_cache_meta
    from ...features.featurize import check_store_current
    from ...features.store import FeatureStoreError, ModelStore

    fz = params.featurize.recognition
    model_cfg = next((m for m in fz.models if m.key == key), None)
    if model_cfg is None:
        raise FeatureStoreError(f"train.kd: {key!r} is not a key of featurize.recognition.models "
                                f"({', '.join(m.key for m in fz.models)})")  # fmt: skip
    store = ModelStore.read(store_dir(params), key, maps=maps)
    cache = Path(params.cache_clips.out_dir) / "recognition.h5"
    check_store_current(store.info, model_cfg, cache_h5=cache, cache_spec=read_cache_meta(cache)["spec"], dtype=fz.dtype,
                        seed=params.seed, where=store_dir(params) / key)  # fmt: skip
    return store


def split_ids(split_dir: Path) -> dict[str, list[str]]:
    import pandas as pd

    return {
        s: pd.read_csv(split_dir / f"{s}.csv", dtype={"sample_id": str})["sample_id"].tolist() for s in ("train", "val", "test")
    }


def rows_of(store, ids: list[str], where: str) -> np.ndarray:
    missing = [i for i in ids if i not in store.row_of]
    if missing:
        raise ValueError(
            f"{where}: {len(missing)} split samples have no stored features (first: {missing[0]}); run featurize@recognition"
        )
    return np.asarray([store.row_of[i] for i in ids], np.int64)


def student_inputs(store, ids: dict[str, list[str]], tokens: str, where: str) -> dict[str, np.ndarray]:
    """The converters' input per split: pooled vectors, or time tokens (map averaged over space)."""
    out = {}
    for s, sids in ids.items():
        r = rows_of(store, sids, where)
        out[s] = store.pooled[r] if tokens == "pooled" else store.maps[r].mean(axis=(-2, -1)).transpose(0, 2, 1)
    return out


def save_converters(path: Path, fit_: ConverterFit, *, config: dict[str, Any], in_dim: int, teacher_dims: dict[str, int]) -> None:
    from ...io import atomic_path

    state = {"state_dict": fit_.bank.state_dict(), "mean": {t: torch.as_tensor(v) for t, v in fit_.mean.items()},
             "std": {t: torch.as_tensor(v) for t, v in fit_.std.items()}, "in_mean": torch.as_tensor(fit_.in_mean),
             "in_std": torch.as_tensor(fit_.in_std)}  # fmt: skip
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    write_json(path.with_suffix(".json"), {"config": config, "in_dim": in_dim, "teacher_dims": teacher_dims,
                                           "best_epoch": fit_.best_epoch, "epochs_run": fit_.epochs_run,
                                           "metrics": fit_.metrics, "history": fit_.history})  # fmt: skip


def load_converters(path: Path):
    """The converter bank saved by :func:`save_converters` (tensors only: ``weights_only`` loading)."""
    import json

    from ...kd.converters import ConverterBank
    from .distill import converter_options

    info = json.loads(path.with_suffix(".json").read_text())
    cfg = SimpleNamespace(**info["config"])
    bank = ConverterBank(kind=cfg.kind, in_dim=int(info["in_dim"]), teacher_dims=info["teacher_dims"],
                         **converter_options(cfg, tokens=int(info.get("max_tokens", 1))))  # fmt: skip
    state = torch.load(path, map_location="cpu", weights_only=True)
    bank.load_state_dict(state["state_dict"])
    info["in_mean"], info["in_std"] = state["in_mean"], state["in_std"]
    return bank.eval(), info


def head_groups(head: nn.Module, tcfg) -> list[dict]:
    from ...models import param_groups

    return param_groups(SimpleNamespace(backbone=nn.Module(), head=head), lr_backbone=tcfg.lr_head, lr_head=tcfg.lr_head,
                        weight_decay=tcfg.weight_decay)  # fmt: skip


class FeatureHead(nn.Module):
    """A fusion head on one model's stored features alone, standardised with their train-split statistics (the
    student-alone and teacher-alone references)."""

    def __init__(self, head: nn.Module, scale: nn.Module) -> None:
        super().__init__()
        self.head, self.scale = head, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.scale(x), [])


def fusion_options(cfg) -> dict[str, Any]:
    f = cfg.fusion
    return {"concat": {"hidden": f.hidden, "dropout": cfg.dropout},
            "gated": {"width": f.width, "gate_hidden": f.gate_hidden, "dropout": cfg.dropout},
            "attention": {"width": f.width, "dropout": cfg.dropout}}[f.kind]  # fmt: skip


def score_splits(model: nn.Module, adapter: RecognitionTask, data: dict[str, Any], out_dir: Path, classes: list[str],
                 batch_size: int) -> dict[str, dict[str, float]]:  # fmt: skip
    """Score val and test with the loaded checkpoint; write ``predictions/{split}.csv`` and ``classes.txt``."""
    device = next(model.parameters()).device
    write_text(out_dir / PREDICTIONS_DIR / CLASSES_FILE, "".join(f"{c}\n" for c in classes))
    scored = {}
    for name in ("val", "test"):
        loader = DataLoader(data[name], batch_size=batch_size, num_workers=0)
        metrics, rows = adapter.for_prefix(name).evaluate(model, loader, device)
        scored[name] = {k.removeprefix(f"{name}_"): round_metric(v) for k, v in metrics.items()}
        write_csv(
            out_dir / PREDICTIONS_DIR / f"{name}.csv", PREDICTION_COLUMNS, [[r[c] for c in PREDICTION_COLUMNS] for r in rows]
        )
    return scored


def reference_rows(cfg) -> list[str]:
    """The reference heads ``train@kd`` trains (``references: true``): the student alone, then each teacher alone."""
    return ["student", *(f"teacher_{t}" for t in cfg.teachers)] if cfg.references else []


def drop_stale_references(out_dir: Path, *, keep: list[str]) -> None:
    """Remove reference heads of an earlier run that this run's params no longer ask for (evaluate@kd lists the
    directories it finds)."""
    import shutil

    root = out_dir / REFERENCE_DIR
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and d.name not in keep:
                shutil.rmtree(d)


class KdTrainer:
    def dataset_options(self, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def input_norm(self, params, cfg) -> str:
        """Video mode feeds clips normalised as the student's features were made (its store model's norm)."""
        from ...data.cache import read_cache_meta
        from ...features.featurize import model_identity

        model_cfg = next((m for m in params.featurize.recognition.models if m.key == cfg.features_model), None)
        if model_cfg is None:
            raise SystemExit(f"train.kd.features_model: {cfg.features_model!r} is not a key of featurize.recognition.models")
        spec = read_cache_meta(Path(params.cache_clips.out_dir) / "recognition.h5")["spec"]
        return model_identity(model_cfg, spec, dtype=params.featurize.recognition.dtype, seed=params.seed)["norm"]

    def build(self, ctx: TrainContext) -> Trainable:
        from ...features.store import store_digest
        from ...kd.fusion import build_fusion
        from ..training import train_seed

        cfg, params, data = ctx.cfg, ctx.params, ctx.data
        classes = list(data.meta["classes"])
        seed = train_seed(params, cfg)
        ids = split_ids(data.split_dir)
        student = read_store(params, cfg.features_model, maps=cfg.converter.tokens == "time")
        teachers = {t: read_store(params, t) for t in cfg.teachers}
        where = str(store_dir(params))
        inputs = student_inputs(student, ids, cfg.converter.tokens, f"{where}/{cfg.features_model}")
        targets = {t: {s: st.pooled[rows_of(st, sids, f"{where}/{t}")] for s, sids in ids.items()} for t, st in teachers.items()}
        fitted = fit_converters(inputs, targets, cfg.converter, seed=seed)
        in_dim, tdims = int(inputs["train"].shape[-1]), {t: int(v["train"].shape[1]) for t, v in targets.items()}
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        save_converters(
            ctx.out_dir / CONVERTERS_FILE, fitted, config=cfg.converter.model_dump(), in_dim=in_dim, teacher_dims=tdims
        )
        torch.manual_seed(seed)
        fusion = build_fusion(cfg.fusion.kind, student_dim=int(student.pooled.shape[1]), teacher_dims=list(tdims.values()),
                              num_classes=len(classes), **fusion_options(cfg))  # fmt: skip
        enc = None
        if cfg.input == "video":
            from .model import build_student

            enc = build_student(student.info)
        from .distill import floored_std
        from .model import KdNet, Standardise, student_pool

        pool = student_pool(student.info) if enc is None and cfg.features_source == "map" else None
        scale_in = Standardise(fitted.in_mean, fitted.in_std)
        pooled_train = student.pooled[rows_of(student, ids["train"], where)]
        scale_pooled = (
            scale_in if cfg.converter.tokens == "pooled" else Standardise(pooled_train.mean(0), floored_std(pooled_train.std(0)))
        )
        model = KdNet(student=enc, converters=fitted.bank, fusion=fusion, teachers=cfg.teachers, tokens=cfg.converter.tokens,
                      scale_in=scale_in, scale_pooled=scale_pooled, source=cfg.features_source, pool=pool)  # fmt: skip
        tcfg = ctx.tcfg
        counts = np.bincount(np.asarray(data.train.labels, np.int64), minlength=len(classes)).tolist()
        adapter = RecognitionTask(build_loss(tcfg, class_counts=counts), num_classes=len(classes))
        student_info = {k: v for k, v in student.info.items() if k not in ("shards", "cache_spec", "classes")}
        conv_digest = {t: str(np.round(np.asarray(fitted.metrics["val"][t]["r2"]), 6)) for t in cfg.teachers}
        identity = {"classes": classes, "student": student_info, "normalisation": ctx.norm,
                    "student_store": store_digest(store_dir(params), cfg.features_model),
                    "teachers": {t: store_digest(store_dir(params), t) for t in cfg.teachers},
                    "converters": {"best_epoch": fitted.best_epoch, "val_r2": conv_digest}}  # fmt: skip
        self.fitted = fitted
        return Trainable(model=model, adapter=adapter, param_groups=head_groups(fusion, tcfg), class_counts=counts,
                         identity=identity,
                         resolved={"classes": classes, "teachers": list(cfg.teachers), "student": student_info,
                                   "converter_tokens": cfg.converter.tokens, "features_source": cfg.features_source,
                                   "fusion": {"kind": cfg.fusion.kind, "options": fusion_options(cfg),
                                              "student_dim": int(student.pooled.shape[1]), "teacher_dims": tdims}},
                         summary={"classes": len(classes), "teachers": list(cfg.teachers),
                                  "fusion_parameters": sum(p.numel() for p in fusion.parameters())})  # fmt: skip

    def finish(self, ctx: TrainContext, trainable: Trainable, result) -> dict[str, Any]:
        cfg, out_dir = ctx.cfg, ctx.out_dir
        classes = list(ctx.data.meta["classes"])
        data = {"val": ctx.data.val, "test": ctx.data.test}
        scored = score_splits(trainable.model, trainable.adapter, data, out_dir, classes, cfg.batch_size)
        fitted: ConverterFit = self.fitted
        conv = {t: {"best_epoch": fitted.best_epoch, "epochs_run": fitted.epochs_run,
                    **{f"{s}_{k}": round_metric(v) for s in ("val", "test") for k, v in fitted.metrics[s][t].items()}}
                for t in cfg.teachers}  # fmt: skip
        refs = self.references(ctx, trainable) if cfg.references else {}
        drop_stale_references(out_dir, keep=reference_rows(cfg))
        for t, m in conv.items():
            print(f"train@kd converter {t}: test R^2 {m['test_r2']}, test cosine {m['test_cosine']}")
        print(f"train@kd: fusion best epoch {result.best_epoch} of {result.epochs_run}: val top-1 {scored['val']['top1']}, "
              f"test top-1 {scored['test']['top1']}"
              + "".join(f"; {r} test top-1 {m['test']['top1']}" for r, m in refs.items()))  # fmt: skip
        return {"val": scored["val"], "test": scored["test"], "converters": conv, "references": refs,
                "clips": {"train": len(ctx.data.train), "val": len(ctx.data.val), "test": len(ctx.data.test)}}  # fmt: skip

    def references(self, ctx: TrainContext, trainable: Trainable) -> dict[str, Any]:
        """The student-alone and teacher-alone heads (the fusion's recipe, stored features, same seed)."""
        from ...features.dataset import FeatureDataset
        from ...kd.fusion import build_fusion
        from ..training import train_seed

        cfg, params = ctx.cfg, ctx.params
        classes = list(ctx.data.meta["classes"])
        seed = train_seed(params, cfg)
        out: dict[str, Any] = {}
        for row in reference_rows(cfg):
            key = cfg.features_model if row == "student" else row.removeprefix("teacher_")
            store = read_store(params, key)
            sets = {s: FeatureDataset(store, ctx.data.split_dir / f"{s}.csv", classes=classes, train=s == "train", seed=seed,
                                      where=store_dir(params) / key) for s in ("train", "val", "test")}  # fmt: skip
            torch.manual_seed(seed)
            # the concat MLP over one source (the fusion recipe without converted features)
            head = build_fusion("concat", student_dim=int(store.pooled.shape[1]), teacher_dims=[], num_classes=len(classes),
                                hidden=cfg.fusion.hidden, dropout=cfg.dropout)  # fmt: skip
            from .distill import floored_std
            from .model import Standardise

            train_feats = store.pooled[rows_of(store, split_ids(ctx.data.split_dir)["train"], str(store_dir(params) / key))]
            model = FeatureHead(head, Standardise(train_feats.mean(0), floored_std(train_feats.std(0))))
            rdir = ctx.out_dir / REFERENCE_DIR / row
            res = fit(model=model, task=trainable.adapter, train_set=sets["train"], val_set=sets["val"], cfg=ctx.tcfg,
                      out_dir=rdir, live_dir=ctx.live_dir / REFERENCE_DIR / row, param_groups=head_groups(head, ctx.tcfg),
                      class_counts=trainable.class_counts, resume_key={"reference": row, "store": store.info.get("key"),
                                                                       "fusion": trainable.identity})  # fmt: skip
            load_best(model, rdir)
            scored = score_splits(model, trainable.adapter, sets, rdir, classes, cfg.batch_size)
            out[row] = {"model": key, "best_epoch": res.best_epoch, "val": scored["val"], "test": scored["test"]}
        return out
