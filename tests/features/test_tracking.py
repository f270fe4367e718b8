import csv
import time

import numpy as np
import pytest
from football_fixture import Scene, single_episode, tracking_rows, write_tracking

import replaylab.features.tracking as tracking_module
from replaylab.data.samples import AdapterError
from replaylab.features.tracking import FEATURE_NAMES, N_FEATURES, FeatureConfig, TrackingTable, compute_features

F = {n: i for i, n in enumerate(FEATURE_NAMES)}
CONTACT = 50  # frame of the contact in single_episode (2.0 s at 25 fps)


def features(scene, n_frames=101, **rows_kw):
    return compute_features(TrackingTable.from_rows(tracking_rows(scene, **rows_kw)), fps=25, n_frames=n_frames)


def at(X, name, frame=CONTACT):
    return float(X[frame, F[name]])


def test_36_features_each_documented_with_a_unit():
    assert N_FEATURES == 36 and len(set(FEATURE_NAMES)) == 36
    doc = tracking_module.__doc__
    for i, name in enumerate(FEATURE_NAMES):
        line = next((ln for ln in doc.splitlines() if f" {name} " in ln), None)
        assert line is not None, f"{name} is not documented"
        assert line.split()[0] == str(i), f"{name} is documented as feature {line.split()[0]}, it is column {i}"


@pytest.fixture(scope="module")
def episodes():
    return {k: features(single_episode(k)) for k in ("header", "fly_past", "chest", "bounce", "kick")}


def test_header_is_a_direction_change_at_head_height_next_to_a_head(episodes):
    X = episodes["header"]
    assert at(X, "ball_dir_change") > 1.5 and at(X, "ball_dv") > 15
    assert at(X, "ball_z") == pytest.approx(1.9, abs=0.3) and at(X, "ball_z_missing") == 0
    assert at(X, "ball_height_above_head") == pytest.approx(at(X, "ball_z") - 1.75, abs=1e-5)
    assert at(X, "nearest_dist_min") < 0.5 and at(X, "head_dist_min") < 0.6
    assert at(X, "ball_speed_before") > 10 and at(X, "ball_speed_after") > 8  # arrives in flight, leaves fast
    assert at(X, "ball_vz_before") < 0 < at(X, "ball_vz_after")
    assert (
        at(X, "ball_accel_peak_ratio") == pytest.approx(1.0, abs=0.05)
        and at(X, "approach_speed") > 10
        and at(X, "depart_speed") > 8
    )
    assert at(X, "ball_z_max_context") > 2.5  # a lofted ball
    assert at(X, "nearest_team") == 1 and at(X, "players_1m") == 1


def test_a_ball_flying_past_keeps_its_velocity_and_misses_the_head(episodes):
    X, H = episodes["fly_past"], episodes["header"]
    assert at(X, "ball_dir_change") < 0.1 and at(X, "ball_dv") < 1.0 and at(X, "ball_accel") < 0.2 * at(H, "ball_accel")
    assert at(X, "ball_z") == pytest.approx(1.9, abs=0.2)  # at head height ...
    assert 0.45 <= at(X, "nearest_dist_min") <= 1.0  # ... but 0.7 m beside the head
    assert at(X, "ball_speed_log_ratio") == pytest.approx(0.0, abs=0.05)


def test_chest_control_stops_the_ball_below_head_height(episodes):
    X = episodes["chest"]
    assert at(X, "ball_dv") > 10 and at(X, "ball_speed_after") < 2 and at(X, "ball_speed_log_ratio") < -1.5
    assert at(X, "ball_z") < 1.6 and at(X, "ball_height_above_head") < -0.15


def test_a_bounce_is_at_ground_level_away_from_players(episodes):
    X = episodes["bounce"]
    assert at(X, "ball_z") < 0.5 and at(X, "ball_vz_before") < -2 and at(X, "ball_vz_after") > 1
    assert at(X, "nearest_dist_min") > 1.5 and at(X, "ball_dir_change") < 0.2


