import csv

import numpy as np
from spec_readers import probe_video

from replaylab.world.match import CONTACT_DISTANCE, MatchTruth
from replaylab.world.writers.matches import CAMERA_COLUMNS, EVENT_COLUMNS, _crop


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_match_files_and_columns(tiny_world):
    root, summary = tiny_world
    d = root / "matches" / "match_000"
    n, fps, w, h, keys = probe_video(d / "video.mp4")
    assert (n, fps, w, h) == (600, 25.0, 320, 180) and max(np.diff(keys)) <= 12
    tr = rows(d / "tracking.csv")
    assert list(tr[0]) == ["frame", "time", "track_id", "team", "jersey", "x", "y", "z", "box_x1", "box_y1", "box_x2", "box_y2"]
    assert {r["team"] for r in tr} == {"ball", "home", "away"}
    boxed = [r for r in tr if r["box_x1"]]
    assert boxed and all(0 <= float(r["box_x1"]) < float(r["box_x2"]) <= 320 for r in boxed)
    ev = rows(d / "events.csv")
    assert tuple(ev[0]) == EVENT_COLUMNS
    cam = rows(d / "camera.csv")
    assert tuple(cam[0]) == CAMERA_COLUMNS and len(cam) == 600


def test_events_csv_agrees_with_truth_and_headers_touch_heads(tiny_world):
    root, _ = tiny_world
    for m in ("match_000", "match_001"):
        d = root / "matches" / m
        truth = MatchTruth.load(d / "truth.npz")
        ev = rows(d / "events.csv")
        assert len(ev) == len(truth.events)
        for r in ev:
            f, p = int(r["frame"]), int(r["track_id"]) - 1
            np.testing.assert_allclose([float(r["ball_x"]), float(r["ball_y"]), float(r["ball_z"])], truth.ball[f], atol=1e-3)
            if r["type"] == "header":
                assert np.linalg.norm(truth.ball[f] - truth.head(f, p)) <= CONTACT_DISTANCE + 1e-3


def test_header_clips_are_npy_with_relative_paths(tiny_world):
    root, summary = tiny_world
    ds = rows(root / "header_clips" / "dataset.csv")
    assert len(ds) == summary["header_clips"] > 0
    labels = {r["label"] for r in ds}
    assert labels <= {"0", "1"}
    for r in ds:
        assert not r["path"].startswith("/")
        arr = np.load(root / "header_clips" / r["path"])
        assert arr.shape == (8, 32, 32, 3) and arr.dtype == np.uint8
        assert (r["label"] == "1") == (r["event"] == "header")


def test_crop_stays_inside_frame():
    frame = np.arange(100 * 200 * 3, dtype=np.uint8).reshape(100, 200, 3)
    c = _crop(frame, (5.0, 5.0), 40, 40)
    np.testing.assert_array_equal(c, frame[:40, :40])
    assert _crop(frame, (199.0, 99.0), 60, 30).shape == (30, 30, 3)
