"""Match layout -> header samples: positives at headers, look-alike and random negatives, crop points."""

from __future__ import annotations

import csv
import shutil
from collections import Counter

import pytest

from replaylab.data.adapters.matches import BallTrack, event_kind, load_matches
from replaylab.data.samples import AdapterError


@pytest.fixture(scope="module")
def matches(tiny_world):
    return tiny_world[0] / "matches"


def _events(folder):
    return list(csv.DictReader(open(folder / "events.csv")))


def test_every_header_is_a_positive_and_negatives_follow_the_ratio(matches):
    idx = load_matches(matches, neg_ratio=2.0, lookalike_share=0.5, margin_s=0.3, seed=1)
    assert idx.classes == ["no_header", "header"]
    for mid in idx.groups():
        fps = BallTrack(matches / mid / "tracking.csv").fps
        n = BallTrack(matches / mid / "tracking.csv").n_frames
        heads = {int(e["frame"]) for e in _events(matches / mid) if e["type"] == "header" and 8 <= int(e["frame"]) <= n - 9}
        mine = [s for s in idx.samples if s.group == mid]
        assert {s.meta["frame"] for s in mine if s.label == 1} == heads
        assert all(abs(s.center_s - s.meta["frame"] / fps) < 1e-9 for s in mine)
        negs = [s for s in mine if s.label == 0]
        assert len(negs) <= round(2.0 * len(heads))
        assert all(s.meta["event"] != "header" for s in negs)
    assert len({s.sample_id for s in idx.samples}) == len(idx)


def test_lookalikes_are_spread_over_types_and_random_play_keeps_its_distance(matches):
    idx = load_matches(matches, neg_ratio=3.0, lookalike_share=1.0, seed=0)
    kinds = Counter(s.meta["event"] for s in idx.samples if s.label == 0)
    assert "random" not in kinds and len(kinds) >= 2
    idx = load_matches(matches, neg_ratio=2.0, lookalike_share=0.0, min_gap_s=1.0, seed=0)
    for s in idx.samples:
        if s.meta["event"] == "random":
            frames = [int(e["frame"]) for e in _events(matches / s.group)]
            assert min(abs(f - s.meta["frame"]) for f in frames) > 25


def test_event_kinds_refine_types_by_subtype(matches):
    assert (
        event_kind("kick", "volley") == "kick/volley"
        and event_kind("chest", "") == "chest"
        and event_kind("header", "x") == "header"
    )
    idx = load_matches(matches, neg_ratio=3.0, lookalike_share=1.0, seed=0)
    for s in idx.samples:
        assert s.meta["kind"] == event_kind(s.meta["event"], s.meta["subtype"])
    assert {s.meta["kind"] for s in idx.samples if s.label == 1} == {"header"}


def test_deterministic_for_a_seed(matches):
    a = load_matches(matches, seed=3)
    b = load_matches(matches, seed=3)
    c = load_matches(matches, seed=4)
    assert [s.sample_id for s in a.samples] == [s.sample_id for s in b.samples]
    assert [s.sample_id for s in a.samples] != [s.sample_id for s in c.samples]


def test_crop_points_inside_the_image(matches):
    ball = load_matches(matches, crop_on="ball")
    player = load_matches(matches, crop_on="player")
    none = load_matches(matches, crop_on="none")
    assert all(s.point is None for s in none.samples)
    for idx in (ball, player):
        inside = [0 <= s.point[0] <= 320 and 0 <= s.point[1] <= 180 for s in idx.samples]
        assert sum(inside) >= 0.9 * len(inside)
    moved = [a.point != b.point for a, b in zip(ball.samples, player.samples) if a.meta["track_id"] > 0]
    assert any(moved)


def test_ball_track_follows_the_projected_ball(matches):
    fixed = load_matches(matches, crop_on="ball", margin_s=0.3, seed=2)
    moving = load_matches(matches, crop_on="ball_track", margin_s=0.3, track_half_s=0.4, track_smooth_s=0.0, seed=2)
    assert [s.sample_id for s in fixed.samples] == [s.sample_id for s in moving.samples]
    for a, b in zip(fixed.samples, moving.samples):
        assert a.track is None and len(b.track) >= 2 * 10 + 1 - 1
        times = [t for t, _, _ in b.track]
        assert times == sorted(times) and min(times) <= b.center_s - 0.39 and max(times) >= b.center_s + 0.39
        assert b.point == pytest.approx(a.point, abs=0.02)  # unsmoothed: the centre frame is the fixed point
        assert b.crop_centers([b.center_s])[0] == pytest.approx(a.point, abs=0.02)
    steps = [abs(b.track[-1][1] - b.track[0][1]) + abs(b.track[-1][2] - b.track[0][2]) for b in moving.samples]
    assert max(steps) > 5  # the ball moves in the image, and the window with it
    smooth = load_matches(matches, crop_on="ball_track", margin_s=0.3, track_half_s=0.4, track_smooth_s=0.2, seed=2)

    def jitter(tr):
        import numpy as np

        xy = np.array([[x, y] for _, x, y in tr])
        return float(np.abs(np.diff(xy, 2, axis=0)).mean())

    assert sum(map(jitter, (s.track for s in smooth.samples))) < sum(map(jitter, (s.track for s in moving.samples)))


