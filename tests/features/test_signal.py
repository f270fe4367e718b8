import numpy as np
import pytest

from replaylab.features.signal import frames_for, local_fit, shift, sliding_max, sliding_min, window_sum


def test_frames_for_rounds_and_is_at_least_one():
    assert frames_for(0.28, 0.04) == 7 and frames_for(0.28, 0.1) == 3 and frames_for(0.001, 0.04) == 1
    with pytest.raises(ValueError):
        frames_for(1.0, 0.0)


def test_window_sum_counts_only_inside_the_array():
    v = np.arange(1.0, 6.0)  # 1..5
    assert window_sum(v, -1, 1).tolist() == [3, 6, 9, 12, 9]
    assert window_sum(v, 0, 2).tolist() == [6, 9, 12, 9, 5]
    assert window_sum(v, -2, 0, weights=np.array([1.0, 0.0, 0.0])).tolist() == [0, 0, 1, 2, 3]


def test_shift_repeats_the_edges():
    assert shift(np.array([1, 2, 3]), 1).tolist() == [2, 3, 3]
    assert shift(np.array([1, 2, 3]), -2).tolist() == [1, 1, 1]


def test_sliding_extremes_use_the_part_inside():
    v = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    assert sliding_max(v, 1).tolist() == [3, 4, 4, 5, 5]
    assert sliding_min(v, 1).tolist() == [1, 1, 1, 1, 1]
    assert sliding_max(v, 0).tolist() == v.tolist()


def test_local_quadratic_recovers_a_parabola_through_gaps():
    dt = 0.04
    t = np.arange(60) * dt
    z = 1.0 + 3.0 * t - 0.5 * 9.81 * t**2
    mask = np.ones(60, bool)
    mask[20:26] = False  # missing samples are ignored, the fit still holds
    fit = local_fit(z, mask, -6, 6, dt, degree=2)
    inner = slice(6, 54)
    assert fit.valid[inner].all()
    np.testing.assert_allclose(fit.value[inner], z[inner], atol=1e-9)
    np.testing.assert_allclose(fit.slope[inner], (3.0 - 9.81 * t)[inner], atol=1e-8)
    np.testing.assert_allclose(fit.curvature[inner], -9.81, atol=1e-7)


def test_gravity_fit_extrapolates_a_flight_from_one_side():
    dt = 0.04
    t = np.arange(40) * dt
    z = 0.5 + 6.0 * t - 0.5 * 9.81 * t**2
    mask = t < 0.8
    fit = local_fit(np.where(mask, z, 0.0), mask, -10, 0, dt, degree=1, gravity=9.81, min_count=3)
    k = 19  # last measured frame: the fit there uses the 10 frames before it
    assert fit.valid[k]
    assert fit.value[k] == pytest.approx(z[k], abs=1e-9) and fit.slope[k] == pytest.approx(6.0 - 9.81 * t[k], abs=1e-8)


def test_too_few_samples_are_invalid_and_zero():
    mask = np.zeros(10, bool)
    mask[[2]] = True
    fit = local_fit(np.arange(10.0), mask, -2, 2, 0.04, degree=1)
    assert not fit.valid.any() and (fit.value == 0).all() and (fit.slope == 0).all()
    with pytest.raises(ValueError):
        local_fit(np.zeros(3), np.ones(3, bool), -1, 1, 0.04, degree=2, gravity=9.81)
