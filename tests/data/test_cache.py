"""The HDF5 clip cache: exact pixels, resume after a kill, bad videos in fail / skip mode, multi-view."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from video_fixtures import decode_index, make_video

from replaylab.data.cache import (
    BadVideosError,
    ClipSpec,
    WindowOutsideError,
    build_cache,
    contact_sheet_png,
    plan_units,
    read_cache_meta,
)
from replaylab.data.samples import Sample, SampleIndex, read_csv
from replaylab.data.video import read_frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for name in ("a", "b", "c"):
        make_video(root / f"{name}.mp4", fps=25, n_frames=60, size=(96, 64))
    return root


def _index(root, n_per_video=3, names=("a", "b", "c")) -> SampleIndex:
    samples = []
    for v in names:
        for k in range(n_per_video):
            samples.append(Sample(f"{v}_{k}", (f"{v}.mp4",), v, k % 2, center_s=0.4 + 0.6 * k, point=(30.0 + 10 * k, 32.0)))
    return SampleIndex(samples, ["neg", "pos"], root, "t")


def _build(index, spec, out, **kw):
    return build_cache(
        index, spec, out_h5=out / "c.h5", out_index=out / "c_index.csv", work_dir=out / "work", progress=False, **kw
    )


def test_round_trip_is_pixel_exact(videos, tmp_path):
    idx = _index(videos)
    spec = ClipSpec(frames=5, size=(24, 24), stride=2, crop_px=40)
    summary = _build(idx, spec, tmp_path, workers=2)
    assert summary["clips"] == 9 and summary["class_counts"] == {"neg": 6, "pos": 3}
    back = read_csv(tmp_path / "c_index.csv")
    assert [s.sample_id for s in back.samples] == [s.sample_id for s in idx.samples]
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["clips"].shape == (9, 5, 24, 24, 3) and f["clips"].dtype == np.uint8
        assert f["clips"].chunks == (1, 5, 24, 24, 3)
        for i, s in enumerate(idx.samples):
            times = spec.times(s, 60 / 25, 25.0)
            direct = read_frames(videos / s.sources[0], times, crop_center=s.point, crop_px=40, size=(24, 24))
            np.testing.assert_array_equal(f["clips"][i], direct)
        assert json.loads(f.attrs["classes"]) == ["neg", "pos"]
    assert not (tmp_path / "work").exists()  # parts are removed once the cache is final


def test_moving_crop_track_is_followed_frame_by_frame(videos, tmp_path):
    track = tuple((round(0.04 * k, 2), round(20.0 + 4.0 * k, 2), 30.0) for k in range(60))  # 100 px/s to the right
    s = Sample("mv", ("a.mp4",), "a", 0, center_s=1.0, point=(120.0, 30.0), track=track)
    spec = ClipSpec(frames=5, size=(16, 16), stride=3, crop_px=32)
    _build(SampleIndex([s], ["x"], videos), spec, tmp_path)
    times = spec.times(s, 60 / 25, 25.0)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        for k, t in enumerate(times):
            direct = read_frames(videos / "a.mp4", [t], crop_center=(20.0 + 100 * t, 30.0), crop_px=32, size=(16, 16))
            np.testing.assert_array_equal(f["clips"][0][k], direct[0])
    assert read_csv(tmp_path / "c_index.csv").samples[0].track == track
    moved = Sample("mv", ("a.mp4",), "a", 0, center_s=1.0, point=(120.0, 30.0), track=track[:-1])
    assert (
        plan_units(SampleIndex([s], ["x"], videos), spec)[0].key != plan_units(SampleIndex([moved], ["x"], videos), spec)[0].key
    )


def test_window_is_centred_with_stride_and_edge_replication_when_asked(videos, tmp_path):
    s = Sample("edge", ("a.mp4",), "a", 0, center_s=0.08)  # frame 2, window reaches before the start
    spec = ClipSpec(frames=6, size=(64, 96), stride=2, outside="pad")
    summary = _build(SampleIndex([s], ["x"], videos), spec, tmp_path)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        got = [decode_index(fr) for fr in f["clips"][0]]
    assert got == [0, 0, 0, 2, 4, 6]  # frames 2 + (k - 3) * 2, clamped at 0
    assert summary["padded_clips"] == 1 and summary["padded_frames"] == 2  # times -0.16 and -0.08 s are not in the video


def _edge_samples():
    return [
        Sample("inside", ("a.mp4",), "a", 0, center_s=1.2),
        Sample("early", ("a.mp4",), "a", 0, center_s=0.08),  # needs frames before the first
        Sample("late", ("b.mp4",), "b", 1, center_s=2.3),  # 60 frames = 2.4 s: needs frames past the last
        Sample("last", ("b.mp4",), "b", 1, center_s=2.2),  # its window ends exactly on the last frame (2.36 s)
    ]


def test_windows_outside_the_video_are_skipped_and_listed(videos, tmp_path):
    spec = ClipSpec(frames=6, size=(16, 16), stride=2)  # outside: skip (default)
    summary = _build(SampleIndex(_edge_samples(), ["x", "y"], videos), spec, tmp_path, skipped_csv=tmp_path / "skipped.csv")
    assert [s.sample_id for s in read_csv(tmp_path / "c_index.csv").samples] == ["inside", "last"]
    assert summary["skipped_outside"] == 2 and summary["skipped_samples"] == 2 and summary["padded_frames"] == 0
    rows = list(csv.DictReader(open(tmp_path / "skipped.csv")))
    reasons = {r["reason"].split(": ")[1]: r for r in rows}
    assert set(reasons) == {"sample early", "sample late"}
    assert "2 of 6 clip frames outside the video (0 to 2.400 s)" in reasons["sample early"]["reason"]
    assert "1 of 6 clip frames outside" in reasons["sample late"]["reason"]
    assert reasons["sample late"]["source"] == "b.mp4" and reasons["sample late"]["samples"] == "1"
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert [decode_index(fr) for fr in f["clips"][1]] == [49, 51, 53, 55, 57, 59]


def test_windows_outside_the_video_fail_when_asked(videos, tmp_path):
    spec = ClipSpec(frames=6, size=(16, 16), stride=2, outside="fail")
    with pytest.raises(WindowOutsideError, match=r"b\.mp4: sample late: 1 of 6 clip frames outside"):
        _build(SampleIndex(_edge_samples()[2:], ["x", "y"], videos), spec, tmp_path, on_bad_video="skip")
    with pytest.raises(ValueError, match="outside: unknown value 'clamp'"):
        ClipSpec(frames=6, size=(16, 16), outside="clamp")


def test_short_video_for_whole_video_sampling(videos, tmp_path):
    clip = np.zeros((3, 8, 8, 3), np.uint8)
    np.save(tmp_path / "short.npy", clip)
    samples = [Sample("short", ("short.npy",), "g", 0), Sample("whole", (str(videos / "a.mp4"),), "h", 0)]
    idx = SampleIndex(samples, ["x"], tmp_path)
    summary = _build(idx, ClipSpec(frames=4, size=(8, 8)), tmp_path / "skip", skipped_csv=tmp_path / "s.csv")
    assert summary["clips"] == 1 and summary["skipped_outside"] == 1
    assert "1 of 4 clip frames missing: the clip has 3 frames" in open(tmp_path / "s.csv").read()
    summary = _build(idx.subset(["short"]), ClipSpec(frames=4, size=(8, 8), outside="pad"), tmp_path / "pad")
    assert summary["clips"] == 1 and summary["padded_frames"] == 1


def test_killed_build_resumes_without_redoing_finished_videos(videos, tmp_path):
    idx = _index(videos)
    spec = ClipSpec(frames=4, size=(16, 16))
    done = []

    def kill_after_first(key):
        done.append(key)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _build(idx, spec, tmp_path, workers=1, _after_unit=kill_after_first)
    assert not (tmp_path / "c.h5").exists()  # nothing final appears before every unit is done
    assert len(list((tmp_path / "work").glob("*.npy"))) == 1
    summary = _build(idx, spec, tmp_path, workers=1)
    assert summary["resumed_units"] == 1 and summary["clips"] == 9
    fresh = tmp_path / "fresh"
    _build(idx, spec, fresh, workers=2)
    with h5py.File(tmp_path / "c.h5", "r") as a, h5py.File(fresh / "c.h5", "r") as b:
        np.testing.assert_array_equal(a["clips"][:], b["clips"][:])


def test_changed_spec_does_not_reuse_parts(videos, tmp_path):
    idx = _index(videos)
    a = plan_units(idx, ClipSpec(frames=4, size=(16, 16)))
    b = plan_units(idx, ClipSpec(frames=4, size=(16, 32)))
    assert {u.key for u in a}.isdisjoint({u.key for u in b})
    assert [len(u.rows) for u in a] == [3, 3, 3]


@pytest.fixture()
def with_bad(videos, tmp_path):
    bad = tmp_path / "src"
    bad.mkdir()
    for name in ("a", "b"):
        (bad / f"{name}.mp4").write_bytes((videos / f"{name}.mp4").read_bytes())
    data = (videos / "c.mp4").read_bytes()
    (bad / "c.mp4").write_bytes(data[: len(data) // 3])  # truncated
    return bad


def test_bad_video_fails_with_the_list(with_bad, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(BadVideosError) as e:
        _build(_index(with_bad), ClipSpec(frames=4, size=(16, 16)), out, workers=2)
    assert "c.mp4" in str(e.value) and len(e.value.bad) == 1
    assert not (out / "c.h5").exists()
    assert len(list((out / "work").glob("*.npy"))) == 2  # the good videos are kept for the re-run


def test_skip_mode_records_file_and_reason(with_bad, tmp_path):
    out = tmp_path / "out"
    summary = _build(
        _index(with_bad), ClipSpec(frames=4, size=(16, 16)), out, on_bad_video="skip", skipped_csv=out / "skipped.csv"
    )
    assert summary["skipped_sources"] == 1 and summary["skipped_samples"] == 3 and summary["clips"] == 6
    rows = list(csv.DictReader(open(out / "skipped.csv")))
    assert len(rows) == 1 and rows[0]["source"].endswith("c.mp4") and rows[0]["reason"] and rows[0]["samples"] == "3"
    assert all(not s.sample_id.startswith("c_") for s in read_csv(out / "c_index.csv").samples)


def test_multi_view_pads_missing_views(videos, tmp_path):
    samples = [
        Sample("act0", ("a.mp4", "b.mp4", "c.mp4"), "g0", 1, center_s=1.0),
        Sample("act1", ("b.mp4", "a.mp4"), "g1", 0, center_s=1.0),
    ]
    spec = ClipSpec(frames=3, size=(16, 24), views=4)
    _build(SampleIndex(samples, ["x", "y"], videos), spec, tmp_path, workers=2)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["clips"].shape == (2, 4, 3, 16, 24, 3)
        assert f["n_views"][:].tolist() == [3, 2]
        assert not f["clips"][1, 2:].any() and f["clips"][1, :2].any()
    meta = read_cache_meta(tmp_path / "c.h5")
    assert meta["sample_ids"] == ["act0", "act1"] and meta["shape"] == (4, 3, 16, 24, 3)


@pytest.fixture()
def views_with_bad(videos, tmp_path):
    root = tmp_path / "views"
    root.mkdir()
    for name in ("a", "b"):
        (root / f"{name}.mp4").write_bytes((videos / f"{name}.mp4").read_bytes())
    make_video(root / "c.avi", codec="msmpeg4v2", fps=25, n_frames=60, size=(96, 64))
    data = (root / "c.avi").read_bytes()
    (root / "c.avi").write_bytes(data[: len(data) // 2])  # truncated AVI
    (root / "d.mp4").write_bytes(b"not a video")
    return root


def test_multi_view_drops_bad_views_and_keeps_the_action(views_with_bad, tmp_path):
    samples = [
        Sample("act0", ("c.avi", "a.mp4", "d.mp4", "b.mp4"), "g0", 1, center_s=1.0),  # 2 of 4 readable
        Sample("act1", ("d.mp4", "c.avi"), "g1", 0, center_s=1.0),  # none readable
        Sample("act2", ("b.mp4", "a.mp4"), "g2", 0, center_s=1.0),
    ]
    spec = ClipSpec(frames=3, size=(16, 24), views=4)
    with pytest.raises(BadVideosError) as e:  # on_bad_video: fail stops on any unreadable view, listing each
        _build(SampleIndex(samples, ["x", "y"], views_with_bad), spec, tmp_path / "fail")
    assert sorted(Path(f).name for f, _ in e.value.bad) == ["c.avi", "d.mp4"]
    idx = SampleIndex(samples, ["x", "y"], views_with_bad)
    summary = _build(idx, spec, tmp_path, skipped_csv=tmp_path / "s.csv", on_bad_video="skip")
    assert summary["dropped_views"] == 4 and summary["skipped_few_views"] == 1 and summary["clips"] == 2
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert sum(r["reason"].startswith("view of sample act0 dropped") for r in rows) == 2
    assert any("c.avi" in r["source"] and "truncated" in r["reason"] for r in rows)
    assert any(r["reason"] == "sample act1: 0 of 2 views readable (min_views: 1)" for r in rows)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert [s.decode() for s in f["sample_id"][:]] == ["act0", "act2"]
        assert f["n_views"][:].tolist() == [2, 2]
        ref = {name: read_frames(views_with_bad / f"{name}.mp4", [0.96, 1.0, 1.04], size=(16, 24)) for name in "ab"}
        np.testing.assert_array_equal(f["clips"][0, 0], ref["a"])  # readable views move to the front, in order
        np.testing.assert_array_equal(f["clips"][0, 1], ref["b"])
        assert not f["clips"][0, 2:].any()

    strict = ClipSpec(frames=3, size=(16, 24), views=4, min_views=3)
    summary = _build(idx, strict, tmp_path / "strict", skipped_csv=tmp_path / "t.csv", on_bad_video="skip")
    assert summary["clips"] == 1 and summary["skipped_few_views"] == 2  # act2 has only 2 views, both readable: kept
    assert "sample act0: 2 of 4 views readable (min_views: 3)" in open(tmp_path / "t.csv").read()
    with pytest.raises(ValueError, match="min_views must be in 1..views"):
        ClipSpec(frames=3, size=(16, 24), views=2, min_views=3)


def test_dropped_by_rules_is_reported(videos, tmp_path):
    idx = SampleIndex(
        _index(videos).samples, ["neg", "pos"], videos, "t", {"offence 'Between'": 2, "action class 'Dont know'": 1}
    )
    summary = _build(idx, ClipSpec(frames=2, size=(8, 8)), tmp_path)
    assert summary["dropped_by_rules"] == {"action class 'Dont know'": 1, "offence 'Between'": 2}


def test_npy_sources_and_whole_video_sampling(videos, tmp_path):
    clip = np.random.default_rng(0).integers(0, 255, (10, 20, 20, 3), dtype=np.uint8)
    np.save(tmp_path / "clip.npy", clip)
    samples = [Sample("n", ("clip.npy",), "g", 0), Sample("w", (str(videos / "a.mp4"),), "h", 0)]
    _build(SampleIndex(samples, ["x"], tmp_path), ClipSpec(frames=4, size=(20, 20)), tmp_path / "o")
    with h5py.File(tmp_path / "o" / "c.h5", "r") as f:
        np.testing.assert_array_equal(f["clips"][0], clip[[0, 3, 6, 9]])
        assert f["clips"].shape[1:] == (4, 20, 20, 3)


def test_empty_index_and_unknown_mode(tmp_path):
    from replaylab.data.samples import AdapterError

    with pytest.raises(AdapterError, match="empty"):
        _build(SampleIndex([], ["x"], tmp_path, "mine"), ClipSpec(frames=2, size=(8, 8)), tmp_path)
    with pytest.raises(ValueError, match="on_bad_video"):
        _build(SampleIndex([], ["x"], tmp_path), ClipSpec(frames=2, size=(8, 8)), tmp_path, on_bad_video="ignore")


def test_contact_sheet(videos, tmp_path):
    _build(_index(videos), ClipSpec(frames=4, size=(16, 16)), tmp_path)
    contact_sheet_png(tmp_path / "c.h5", tmp_path / "sheet.png", per_class=2, steps=3)
    assert (tmp_path / "sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_process_killed_mid_build_resumes(videos, tmp_path):
    """SIGKILL the building process after its first finished video; the re-run decodes only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    _index(videos).write_csv(tmp_path / "index.csv")
    out = tmp_path / "out"
    script = (
        "import sys, time\n"
        "from replaylab.data.cache import ClipSpec, build_cache\n"
        "from replaylab.data.samples import read_csv\n"
        f"idx = read_csv({str(tmp_path / 'index.csv')!r}, root={str(videos)!r})\n"
        f"build_cache(idx, ClipSpec(frames=4, size=(16, 16)), out_h5={str(out / 'c.h5')!r}, out_index={str(out / 'c_index.csv')!r},\n"
        f"            work_dir={str(out / 'work')!r}, workers=1, progress=False, _after_unit=lambda k: time.sleep(30))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 60
        while not list((out / "work").glob("*.npy")) and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (out / "c.h5").exists()
    assert len(list((out / "work").glob("*.npy"))) == 1 and not list((out / "work").glob(".*.tmp"))
    summary = build_cache(read_csv(tmp_path / "index.csv", root=videos), ClipSpec(frames=4, size=(16, 16)), out_h5=out / "c.h5",
                          out_index=out / "c_index.csv", work_dir=out / "work", workers=1, progress=False)  # fmt: skip
    assert summary["resumed_units"] == 1 and summary["clips"] == 9
