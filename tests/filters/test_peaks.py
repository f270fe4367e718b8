import numpy as np

from replaylab.filters.peaks import dilate, pick_peaks, runs


def test_nms_keeps_the_highest_and_suppresses_its_neighbourhood():
    s = np.zeros(100)
    s[[20, 25, 40, 80]] = [0.9, 0.95, 0.5, 0.2]
    frames, scores = pick_peaks(s, nms_frames=12, min_score=0.1)
    assert frames.tolist() == [25, 40, 80] and scores.tolist() == [0.95, 0.5, 0.2]
    frames, _ = pick_peaks(s, nms_frames=3, min_score=0.1)
    assert frames.tolist() == [20, 25, 40, 80]
    assert pick_peaks(s, nms_frames=12, min_score=0.6)[0].tolist() == [25]


def test_plateaus_give_their_first_frame_and_nan_is_never_a_peak():
    s = np.array([0.0, 0.5, 0.5, 0.5, 0.0, np.nan, np.nan])
    frames, _ = pick_peaks(s, nms_frames=2, min_score=0.1)
    assert frames.tolist() == [1]
    assert pick_peaks(np.full(5, np.nan), nms_frames=1)[0].size == 0


def test_dilate_and_runs():
    m = np.zeros(12, bool)
    m[[3, 4, 9]] = True
    assert runs(m) == [(3, 4), (9, 9)]
    d = dilate(m, 2)
    assert runs(d) == [(1, 11)]
    assert runs(dilate(m, 1)) == [(2, 5), (8, 10)]
    assert runs(np.zeros(0, bool)) == [] and runs(np.ones(3, bool)) == [(0, 2)]