def test_a_kick_at_the_feet_starts_from_a_rolling_ball_on_the_ground(episodes):
    X = episodes["kick"]
    assert at(X, "ball_z") < 0.3 and at(X, "head_dist_min") > 1.4
    assert at(X, "ball_speed_before") < 3 and at(X, "ball_speed_after") > 10 and at(X, "ball_dv") > 10
    assert at(X, "ball_speed_trend_before") < -2  # rolling friction, where a flight keeps its pace


def test_only_the_header_has_all_the_header_signs(episodes):
    def header_like(X):
        return (
            at(X, "ball_dv") > 10 and at(X, "ball_z") > 1.6 and at(X, "ball_speed_after") > 5 and at(X, "nearest_dist_min") < 0.45
        )

    assert [k for k, X in episodes.items() if header_like(X)] == ["header"]


def test_provider_noise_still_separates_a_header_from_a_fly_past():
    kw = {"rng": np.random.default_rng(3), "ball_xy_noise": 0.12, "ball_z_noise": 0.25, "player_noise": 0.08}
    H = features(single_episode("header"), **kw)
    P = features(single_episode("fly_past"), **kw)
    assert at(H, "ball_dv") > 15 and at(P, "ball_dv") < 5
    assert at(H, "ball_dir_change") > 1.5 and at(P, "ball_dir_change") < 0.4
    assert at(H, "ball_z") == pytest.approx(1.9, abs=0.4) and at(P, "ball_z") == pytest.approx(1.9, abs=0.4)


@pytest.mark.parametrize("rate", [10.0, 50.0])
def test_other_tracking_rates_give_comparable_values_on_the_video_frames(rate):
    ref = features(single_episode("header"))
    X = features(single_episode("header"), rate_hz=rate)
    assert X.shape == ref.shape and np.isfinite(X).all()
    window = slice(CONTACT - 2, CONTACT + 3)  # a slower feed smears the contact over a frame or two
    for name, tol in (("ball_dv", 0.3), ("ball_speed_before", 0.1), ("ball_speed_after", 0.15), ("ball_dir_change", 0.25)):
        got, want = X[window, F[name]].max(), ref[window, F[name]].max()
        assert got == pytest.approx(want, rel=tol), (name, rate)
    for name, tol in (("ball_z", 0.3), ("nearest_dist_min", 0.25), ("head_dist_min", 0.3)):
        assert at(X, name) == pytest.approx(at(ref, name), abs=tol), (name, rate)
    quiet = slice(5, 15)  # the ball at rest: the sample step shows in the quality feature only
    assert X[quiet, F["ball_gap_s"]] == pytest.approx(1.0 / rate, abs=0.021)
    assert (X[quiet, F["ball_dropout"]] == 0).all()


def test_no_ball_height_at_all_gives_indicators_not_nan():
    X = features(single_episode("header"), no_z=True)
    assert np.isfinite(X).all() and (X[:, F["ball_z_missing"]] == 1).all()
    assert (X[:, F["ball_z"]] == pytest.approx(0.11)) and (X[:, F["ball_vz"]] == 0).all() and (X[:, F["ball_az"]] == 0).all()
    assert (X[:, F["ball_z_gap_s"]] == FeatureConfig().cap_s).all() and (X[:, F["ball_z_max_context"]] == 0).all()
    assert at(X, "ball_dv") > 15  # the horizontal signs of a header are still there


def test_a_missing_height_at_the_contact_is_extrapolated_from_the_measured_flight():
    X = features(single_episode("header"), z_missing=[(1.84, 2.5)])
    assert at(X, "ball_z_missing") == 1 and at(X, "ball_z_gap_s") == pytest.approx(0.16, abs=0.041)
    assert at(X, "ball_z") == pytest.approx(1.9, abs=0.2)
    assert np.isfinite(X).all()


