import csv

import numpy as np

from replaylab.world.match import MatchConfig, simulate_match
from replaylab.world.tracking import BALL_ID, TRACKING_COLUMNS, ProviderNoise, provider_rows


def feed(noise: ProviderNoise, seed=0):
    cfg = MatchConfig(fps=25.0, duration_s=40.0, lofted_prob=0.8, foul_prob=0.0, outcome_weights={"header": 1.0})
    truth = simulate_match(cfg, np.random.default_rng(seed), "m")
    boxes = [{0: (1.0, 2.0, 3.0, 4.0)} for _ in range(truth.n_frames)]
    return truth, provider_rows(truth, boxes, noise, np.random.default_rng(seed))


def test_noise_free_feed_is_the_truth():
    truth, rows = feed(ProviderNoise(0, 0, 0, 0, 0, (0.2, 1.0)))
    assert len(rows) == truth.n_frames * 23
    ball = np.array([[r[5], r[6], r[7]] for r in rows if r[2] == BALL_ID])
    np.testing.assert_allclose(ball, truth.ball, atol=0.006)
    first = [r for r in rows if r[0] == 0 and r[2] == 1][0]
    assert first[8:] == (1.0, 2.0, 3.0, 4.0) and len(first) == len(TRACKING_COLUMNS)


def test_provider_noise_levels_missing_z_and_dropouts():
    noise = ProviderNoise(
        position_noise_m=0.1, ball_xy_noise_m=0.1, ball_z_noise_m=0.3, ball_z_missing=0.4, dropout_rate=0.05, dropout_s=(0.2, 1.0)
    )
    truth, rows = feed(noise)
    ball = [r for r in rows if r[2] == BALL_ID]
    missing_z = np.mean([r[7] == "" for r in ball])
    assert 0.2 < missing_z < 0.6
    assert len(ball) < truth.n_frames  # some ball dropouts
    p1 = {r[0]: r for r in rows if r[2] == 1}
    err = np.array([p1[f][5] - truth.x[f, 0] for f in p1])
    assert 0.03 < err.std() < 0.2
    assert len(p1) < truth.n_frames


def test_same_seed_same_rows():
    noise = ProviderNoise()
    assert feed(noise, 3)[1] == feed(noise, 3)[1]


def test_columns_are_the_canonical_table(tmp_path):
    assert TRACKING_COLUMNS == (
        "frame",
        "time",
        "track_id",
        "team",
        "jersey",
        "x",
        "y",
        "z",
        "box_x1",
        "box_y1",
        "box_x2",
        "box_y2",
    )
    with open(tmp_path / "t.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([TRACKING_COLUMNS, *feed(ProviderNoise())[1][:5]])
    assert (tmp_path / "t.csv").read_text().startswith("frame,time,track_id,team")
