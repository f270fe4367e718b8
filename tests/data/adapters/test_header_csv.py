import pickle
import re

import numpy as np
import pytest

from replaylab.data.adapters import load_index
from replaylab.data.adapters.header_csv import HEADER_CLASSES, load_header_csv, read_npy_clip
from replaylab.data.samples import AdapterError

ROWS = [
    {"path": "clips/m1_000100.npy", "label": "1", "video_id": "m1", "frame": "100", "event": "header", "track_id": "7"},
    {"path": "clips/m1_000400.npy", "label": "0", "video_id": "m1", "frame": "400", "event": "kick", "track_id": ""},
    {"path": "clips/m2_000050.npy", "label": "0", "video_id": "m2", "frame": "", "event": "random", "track_id": ""},
]


def test_index(tmp_path, write_header_dataset):
    csv_path = write_header_dataset(tmp_path / "hc", ROWS)
    idx = load_header_csv(csv_path)
    assert idx.classes == HEADER_CLASSES == ["no_header", "header"] and idx.root == tmp_path / "hc"
    assert [(s.sample_id, s.label, s.group) for s in idx.samples] == [
        ("clips/m1_000100.npy", 1, "m1"), ("clips/m1_000400.npy", 0, "m1"), ("clips/m2_000050.npy", 0, "m2"),
    ]  # fmt: skip
    s = idx.samples[0]
    assert s.sources == ("clips/m1_000100.npy",) and s.center_s is None and s.point is None
    assert s.meta == {"video_id": "m1", "frame": 100, "event": "header", "track_id": "7"}
    assert "frame" not in idx.samples[2].meta
    assert all(read_npy_clip(idx.resolve(s.sources[0])).shape == (4, 8, 8, 3) for s in idx.samples)


def test_root_dir_and_registry(tmp_path, write_header_dataset):
    csv_path = write_header_dataset(tmp_path / "data", ROWS, csv_name="lists/dataset.csv", make_clips=False)
    write_header_dataset(tmp_path / "data", ROWS)  # the clips, relative to data/, not to the CSV's folder
    with pytest.raises(AdapterError, match="does not exist"):
        load_header_csv(csv_path)
    idx = load_index("header_csv", csv_path, root_dir=tmp_path / "data")
    assert len(idx) == 3 and idx.root == tmp_path / "data"


def test_group_fallback_without_video_id(tmp_path, write_header_dataset):
    rows = [{"path": "match_a/c1.npy", "label": "1"}, {"path": "match_a/c2.npy", "label": "0"}, {"path": "c3.npy", "label": "0"}]
    idx = load_header_csv(write_header_dataset(tmp_path, rows))
    assert [s.group for s in idx.samples] == ["match_a", "match_a", "c3"] and idx.samples[0].meta == {}


@pytest.mark.parametrize("bad", ["2", "-1", "yes", "", "0.5"])
def test_bad_label_names_row(tmp_path, write_header_dataset, bad):
    rows = [ROWS[0], dict(ROWS[1], label=bad)]
    with pytest.raises(AdapterError) as e:
        load_header_csv(write_header_dataset(tmp_path, rows))
    assert "dataset.csv, row 3" in str(e.value) and "label" in str(e.value)


def test_float_labels_accepted(tmp_path, write_header_dataset):
    idx = load_header_csv(write_header_dataset(tmp_path, [dict(ROWS[0], label="1.0"), dict(ROWS[1], label="0.0")]))
    assert [s.label for s in idx.samples] == [1, 0]


def test_csv_errors(tmp_path, write_header_dataset):
    with pytest.raises(AdapterError, match="missing columns \\['label'\\]"):
        load_header_csv(write_header_dataset(tmp_path / "a", [{"path": "x.npy", "lab": "1"}]))
    with pytest.raises(AdapterError, match="row 3.*already listed in row 2"):
        load_header_csv(write_header_dataset(tmp_path / "b", [ROWS[0], ROWS[0]]))
    with pytest.raises(AdapterError, match="row 2: frame"):
        load_header_csv(write_header_dataset(tmp_path / "c", [dict(ROWS[0], frame="abc")]))
    with pytest.raises(AdapterError, match="not found"):
        load_header_csv(tmp_path / "nowhere.csv")
    csv_path = write_header_dataset(tmp_path / "d", ROWS)
    (tmp_path / "d" / ROWS[1]["path"]).unlink()
    with pytest.raises(AdapterError, match="row 3: clip .*m1_000400.npy does not exist"):
        load_header_csv(csv_path)


def test_read_npy_clip(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((2, 4, 5, 1), np.uint8))
    clip = read_npy_clip(good)
    assert clip.shape == (2, 4, 5, 1) and isinstance(clip, np.memmap)
    for name, arr in [("float.npy", np.zeros((2, 4, 4, 3), np.float32)), ("three_d.npy", np.zeros((4, 4, 3), np.uint8)),
                      ("two_channels.npy", np.zeros((2, 4, 4, 2), np.uint8)), ("no_frames.npy", np.zeros((0, 4, 4, 3), np.uint8))]:  # fmt: skip
        np.save(tmp_path / name, arr)
        with pytest.raises(AdapterError, match=name):
            read_npy_clip(tmp_path / name)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(AdapterError, match="objects.npy"):
        read_npy_clip(tmp_path / "objects.npy")
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(AdapterError, match="pickle.npy"):
        read_npy_clip(tmp_path / "pickle.npy")
    with pytest.raises(AdapterError, match="missing.npy"):
        read_npy_clip(tmp_path / "missing.npy")


def test_check_clips(tmp_path, write_header_dataset):
    csv_path = write_header_dataset(tmp_path, ROWS, dtype=np.float32)
    assert len(load_header_csv(csv_path)) == 3  # indexing alone does not open the clips
    with pytest.raises(AdapterError, match="m1_000100.npy.*uint8"):
        load_header_csv(csv_path, check_clips=True)


def test_synthetic_world(tiny_world):
    root, summary = tiny_world
    idx = load_header_csv(root / "header_clips" / "dataset.csv", check_clips=True)
    assert len(idx) == summary["header_clips"]
    assert {s.label for s in idx.samples} == {0, 1}
    assert all(s.group == s.meta["video_id"] and isinstance(s.meta["frame"], int) for s in idx.samples)
    assert all(s.meta["event"] == "header" for s in idx.samples if s.label == 1)
    assert set(idx.groups()) == {"match_000", "match_001"}


# ---- paths stay inside the dataset root
@pytest.mark.parametrize(
    "rel, message",
    [("../../../../etc/passwd", "leads to .*outside the dataset root"), ("/etc/passwd", "is absolute"),
     ("clips/../../outside.npy", "leads to .*outside the dataset root"), ("clips/link.npy", "leads through a symlink")],
)  # fmt: skip
def test_paths_outside_the_root(tmp_path, write_header_dataset, rel, message):
    np.save(tmp_path / "outside.npy", np.zeros((4, 8, 8, 3), np.uint8))
    csv_path = write_header_dataset(tmp_path / "hc", ROWS)
    (tmp_path / "hc" / "clips" / "link.npy").symlink_to(tmp_path / "outside.npy")
    write_header_dataset(tmp_path / "hc", [ROWS[0], dict(ROWS[1], path=rel)], make_clips=False)
    with pytest.raises(AdapterError, match=rf"dataset\.csv, row 3: clip '{re.escape(rel)}' {message}"):
        load_header_csv(csv_path)