def test_ball_dropout_is_bridged_and_flagged():
    X = features(single_episode("header"), ball_dropouts=[(0.4, 1.2)])
    assert np.isfinite(X).all()
    gap = X[:, F["ball_dropout"]]
    assert gap[12:29].all() and not gap[:9].any() and not gap[32:].any()
    assert X[20, F["ball_gap_s"]] == pytest.approx(0.84, abs=0.041)


def test_frames_beyond_the_feed_are_flagged_as_dropouts():
    X = features(single_episode("header"), n_frames=130)  # the scene lasts 4 s = 101 frames
    assert (X[105:, F["ball_dropout"]] == 1).all() and (X[105:, F["ball_gap_s"]] == FeatureConfig().cap_s).all()
    assert np.isfinite(X).all()


def test_player_dropouts_are_bridged_up_to_the_limit():
    scene = single_episode("header")
    short = features(scene, player_dropouts={1: [(1.5, 2.5)]})
    assert at(short, "nearest_interpolated") == 1 and at(short, "nearest_dist_min") < 0.5
    long = features(scene, player_dropouts={1: [(0.5, 3.5)]})  # 3 s > max_player_gap_s: he is not on the pitch
    assert at(long, "nearest_interpolated") == 0 and at(long, "nearest_dist") > 5 and at(long, "players_1m") == 0


def test_no_players_gives_caps_and_zero_counts():
    scene = single_episode("header")
    scene = Scene(scene.ball_t, scene.ball, [], scene.events, scene.duration_s)
    X = features(scene)
    cap = FeatureConfig().cap_m
    assert np.isfinite(X).all()
    assert (X[:, F["nearest_dist"]] == cap).all() and (X[:, F["second_dist"]] == cap).all()
    assert (X[:, F["players_5m"]] == 0).all() and (X[:, F["nearest_team"]] == 0).all() and (X[:, F["nearest_speed"]] == 0).all()


def test_one_player_has_no_second_nearest():
    scene = single_episode("header")
    scene = Scene(scene.ball_t, scene.ball, scene.players[:1], scene.events, scene.duration_s)
    X = features(scene)
    assert (X[:, F["second_dist"]] == FeatureConfig().cap_m).all() and at(X, "nearest_dist_min") < 0.5


def test_features_follow_the_timestamps():
    scene = single_episode("header", duration_s=5.0)
    ref = features(scene, n_frames=126)
    shifted = features(scene, n_frames=126, time_offset_s=0.4)  # the video starts 0.4 s before the tracking clock
    np.testing.assert_allclose(shifted[CONTACT + 10], ref[CONTACT], atol=1e-4)
    ft = np.arange(126) / 25.0 + 0.4  # or: pass the video's frame times explicitly
    explicit = compute_features(TrackingTable.from_rows(tracking_rows(scene, time_offset_s=0.8)), frame_times=ft)
    np.testing.assert_allclose(explicit[CONTACT + 10], ref[CONTACT], atol=1e-4)


def test_csv_round_trip_and_errors(tmp_path):
    rows = tracking_rows(single_episode("header"), rng=np.random.default_rng(1), ball_z_noise=0.2, z_missing=[(1.0, 1.5)])
    rows = [{**r, **{k: round(r[k], 2) for k in ("x", "y")}, "z": None if r["z"] is None else round(r["z"], 2)} for r in rows]
    path = tmp_path / "tracking.csv"
    write_tracking(path, rows)
    table = TrackingTable.read(path)
    assert len(table) == len(rows) and np.isnan(table.z).sum() > 0
    X_csv = compute_features(path, fps=25, n_frames=101)
    X_rows = compute_features(TrackingTable.from_rows(rows), fps=25, n_frames=101)
    np.testing.assert_allclose(X_csv, X_rows, rtol=1e-5, atol=1e-5)
    bad = path.read_text().splitlines()
    bad[5] = bad[5].replace(bad[5].split(",")[5], "abc", 1)
    (tmp_path / "bad.csv").write_text("\n".join(bad) + "\n")
    with pytest.raises(AdapterError, match=r"bad.csv, row 6: column 'x' is not a number"):
        TrackingTable.read(tmp_path / "bad.csv")
    (tmp_path / "nocol.csv").write_text("frame,time,track_id,team,x,y\n0,0,0,ball,1,2\n")
    with pytest.raises(AdapterError, match=r"missing columns \['z'\]"):
        TrackingTable.read(tmp_path / "nocol.csv")
    with pytest.raises(AdapterError, match="not found"):
        TrackingTable.read(tmp_path / "absent.csv")


