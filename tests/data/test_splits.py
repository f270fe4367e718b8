import csv
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from replaylab.data.samples import Sample, SampleIndex
from replaylab.data.splits import check_disjoint, class_counts, grouped_split, split_header_tool_csv, split_index

FR3 = {"train": 0.7, "val": 0.15, "test": 0.15}
RARE = 5


def random_data(seed: int, n_groups: int = 200, n_classes: int = 5, rare_groups: int = 8):
    """Groups of 1..12 samples with skewed labels 0..n_classes-1; label RARE in ``rare_groups`` groups only."""
    r = random.Random(seed)
    groups, labels = [], []
    rare = set(r.sample(range(n_groups), rare_groups))
    for g in range(n_groups):
        for _ in range(r.randint(1, 12)):
            groups.append(f"m{g:03d}")
            labels.append(min(int(r.expovariate(0.7)), n_classes - 1))
        if g in rare:
            groups.append(f"m{g:03d}")
            labels.append(RARE)
    order = list(range(len(groups)))
    r.shuffle(order)  # samples of one group need not be adjacent
    return [groups[i] for i in order], [labels[i] for i in order]


def assert_partition(out, groups, fractions):
    assert list(out) == list(fractions)
    every = sorted(p for pos in out.values() for p in pos)
    assert every == list(range(len(groups)))  # every sample exactly once
    owner = {}
    for name, pos in out.items():
        for p in pos:
            assert owner.setdefault(groups[p], name) == name, f"group {groups[p]} in two splits"
        if fractions[name] > 0:
            assert pos, f"split {name} is empty"
        else:
            assert pos == []


@pytest.mark.parametrize("seed", range(25))
def test_random_groups_partition_size_and_strata(seed):
    groups, labels = random_data(seed)
    out = grouped_split(groups, labels, fractions=FR3, seed=seed)
    assert_partition(out, groups, FR3)
    n = len(groups)
    totals = Counter(labels)
    for name, pos in out.items():
        assert abs(len(pos) / n - FR3[name]) < 0.02, (name, len(pos) / n)
        got = Counter(labels[p] for p in pos)
        assert got[RARE] >= 1, f"rare class missing from {name}"  # 8 groups hold it: every split gets some
        for lab, tot in totals.items():
            if tot >= 100:
                assert abs(got[lab] / tot - FR3[name]) < 0.05, (name, lab, got[lab], tot)


def test_deterministic_for_a_seed_and_seed_matters():
    groups, labels = random_data(3)
    a = grouped_split(groups, labels, fractions=FR3, seed=11)
    assert grouped_split(list(groups), list(labels), fractions=dict(FR3), seed=11) == a
    others = [grouped_split(groups, labels, fractions=FR3, seed=s) for s in range(12, 16)]
    assert any(o != a for o in others)


@pytest.mark.parametrize("seed", range(10))
def test_multi_label_and_unlabelled_samples(seed):
    r = random.Random(seed)
    groups, labels = [], []
    for g in range(120):
        for _ in range(r.randint(1, 10)):
            groups.append(f"v{g}")
            labels.append(sorted(r.sample(range(6), r.randint(0, 3))) if r.random() < 0.9 else -1)
    fr = {"train": 0.8, "val": 0.2}
    out = grouped_split(groups, labels, fractions=fr, seed=seed)
    assert_partition(out, groups, fr)
    for name, pos in out.items():
        assert abs(len(pos) / len(groups) - fr[name]) < 0.03
        for c in range(6):
            tot = sum(1 for lab in labels if lab != -1 and c in lab)
            got = sum(1 for p in pos if labels[p] != -1 and c in labels[p])
            assert abs(got / tot - fr[name]) < 0.06, (name, c, got, tot)


def test_zero_fraction_split_gets_nothing_and_few_groups_fill_every_split():
    out = grouped_split(["a", "a", "b", "c"], [0, 1, 0, 1], fractions={"train": 0.8, "val": 0.2, "test": 0.0}, seed=0)
    assert_partition(out, ["a", "a", "b", "c"], {"train": 0.8, "val": 0.2, "test": 0.0})
    # three groups, three non-empty splits (one tiny): each split still gets its group
    out = grouped_split(["a", "b", "c"], [0, 0, 1], fractions={"train": 0.9, "val": 0.05, "test": 0.05}, seed=1)
    assert sorted(len(p) for p in out.values()) == [1, 1, 1]


def test_too_few_groups_is_a_clear_error():
    with pytest.raises(ValueError, match=r"only 2 group\(s\).*split 'test' would be empty"):
        grouped_split(["a", "a", "b"], [0, 1, 0], fractions=FR3, seed=0)
    with pytest.raises(ValueError, match=r"only 0 group"):
        grouped_split([], [], fractions={"train": 1.0}, seed=0)