def test_errors_name_the_file(matches, tmp_path):
    bad = tmp_path / "m"
    shutil.copytree(matches / "match_000", bad / "match_000")
    (bad / "match_000" / "camera.csv").unlink()
    with pytest.raises(AdapterError, match="camera.csv"):
        load_matches(bad, crop_on="ball")
    with pytest.raises(AdapterError, match="camera.csv"):
        load_matches(bad, crop_on="ball_track")
    assert len(load_matches(bad, crop_on="none")) > 0
    rows = (bad / "match_000" / "events.csv").read_text().splitlines()
    rows[1] = "x" + rows[1]
    (bad / "match_000" / "events.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(AdapterError, match=r"events.csv, row 2"):
        load_matches(bad, crop_on="none")
    (bad / "match_000" / "video.mp4").unlink()
    with pytest.raises(AdapterError, match="video.mp4"):
        load_matches(bad, crop_on="none")
    with pytest.raises(AdapterError, match="no match folders"):
        load_matches(tmp_path, crop_on="none")
    with pytest.raises(AdapterError, match="crop_on"):
        load_matches(matches, crop_on="head")


# ---- bad data: events past the video, bad tracking rows
def _one_match(matches, tmp_path):
    root = tmp_path / "matches"
    shutil.copytree(matches / "match_000", root / "match_000")
    return root, root / "match_000"


def test_header_past_the_end_of_the_video_fails_or_is_dropped(matches, tmp_path):
    from replaylab.data.rowchecks import BadRows
    from replaylab.data.video import probe

    root, folder = _one_match(matches, tmp_path)
    n_video = probe(folder / "video.mp4").n_frames
    ball = BallTrack(folder / "tracking.csv")
    last = [r for r in csv.DictReader(open(folder / "tracking.csv")) if r["team"] == "ball"][-1]
    with open(folder / "tracking.csv", "a", newline="") as fh:  # tracking that runs on past the video
        w = csv.DictWriter(fh, fieldnames=list(last))
        for f in range(ball.n_frames, n_video + 40):
            w.writerow({**last, "frame": f, "time": f"{f / ball.fps:.6f}"})
    header = (folder / "events.csv").read_text().splitlines()[0].split(",")
    with open(folder / "events.csv", "a", newline="") as fh:
        csv.writer(fh).writerow([n_video + 20 if c == "frame" else "header" if c == "type" else "" for c in header])
    row = len((folder / "events.csv").read_text().splitlines())
    with pytest.raises(
        AdapterError, match=rf"events\.csv, row {row}: event at frame {n_video + 20} is outside .*video\.mp4: {n_video} frames"
    ):
        load_matches(root, seed=0)
    tally = BadRows()
    idx = load_matches(root, seed=0, on_bad_rows="drop", tally=tally)
    assert tally.counts == {"event_outside_span": 1}
    assert all(s.meta["frame"] < n_video for s in idx.samples) and idx.samples
    # random open play is drawn from the video too, not from the tracking that runs on past it
    many = load_matches(root, seed=0, neg_ratio=100.0, lookalike_share=0.0, min_gap_s=0.0, on_bad_rows="drop")
    randoms = [s.meta["frame"] for s in many.samples if s.meta["event"] == "random"]
    assert len(randoms) >= 100 and max(randoms) < n_video  # 100 of ~290 frames: past-the-end ones would show


def test_nan_tracking_is_blamed_on_tracking_csv(matches, tmp_path):
    root, folder = _one_match(matches, tmp_path)
    lines = (folder / "tracking.csv").read_text().splitlines()
    cols = lines[0].split(",")
    i = next(n for n, line in enumerate(lines) if line.split(",")[cols.index("team")] == "ball" and n > 100)
    cells = lines[i].split(",")
    cells[cols.index("y")] = "NaN"
    lines[i] = ",".join(cells)
    (folder / "tracking.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(AdapterError, match=rf"match_000/tracking\.csv, row {i + 1}: non-finite tracking value y=nan"):
        load_matches(root, seed=0)
