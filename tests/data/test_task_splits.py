"""The split stage's policy: grouped vs. official splits, carved val, multi-label counts, written CSVs."""

from __future__ import annotations

import pytest

from replaylab.data.samples import Sample, SampleIndex, read_csv
from replaylab.data.task_splits import make_splits, multilabel_fn, write_splits

FR = {"train": 0.6, "val": 0.2, "test": 0.2}


def _index(n_groups=10, per=4, official=None):
    samples = []
    for g in range(n_groups):
        for k in range(per):
            meta = {} if official is None else {"official_split": official(g)}
            samples.append(Sample(f"s{g}_{k}", ("v.mp4",), f"g{g}", (g + k) % 3, center_s=1.0, meta=meta))
    return SampleIndex(samples, ["a", "b", "c"])


def test_grouped_keeps_groups_whole():
    out = make_splits(_index(), strategy="grouped", fractions=FR, seed=0)
    groups = {name: {s.group for s in idx.samples} for name, idx in out.items()}
    assert (
        not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    )
    assert sum(len(i) for i in out.values()) == 40
    assert make_splits(_index(), strategy="grouped", fractions=FR, seed=0)["test"].samples == out["test"].samples


def test_official_keeps_the_published_split_and_carves_val_from_train():
    idx = _index(official=lambda g: "test" if g < 3 else "train")
    out = make_splits(idx, strategy="official", fractions=FR, seed=0)
    assert {s.group for s in out["test"].samples} == {"g0", "g1", "g2"}
    assert out["val"].samples and not ({s.group for s in out["val"].samples} & {s.group for s in out["train"].samples})
    full = _index(official=lambda g: ["train", "val", "test"][g % 3])
    out = make_splits(full, strategy="official", fractions=FR, seed=0)
    assert [len(out[k]) for k in ("train", "val", "test")] == [16, 12, 12]


def test_errors():
    with pytest.raises(ValueError, match="no official split"):
        make_splits(_index(), strategy="official", fractions=FR, seed=0, task="t")
    with pytest.raises(ValueError, match="empty"):
        make_splits(_index().subset([]), strategy="grouped", fractions=FR, seed=0)
    with pytest.raises(ValueError, match="strategy"):
        make_splits(_index(), strategy="random", fractions=FR, seed=0, task="t")
    with pytest.raises(ValueError, match="test"):
        make_splits(_index(official=lambda g: "train"), strategy="official", fractions=FR, seed=0)


def test_multilabel_counts_and_written_csvs(tmp_path):
    samples = [Sample(f"k{i}", ("v.mp4",), f"v{i % 5}", -1, center_s=float(i),
                      meta={"labels": [[1, 3], [3]], "label_index": [[0, 1], [1]]}) for i in range(15)]  # fmt: skip
    idx = SampleIndex(samples, ["stand", "walk", "run"])
    fn = multilabel_fn(idx)
    assert fn(samples[0]) == [0, 1]
    out = make_splits(idx, strategy="grouped", fractions=FR, seed=2)
    summary = write_splits(out, tmp_path / "splits" / "t", task="t")
    assert summary["groups_in_two_splits"] == 0
    total = sum(summary["splits"][k]["stand"] for k in ("train", "val", "test"))
    assert total == 15 and sum(summary["splits"][k]["run"] for k in ("train", "val", "test")) == 0
    back = {k: read_csv(tmp_path / "splits" / "t" / f"{k}.csv") for k in ("train", "val", "test")}
    assert sorted(s.sample_id for b in back.values() for s in b.samples) == sorted(s.sample_id for s in samples)
