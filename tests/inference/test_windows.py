"""Clips cut around any frame of a match equal the clip cache's training clips, pixel for pixel."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from header_run_fixture import build_header_run  # type: ignore[import-not-found]

from replaylab.data.cache import ClipSpec
from replaylab.data.samples import AdapterError, read_csv
from replaylab.inference.windows import MatchClips


@pytest.mark.parametrize("crop_on", ["ball", "ball_track", "none"])
def test_match_clips_equal_the_cached_training_clips(three_matches, tmp_path, crop_on):
    _, index_csv = build_header_run(tmp_path, three_matches, crop_on=crop_on, train=False)
    index = read_csv(index_csv)
    spec = ClipSpec(frames=6, size=(24, 24), stride=2, crop_px=48)
    with h5py.File(tmp_path / "cache/header.h5", "r") as f:
        cached = f["clips"][:]
    for mid in index.groups():
        folder = three_matches / mid
        clips = MatchClips(folder / "video.mp4", spec=spec, crop_on=crop_on, track_smooth_s=0.08, tracking=folder / "tracking.csv",
                           camera=folder / "camera.csv")  # fmt: skip
        rows = [i for i, s in enumerate(index.samples) if s.group == mid]
        frames = [index.samples[i].meta["frame"] for i in rows]
        got = {}
        for fs, batch in clips.batches(frames, batch_size=3):
            assert len(fs) <= 3 and list(fs) == sorted(fs)
            got.update(zip(fs.tolist(), batch))
        assert sorted(got) == sorted(frames)
        for i, fr in zip(rows, frames):
            np.testing.assert_array_equal(got[fr], cached[i], err_msg=f"{mid} frame {fr}")


def test_runs_group_nearby_candidates(three_matches):
    folder = three_matches / "match_000"
    clips = MatchClips(folder / "video.mp4", spec=ClipSpec(frames=4, size=(16, 16), stride=1), crop_on="none")
    runs = clips.runs([50, 3, 4, 5, 40, 41, 3], max_run=2)
    assert [r.tolist() for r in runs] == [[3, 4], [5], [40, 41], [50]]
    assert clips.runs([]) == []


def test_crop_modes_need_tracking_and_calibration(three_matches):
    folder = three_matches / "match_000"
    spec = ClipSpec(frames=4, size=(16, 16), crop_px=32)
    with pytest.raises(AdapterError, match="calibration"):
        MatchClips(folder / "video.mp4", spec=spec, crop_on="ball", tracking=folder / "tracking.csv")
    with pytest.raises(ValueError, match="player"):
        MatchClips(folder / "video.mp4", spec=spec, crop_on="player")