def test_a_table_without_the_ball_is_an_error():
    rows = [r for r in tracking_rows(single_episode("header")) if r["team"] != "ball"]
    with pytest.raises(AdapterError, match="no ball rows"):
        compute_features(TrackingTable.from_rows(rows, source="match_x"), fps=25)


def test_ninety_minutes_in_seconds():
    """A full match: 135,000 frames at 25 fps, the ball and 22 players (3.1 M rows), vectorised numpy."""
    rng = np.random.default_rng(0)
    n, P = 135_000, 22
    t = np.arange(n) / 25.0
    walk = lambda scale: np.cumsum(rng.normal(0, scale, (n, P + 1)), axis=0)
    x = np.clip(52.5 + walk(0.05), 0, 105)
    y = np.clip(34 + walk(0.05), 0, 68)
    z = np.where(rng.random((n, P + 1)) < 0.4, np.nan, 0.11 + np.abs(rng.normal(0, 0.5, (n, P + 1))))
    z[:, 1:] = np.nan
    table = TrackingTable(time=np.repeat(t, P + 1), track_id=np.tile(np.arange(P + 1), n),
                          team=np.tile(np.array([0] + [1] * 11 + [2] * 11, np.int8), n), x=x.ravel(), y=y.ravel(), z=z.ravel())  # fmt: skip
    start = time.perf_counter()
    X = compute_features(table, fps=25.0, n_frames=n)
    seconds = time.perf_counter() - start
    assert X.shape == (n, 36) and np.isfinite(X).all()
    assert seconds < 30, f"{seconds:.1f} s for a 90-minute match"  # about 2 s on 2 busy cores


# ---- bad rows: an error naming the file and row, or (on_bad_rows="drop") left out and counted
def _table_csv(path, edit=None):
    """Ball + one player, frames 0..19 at 25 fps; ``edit(rows)`` spoils it. Row r of the list is CSV row r + 2."""
    rows = [[f, f / 25, tid, team, 10.0 + f * 0.1 + tid, 5.0, 0.5 if tid == 0 else ""] for f in range(20)
            for tid, team in ((0, "ball"), (7, "home"))]  # fmt: skip
    if edit:
        rows = edit(rows)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time", "track_id", "team", "x", "y", "z"])
        w.writerows(rows)
    return path


def _set(i, col, value):
    def edit(rows):
        rows[i][col] = value
        return rows

    return edit


