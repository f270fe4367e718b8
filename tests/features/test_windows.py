import numpy as np
import pytest

from replaylab.features.windows import NOT_EVALUATED, OUTSIDE, active_frames, window_feature_names, window_features

NAN = np.nan


def col(names, name):
    return names.index(name)


def test_names_and_shape():
    names = window_feature_names(["cnn_prob", "pre_xgb_prob"], 15)
    assert len(names) == 2 * (31 + 10) + 3 and len(set(names)) == len(names)
    X = window_features(np.zeros((40, 2)), half_window=15, columns=["cnn_prob", "pre_xgb_prob"])
    assert X.shape == (40, len(names)) and X.dtype == np.float32
    with pytest.raises(ValueError):
        window_features(np.zeros((4, 2)), half_window=1, columns=["a"])


def test_window_values_with_border_and_not_evaluated_codes():
    p = np.array([0.1, NAN, 0.9, 0.2, NAN])
    names = window_feature_names(["c"], 2)
    X = window_features(p, half_window=2, columns=["c"])
    at = lambda t, k: X[t, col(names, f"c@{k:+d}")]
    # frame 0: offsets -2, -1 are before the video
    assert at(0, -2) == OUTSIDE and at(0, -1) == OUTSIDE and at(0, 0) == pytest.approx(0.1) and at(0, 1) == NOT_EVALUATED
    assert at(0, 2) == pytest.approx(0.9)
    # last frame: not evaluated itself, beyond the end after it
    assert at(4, 0) == NOT_EVALUATED and at(4, 1) == OUTSIDE and at(4, 2) == OUTSIDE and at(4, -1) == pytest.approx(0.2)
    assert not np.isnan(X).any()
    assert X[0, col(names, "frames_to_start")] == 0 and X[0, col(names, "frames_to_end")] == 3  # capped at h + 1
    assert X[2, col(names, "frames_to_start")] == 2 and X[2, col(names, "outside")] == 0
    assert X[0, col(names, "outside")] == pytest.approx(2 / 5) and X[4, col(names, "outside")] == pytest.approx(2 / 5)


def test_summaries_on_a_hand_made_peak():
    p = np.array([0.0, 0.2, 0.8, 0.4, 0.0, NAN, NAN])
    names = window_feature_names(["c"], 2)
    X = window_features(p, half_window=2, columns=["c"])
    f = lambda t, s: X[t, col(names, f"c:{s}")]
    assert f(2, "max") == pytest.approx(0.8) and f(2, "is_peak") == 1 and f(2, "center_minus_max") == pytest.approx(0.0)
    assert f(2, "mean") == pytest.approx(0.28) and f(2, "argmax_offset") == 0
    assert f(2, "left_mean") == pytest.approx(0.1) and f(2, "right_mean") == pytest.approx(0.2)
    assert f(2, "above_half") == pytest.approx(2 / 5)  # 0.8 and 0.4 are >= half the maximum
    assert f(3, "argmax_offset") == -1 and f(3, "is_peak") == 0 and f(3, "center_minus_max") == pytest.approx(-0.4)
    assert f(5, "center_minus_max") == -1 and f(5, "evaluated") == pytest.approx(2 / 5)
    assert f(6, "max") == pytest.approx(0.0) and f(6, "evaluated") == pytest.approx(1 / 5)


def test_above_half_counts_ties():
    X = window_features(np.array([0.4, 0.8, 0.4]), half_window=1, columns=["c"])
    names = window_feature_names(["c"], 1)
    assert X[1, col(names, "c:above_half")] == pytest.approx(1.0)


def test_a_window_with_nothing_evaluated_is_all_codes_and_zeros():
    names = window_feature_names(["c"], 3)
    X = window_features(np.full(10, NAN), half_window=3, columns=["c"])
    assert (X[5, col(names, "c@-3") : col(names, "c@+3") + 1] == NOT_EVALUATED).all()
    assert (
        X[5, col(names, "c:max")] == 0 and X[5, col(names, "c:evaluated")] == 0 and X[5, col(names, "c:center_minus_max")] == -1
    )


def test_short_video_shorter_than_the_window():
    names = window_feature_names(["c"], 15)
    X = window_features(np.array([0.3, 0.6]), half_window=15, columns=["c"])
    assert X.shape == (2, len(names)) and X[0, col(names, "c:max")] == pytest.approx(0.6)
    assert X[0, col(names, "outside")] == pytest.approx(29 / 31)


def test_active_frames():
    v = np.full(12, NAN)
    v[5] = 0.3
    assert np.flatnonzero(active_frames(v, half_window=2)).tolist() == [3, 4, 5, 6, 7]
    assert not active_frames(np.full(4, NAN), half_window=3).any()
