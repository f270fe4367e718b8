"""Params source sections -> one SampleIndex per task, with official splits tagged, on the tiny world."""

from __future__ import annotations

import pytest

from replaylab import params as P
from replaylab.data.samples import AdapterError
from replaylab.data.sources import task_index


def _cfg(task: str, root, **source):
    data = {"cache_clips": {task: {"source": {**source, "root": str(root)}}}}
    return getattr(P.validate(data).cache_clips, task)


def test_header_from_matches_and_from_the_header_tool_csv(tiny_world):
    root = tiny_world[0]
    idx = task_index("header", _cfg("header", root / "matches", format="matches"), seed=0, margin_s=0.3)
    assert idx.classes == ["no_header", "header"] and {s.label for s in idx.samples} == {0, 1}
    assert all(idx.resolve(s.sources[0]).is_file() for s in idx.samples)
    csv_idx = task_index("header", _cfg("header", root / "header_clips", format="header_csv"), seed=0)
    assert len(csv_idx) > 0 and all(
        idx_path.suffix == ".npy" for idx_path in (csv_idx.resolve(s.sources[0]) for s in csv_idx.samples)
    )


def test_foul_merges_official_splits(tiny_world):
    root = tiny_world[0] / "mvfoul"
    idx = task_index("foul", _cfg("foul", root, format="mvfoul", center_frame=20), seed=0)
    splits = {s.meta["official_split"] for s in idx.samples}
    assert splits == {"train", "val", "test"}
    assert all(s.sample_id.split("/")[0] in ("train", "valid", "test") for s in idx.samples)
    assert all(idx.resolve(src).is_file() for s in idx.samples for src in s.sources)
    assert all(s.center_s == pytest.approx(20 / 25) for s in idx.samples)
    assert len(idx.classes) == 8


def test_actions_ava_val_becomes_test(tiny_world):
    idx = task_index("actions", _cfg("actions", tiny_world[0] / "ava", format="ava"), seed=0)
    assert {s.meta["official_split"] for s in idx.samples} == {"train", "test"}
    assert all(s.label == -1 and s.meta["label_index"] for s in idx.samples if s.meta["boxes"])
    assert all(idx.resolve(s.sources[0]).is_file() for s in idx.samples)


def test_recognition_ucf101(tiny_world):
    idx = task_index("recognition", _cfg("recognition", tiny_world[0] / "ucf101", format="ucf101"), seed=0)
    assert idx.classes == ["Header", "Kick", "ThrowIn"]
    assert {s.meta["official_split"] for s in idx.samples} == {"train", "test"}
    assert all(s.center_s is None for s in idx.samples)


def test_missing_root_names_the_key(tmp_path):
    with pytest.raises(AdapterError, match=r"cache_clips.foul.source.root"):
        task_index("foul", _cfg("foul", tmp_path / "nope", format="mvfoul"), seed=0)