BAD_ROWS = {
    "nan_x": (_set(6, 4, "nan"), "tracking_non_finite", r"row 8: non-finite tracking value x=nan"),
    "inf_z": (_set(6, 6, "inf"), "tracking_non_finite", r"row 8: non-finite tracking value z=inf"),
    "empty_time": (_set(6, 1, "NaN"), "tracking_non_finite", r"row 8: non-finite tracking value time=nan"),
    "duplicate_frame": (lambda r: r[:7] + [list(r[6])] + r[7:], "tracking_duplicate_frame",
                        r"row 9: track 0 frame 3 again \(first in row 8\)"),
    "backward_frame": (lambda r: r[:2] + r[3:7] + [r[2]] + r[7:], "tracking_non_monotonic_frame",
                       r"row 8: track 0 goes back to frame 1 after frame 3"),
    "time_off_frame": (_set(6, 1, "0.5"), "tracking_time_mismatch", r"row 8: time 0.5 s disagrees with frame 3 / 25 fps"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_tracking_rows_fail_or_drop(tmp_path, case):
    from replaylab.data.rowchecks import BadRows

    edit, reason, message = BAD_ROWS[case]
    path = _table_csv(tmp_path / "tracking.csv", edit)
    with pytest.raises(AdapterError, match=rf"tracking\.csv, {message}"):
        TrackingTable.read(path)
    tally = BadRows()
    table = TrackingTable.read(path, on_bad_rows="drop", tally=tally)
    assert tally.counts == {reason: 1} and tally.as_metrics()["dropped_rows"] == 1
    written = len(path.read_text().splitlines()) - 1
    assert len(table) == written - 1 and np.all(np.isfinite(table.x)) and np.all(np.isfinite(table.time))
    assert np.isfinite(compute_features(table, fps=25, n_frames=20)).all()


def test_clean_table_passes_and_video_fps_is_used(tmp_path):
    path = _table_csv(tmp_path / "tracking.csv")
    assert len(TrackingTable.read(path)) == 40
    with pytest.raises(AdapterError, match=r"row 4: time 0.04 s disagrees with frame 1 / 50 fps"):
        TrackingTable.read(path, fps=50.0)


def _moved(rows, track_id, time_s, dx):
    out = [dict(r) for r in rows]
    hit = [r for r in out if r["track_id"] == track_id and abs(float(r["time"]) - time_s) < 1e-6]
    assert len(hit) == 1
    hit[0]["x"] = float(hit[0]["x"]) + dx
    return out


def test_a_ball_glitch_above_the_speed_limit_is_a_dropout_not_a_kick():
    rows = tracking_rows(single_episode("header"))
    clean = compute_features(TrackingTable.from_rows(rows), fps=25, n_frames=101)
    glitched = compute_features(TrackingTable.from_rows(_moved(rows, 0, 0.8, 6.0)), fps=25, n_frames=101)  # 150 m/s
    assert (
        glitched[19:21, F["ball_dropout"]].all()
        and not glitched[22, F["ball_dropout"]]
        and not clean[15:25, F["ball_dropout"]].any()
    )
    # unfiltered, the glitch would read as a kick; filtered, the kinematics stay close to the clean feed
    loose = compute_features(TrackingTable.from_rows(_moved(rows, 0, 0.8, 6.0)), fps=25, n_frames=101,
                             config=FeatureConfig(max_ball_speed=1000.0))  # fmt: skip
    for name in ("ball_speed", "ball_dv", "ball_accel"):
        err = np.abs(glitched[17:24, F[name]] - clean[17:24, F[name]]).max()
        err_loose = np.abs(loose[17:24, F[name]] - clean[17:24, F[name]]).max()
        assert err < 0.3 * err_loose, name
    np.testing.assert_allclose(glitched[45:, :], clean[45:, :], atol=1e-3)  # beyond every window nothing changes
    assert not loose[19:22, F["ball_dropout"]].any()


def test_a_player_jump_above_the_speed_limit_is_bridged_like_a_dropout():
    scene = single_episode("header")
    rows = tracking_rows(scene)
    pid = next(r["track_id"] for r in rows if r["team"] != "ball")
    clean = compute_features(TrackingTable.from_rows(rows), fps=25, n_frames=101)
    glitched = compute_features(TrackingTable.from_rows(_moved(rows, pid, 1.2, 3.0)), fps=25, n_frames=101)  # 75 m/s
    assert np.isfinite(glitched).all()
    assert np.abs(glitched[:, F["nearest_dist"]] - clean[:, F["nearest_dist"]]).max() < 0.2
    assert glitched[29:32, F["nearest_interpolated"]].sum() >= clean[29:32, F["nearest_interpolated"]].sum()
