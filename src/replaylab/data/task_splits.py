"""The split stage's policy: keep a dataset's official splits or split its groups by fractions, then write
``<out>/{train,val,test}.csv`` (sample-index CSVs) with class counts per split for the metrics."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .samples import Sample, SampleIndex
from .splits import LabelFn, check_disjoint, class_counts, split_index

SPLITS = ("train", "val", "test")


def multilabel_fn(index: SampleIndex) -> LabelFn | None:
    """Labels of a multi-label sample (AVA keyframes: every box's actions, ``meta["label_index"]``) as
    class positions; None for single-label indexes."""
    if not any(s.label < 0 and "label_index" in s.meta for s in index.samples):
        return None

    def labels(s: Sample) -> list[int]:
        return sorted({int(a) for box in s.meta.get("label_index", []) for a in box})

    return labels


def make_splits(
    index: SampleIndex, *, strategy: str, fractions: Mapping[str, float], seed: int, task: str = ""
) -> dict[str, SampleIndex]:
    """train / val / test indexes. ``official`` keeps ``meta["official_split"]`` and, where the dataset has
    no val split, carves one out of train by group (val's share of train + val). Official splits are kept
    as published even where they share a group; ``write_splits`` reports how many groups do."""
    if not index.samples:
        raise ValueError(f"split {task}: the clip index is empty")
    label_fn = multilabel_fn(index)
    if strategy == "grouped":
        out = split_index(index, fractions=fractions, seed=seed, label_fn=label_fn)
    elif strategy == "official":
        missing = next((s.sample_id for s in index.samples if "official_split" not in s.meta), None)
        if missing is not None:
            raise ValueError(f"split {task}: sample {missing} has no official split (use strategy: grouped)")
        parts = {name: [s.sample_id for s in index.samples if s.meta["official_split"] == name] for name in SPLITS}
        out = {name: index.subset(ids) for name, ids in parts.items()}
        if not parts["val"] and fractions.get("val", 0) > 0:
            share = fractions["val"] / (fractions["train"] + fractions["val"])
            sub = split_index(out["train"], fractions={"train": 1.0 - share, "val": share}, seed=seed, label_fn=label_fn)
            out["train"], out["val"] = sub["train"], sub["val"]
            check_disjoint({"train": out["train"], "val": out["val"]})
    else:
        raise ValueError(f"split.{task}.strategy: unknown value {strategy!r} (grouped, official)")
    for name in SPLITS:
        out.setdefault(name, index.subset([]))
        if fractions.get(name, 0) > 0 and not out[name].samples:
            raise ValueError(f"split {task}: the {name} split is empty; check the fractions and the number of groups")
    if strategy == "grouped":
        check_disjoint(out)
    return out


def write_splits(by_split: Mapping[str, SampleIndex], out_dir: str | os.PathLike, *, task: str = "") -> dict:
    """Write one CSV per split into a fresh ``out_dir``; return class counts per split."""
    from ..io import replace_dir

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name, idx in by_split.items():
        idx.write_csv(tmp / f"{name}.csv")
    replace_dir(tmp, out_dir)
    label_fn = multilabel_fn(next(iter(by_split.values())))
    seen: dict[str, set[str]] = {name: {s.group for s in idx.samples} for name, idx in by_split.items()}
    names = list(seen)
    shared = sorted({g for i, a in enumerate(names) for b in names[i + 1 :] for g in seen[a] & seen[b]})
    # 0 for every grouped split; an official split that shares games between its parts is reported, not changed
    return {"task": task, "groups_in_two_splits": len(shared), "splits": class_counts(by_split, label_fn=label_fn)}