@pytest.mark.parametrize(
    "fractions, message",
    [
        ({"train": 0.5, "val": 0.6}, r"sum to 1.*'val': 0.6"),
        ({"train": 1.2, "val": -0.2}, r">= 0.*'val': -0.2"),
        ({"train": float("nan"), "val": 1.0}, r"'train': nan"),
        ({}, r"at least one split"),
    ],
)
def test_bad_fractions(fractions, message):
    with pytest.raises(ValueError, match=message):
        grouped_split(["a", "b"], [0, 1], fractions=fractions, seed=0)


def test_mismatched_lengths_and_bad_labels():
    with pytest.raises(ValueError, match="2 groups but 1 labels"):
        grouped_split(["a", "b"], [0], fractions={"train": 1.0}, seed=0)
    with pytest.raises(TypeError, match="sample 1"):
        grouped_split(["a", "b"], [0, "x"], fractions={"train": 1.0}, seed=0)


def make_index(n_groups=30, seed=0):
    r = random.Random(seed)
    samples = []
    for g in range(n_groups):
        for k in range(r.randint(2, 6)):
            lab = r.randrange(3)
            samples.append(
                Sample(
                    f"g{g}_{k}", (f"match{g}.mp4",), f"match{g}", lab, center_s=float(k), meta={"labels": [lab, (lab + 1) % 3]}
                )
            )
    return SampleIndex(samples, ["Header", "Kick", "ThrowIn"], Path("/data"), "toy")


def test_split_index_class_counts_and_check_disjoint():
    idx = make_index()
    parts = split_index(idx, fractions=FR3, seed=5)
    assert list(parts) == ["train", "val", "test"]
    check_disjoint(parts)
    assert sum(len(p) for p in parts.values()) == len(idx)
    assert all(p.classes == idx.classes and p.root == idx.root for p in parts.values())
    # order inside a split follows the index
    position = {s.sample_id: i for i, s in enumerate(idx.samples)}
    for p in parts.values():
        ids = [position[s.sample_id] for s in p.samples]
        assert ids == sorted(ids)
    counts = class_counts(parts)
    assert set(counts["val"]) == {"Header", "Kick", "ThrowIn", "n_samples", "n_groups"}
    assert sum(c["n_samples"] for c in counts.values()) == len(idx)
    assert sum(c["n_groups"] for c in counts.values()) == 30
    assert sum(c["Kick"] for c in counts.values()) == sum(s.label == 1 for s in idx.samples)
    assert all(c[name] > 0 for c in counts.values() for name in idx.classes)


def test_split_index_multi_label_with_label_fn():
    idx = make_index(seed=1)
    samples = [Sample(s.sample_id, s.sources, s.group, -1, s.center_s, meta=s.meta) for s in idx.samples]
    multi = SampleIndex(samples, idx.classes, idx.root, "ava-like")

    def fn(s):
        return s.meta["labels"]

    parts = split_index(multi, fractions={"train": 0.75, "val": 0.25}, seed=2, label_fn=fn)
    check_disjoint(parts)
    counts = class_counts(parts, label_fn=fn)
    assert sum(c["Header"] for c in counts.values()) == sum(0 in s.meta["labels"] for s in samples)
    assert all(c[name] > 0 for c in counts.values() for name in idx.classes)
    assert class_counts(parts)["train"]["Header"] == 0  # without label_fn, label -1 counts nothing


def test_check_disjoint_detects_a_leak():
    idx = make_index()
    parts = split_index(idx, fractions={"train": 0.8, "val": 0.2}, seed=0)
    leaked = parts["val"].samples[0]
    bad = {
        "train": SampleIndex(
            parts["train"].samples + [Sample(leaked.sample_id + "_copy", leaked.sources, leaked.group, 0)], idx.classes
        ),
        "val": parts["val"],
    }
    with pytest.raises(ValueError, match=f"group '{leaked.group}' is in split 'train' and in split 'val'"):
        check_disjoint(bad)


# --- the header tool's CSV -------------------------------------------------------------------------------


def write_header_dataset(root: Path, n_videos=10, clips=4, with_video_id=True, seed=0):
    """``root/clips/<video>/<k>.npy`` (T,H,W,C uint8) and ``root/train_cache_header.csv`` with relative paths."""
    r = np.random.default_rng(seed)
    header = ["path", "label"] + (["video_id"] if with_video_id else []) + ["frame_id"]
    rows = []
    for v in range(n_videos):
        for k in range(clips):
            rel = f"clips/video{v:02d}/{k}.npy"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            np.save(root / rel, r.integers(0, 255, size=(4, 8, 8, 3), dtype=np.uint8))
            label = int((v + k) % 3 == 0)
            rows.append([rel, str(label)] + ([f"video{v:02d}"] if with_video_id else []) + [str(100 * v + k)])
    csv_path = root / "train_cache_header.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return csv_path, header, rows


