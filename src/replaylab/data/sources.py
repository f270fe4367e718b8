"""From a task's ``cache_clips.<task>.source`` params to one SampleIndex, through the format adapters.

Datasets that come with official splits (SoccerNet-MVFoul train / valid / test, AVA train / val in either
layout, the UCF101 and HMDB51 split lists, the Kinetics CSVs' ``split`` column) are read whole; each sample records its official split in
``meta["official_split"]`` as ``train``, ``val`` or ``test`` so the split stage can keep it.
AVA's ``val`` set is the benchmark's held-out set and maps to ``test``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .adapters import load_index
from .samples import AdapterError, Sample, SampleIndex

MVFOUL_SPLIT = {"train": "train", "valid": "val", "test": "test", "challenge": "challenge"}
AVA_SPLIT = {"train": "train", "val": "test"}


def _tag(sample: Sample, split: str, prefix: str | None) -> Sample:
    meta = dict(sample.meta, official_split=split)
    sid = f"{prefix}/{sample.sample_id}" if prefix else sample.sample_id
    return replace(sample, sample_id=sid, meta=meta)


def _rebase(src: str, old_root: Path, root: Path) -> str:
    p = Path(src) if Path(src).is_absolute() else old_root / src
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p.resolve())


def _merge(parts: list[tuple[SampleIndex, str, str | None]], name: str, root: Path) -> SampleIndex:
    """Concatenate per-split indexes; sources become relative to ``root``."""
    samples: list[Sample] = []
    classes = parts[0][0].classes
    dropped: dict[str, int] = {}
    for idx, split, prefix in parts:
        for reason, n in idx.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
        if idx.classes != classes:
            raise AdapterError(f"{name}: class lists differ between splits ({classes} vs {idx.classes})")
        for s in idx.samples:
            s = _tag(s, split, prefix)
            srcs = tuple(_rebase(src, idx.root, root) for src in s.sources)
            samples.append(replace(s, sources=srcs))
    return SampleIndex(samples, list(classes), root, name, dropped)


SourceLoader = Callable[..., SampleIndex]
#: dataset format (``source.format`` in params) -> loader(source params, root, *, seed, margin_s) -> SampleIndex
SOURCES: dict[str, SourceLoader] = {}


def register_source(fmt: str) -> Callable[[SourceLoader], SourceLoader]:
    """Register how a ``source`` params section of format ``fmt`` becomes a sample index."""

    def add(fn: SourceLoader) -> SourceLoader:
        if fmt in SOURCES and SOURCES[fmt] is not fn:
            raise ValueError(f"dataset format {fmt!r} is already registered")
        SOURCES[fmt] = fn
        return fn

    return add


@register_source("matches")
def _matches(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    return load_index(
        "matches", root, neg_ratio=src.neg_ratio, lookalike_share=src.lookalike_share, lookalike_types=src.lookalike_types,
        min_gap_s=src.min_gap_s, margin_s=margin_s, crop_on=src.crop_on, track_half_s=margin_s + 0.2,
        track_smooth_s=src.track_smooth_s, seed=seed, on_bad_rows=src.on_bad_rows, tally=tally,
    )  # fmt: skip


@register_source("header_csv")
def _header_csv(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    return load_index("header_csv", root / src.csv, root_dir=root)


@register_source("mvfoul")
def _mvfoul(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    parts = []
    for split in src.splits:
        idx = load_index("mvfoul", root / split, center_frame=src.center_frame, fps=src.source_fps)
        parts.append((idx, MVFOUL_SPLIT[split], split))
    return _merge(parts, f"mvfoul:{root}", root)


@register_source("ava")
def _ava(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    parts = []
    for split in src.splits:
        idx = load_index(
            "ava", root, split=split, timestamp_offset=src.timestamp_offset, min_proposal_score=src.min_proposal_score
        )
        parts.append((idx, AVA_SPLIT[split], split))
    return _merge(parts, f"ava:{root}", root)


@register_source("ava_coco")
def _ava_coco(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    parts = []
    for split in src.splits:
        idx = load_index(
            "ava_coco", root, split=split, annotations_dir=src.annotations_dir, boxes_dir=src.boxes_dir,
            clips_dir=src.clips_dir, label_map=src.label_map, min_proposal_score=src.min_proposal_score,
            keyframe_s=src.keyframe_s,
        )  # fmt: skip
        parts.append((idx, AVA_SPLIT[split], split))
    return _merge(parts, f"ava_coco:{root}", root)


def _split_lists(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    idx = load_index(src.format, root, split_id=src.split_id)
    samples = [replace(s, meta=dict(s.meta, official_split=s.meta.get("official_split", "train"))) for s in idx.samples]
    return SampleIndex(samples, idx.classes, idx.root, idx.name)


register_source("ucf101")(_split_lists)
register_source("hmdb51")(_split_lists)


@register_source("kinetics")
def _kinetics(src, root: Path, *, seed: int, margin_s: float, tally=None) -> SampleIndex:
    return load_index(
        "kinetics", root, split_csvs=src.split_csvs, clips_dir=src.clips_dir, extensions=src.extensions,
        split_map=src.split_map, missing=src.missing,
    )  # fmt: skip


def task_index(task: str, cfg, *, seed: int, margin_s: float = 0.0, tally=None) -> SampleIndex:
    """The sample index of ``task`` from its validated cache params ``cfg`` (dispatch on ``cfg.source.format``
    through :data:`SOURCES`). ``tally`` (:class:`replaylab.data.rowchecks.BadRows`) counts the rows a source
    drops (``on_bad_rows: drop``)."""
    src = cfg.source
    root = Path(src.root)
    if not root.exists():
        raise AdapterError(f"cache_clips.{task}.source.root: {root} does not exist")
    loader = SOURCES.get(src.format)
    if loader is None:
        raise AdapterError(
            f"cache_clips.{task}.source.format: unknown format {src.format!r} (known: {', '.join(sorted(SOURCES))})"
        )
    return loader(src, root, seed=seed, margin_s=margin_s, tally=tally)
