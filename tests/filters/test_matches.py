import numpy as np
import pytest

from filters.conftest import write_splits
from replaylab.data.samples import AdapterError
from replaylab.filters.matches import Match, frame_labels, match_frame_times, read_event_frames, read_match_splits, split_matches


def test_split_assignment_from_the_split_csvs(matches_dir):
    root, splits = matches_dir
    assert read_match_splits(splits) == {"m0": "train", "m1": "train", "m2": "train", "m3": "val", "m4": "test"}
    ms = split_matches(root, splits)
    assert [(m.match_id, m.split) for m in ms] == [
        ("m0", "train"),
        ("m1", "train"),
        ("m2", "train"),
        ("m3", "val"),
        ("m4", "test"),
    ]


def test_a_match_in_two_splits_is_an_error(tmp_path):
    write_splits(tmp_path, {"a": "train", "b": "test"})
    with open(tmp_path / "val.csv", "a") as fh:
        fh.write("a_1,a,1,header,a/video.mp4,0.4,,,{}\n")
    with pytest.raises(AdapterError, match=r"val.csv, row 2: match 'a' is in both train and val"):
        read_match_splits(tmp_path)
    write_splits(tmp_path, {"a": "train", "b": "test"})
    (tmp_path / "test.csv").unlink()
    with pytest.raises(AdapterError, match="test.csv: split file not found"):
        read_match_splits(tmp_path)


def test_missing_match_files_are_named(matches_dir, tmp_path):
    root, _ = matches_dir
    write_splits(tmp_path / "s", {"m0": "train", "ghost": "test"})
    with pytest.raises(AdapterError, match=r"ghost.*tracking.csv: not found"):
        split_matches(root, tmp_path / "s")


def test_event_frames_and_labels(tmp_path):
    p = tmp_path / "events.csv"
    p.write_text("frame,time,type,track_id\n30,1.2,header,4\n10,0.4,kick,2\n2,0.08,header,3\n")
    assert read_event_frames(p).tolist() == [2, 30]
    assert read_event_frames(p, ("kick",)).tolist() == [10]
    y = frame_labels(33, np.array([2, 30]), 2)
    assert np.flatnonzero(y).tolist() == [0, 1, 2, 3, 4, 28, 29, 30, 31, 32]
    p.write_text("frame,time,type\n3.5,0.1,header\n")
    with pytest.raises(AdapterError, match=r"row 2: frame '3.5' is not a frame index"):
        read_event_frames(p)


def test_frame_times_come_from_the_video_or_the_tracking_table(matches_dir, tiny_world):
    root, _ = matches_dir
    ft = match_frame_times(Match("m0", root / "m0", "train"))  # no video: the table's frames at its rate
    assert ft.shape == (1501,) and ft[1] == pytest.approx(0.04)
    world, _ = tiny_world
    folder = min((world / "matches").iterdir())
    ft = match_frame_times(Match(folder.name, folder, "train"))
    assert ft.shape[0] == 24 * 25 and ft[0] == 0.0 and np.diff(ft) == pytest.approx(0.04)