def read_rows(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_split_header_tool_csv_rewrites_paths_and_splits_by_video(tmp_path):
    csv_path, header, rows = write_header_dataset(tmp_path)
    out = tmp_path / "cache" / "header_net"
    summary = split_header_tool_csv(input_csv=csv_path, output_dir=out, root_dir=tmp_path, val_split=0.2, seed=42)
    assert summary["train"] + summary["val"] == len(rows) and summary["val"] == 8  # 2 of 10 videos
    assert summary["grouped_by"] == "video_id" and summary["groups"] == {"train": 8, "val": 2}
    assert set(summary["class_counts"]["val"]) == {"0", "1"}
    assert summary["class_counts"]["val"]["1"] > 0
    original = {r[-1]: r for r in rows}  # frame_id is unique
    videos = {}
    for name in ("train", "val"):
        got_header, got = read_rows(out / f"{name}.csv")
        assert got_header == header and len(got) == summary[name]
        for row in got:
            src = original[row[-1]]
            assert Path(row[0]) == (tmp_path / src[0]).resolve() and Path(row[0]).is_absolute()
            assert np.load(row[0]).shape == (4, 8, 8, 3)
            assert row[1:] == src[1:]  # other columns untouched
            assert videos.setdefault(row[2], name) == name  # a video in one split only
    assert not list(out.glob(".*.tmp"))
    # same seed, same files
    again = split_header_tool_csv(input_csv=csv_path, output_dir=tmp_path / "again", root_dir=tmp_path, val_split=0.2, seed=42)
    assert again["files"] != summary["files"]
    assert read_rows(tmp_path / "again" / "val.csv") == read_rows(out / "val.csv")


def test_split_header_tool_csv_without_video_id_groups_by_directory(tmp_path):
    csv_path, _, _ = write_header_dataset(tmp_path, with_video_id=False)
    summary = split_header_tool_csv(input_csv=csv_path, output_dir=tmp_path / "o", root_dir=tmp_path, val_split=0.3, seed=1)
    assert summary["grouped_by"] == "parent_dir" and "parent directory" in summary["note"]
    dirs = {name: {Path(r[0]).parent for r in read_rows(tmp_path / "o" / f"{name}.csv")[1]} for name in ("train", "val")}
    assert dirs["train"] and dirs["val"] and not dirs["train"] & dirs["val"]


def test_split_header_tool_csv_keeps_absolute_paths(tmp_path):
    csv_path, header, rows = write_header_dataset(tmp_path, n_videos=4)
    for row in rows:
        row[0] = str((tmp_path / row[0]).resolve())
    with open(csv_path, "w", newline="") as fh:
        csv.writer(fh).writerows([header] + rows)
    # root_dir does not matter for absolute paths
    split_header_tool_csv(input_csv=csv_path, output_dir=tmp_path / "o", root_dir=tmp_path / "elsewhere", val_split=0.25, seed=0)
    both = read_rows(tmp_path / "o" / "train.csv")[1] + read_rows(tmp_path / "o" / "val.csv")[1]
    assert sorted(r[0] for r in both) == sorted(r[0] for r in rows)


def test_split_header_tool_csv_missing_clip_names_the_row(tmp_path):
    csv_path, _, rows = write_header_dataset(tmp_path, n_videos=3)
    (tmp_path / rows[5][0]).unlink()  # data row 6 = CSV row 7 (the header is row 1)
    with pytest.raises(ValueError, match=rf"row 7: clip '{rows[5][0]}' not found"):
        split_header_tool_csv(input_csv=csv_path, output_dir=tmp_path / "o", root_dir=tmp_path, val_split=0.2, seed=0)
    assert not (tmp_path / "o").exists()


def test_split_header_tool_csv_bad_inputs(tmp_path):
    csv_path, _, _ = write_header_dataset(tmp_path, n_videos=1)
    kw = {"output_dir": tmp_path / "o", "root_dir": tmp_path, "seed": 0}
    with pytest.raises(ValueError, match=r"only 1 group.*'val' would be empty"):
        split_header_tool_csv(input_csv=csv_path, val_split=0.2, **kw)
    with pytest.raises(ValueError, match="val_split"):
        split_header_tool_csv(input_csv=csv_path, val_split=1.0, **kw)
    bad = tmp_path / "bad.csv"
    bad.write_text("clip,label\na.npy,0\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['path'\]"):
        split_header_tool_csv(input_csv=bad, val_split=0.2, **kw)
    with pytest.raises(ValueError, match="not found"):
        split_header_tool_csv(input_csv=tmp_path / "nope.csv", val_split=0.2, **kw)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("path,label,video_id\nclips/video00/0.npy,1,video00\nclips/video00/1.npy,0\n")
    with pytest.raises(ValueError, match=r"ragged.csv, row 3: 2 fields, header has 3"):
        split_header_tool_csv(input_csv=ragged, val_split=0.2, **kw)
