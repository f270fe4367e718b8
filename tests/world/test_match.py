import numpy as np
import pytest

from replaylab.world.match import CONTACT_DISTANCE, EVENT_TYPES, MatchConfig, MatchTruth, simulate_match
from replaylab.world.physics import BALL_RADIUS, PITCH_LENGTH, PITCH_WIDTH
from replaylab.world.skeleton import ACTION_ID

LOOK_ALIKES = ("fly_past", "jump_miss", "chest", "thigh", "kick", "bounce")


@pytest.fixture(scope="module")
def match() -> MatchTruth:
    cfg = MatchConfig(
        fps=25.0,
        duration_s=120.0,
        lofted_prob=0.8,
        foul_prob=0.08,
        outcome_weights=dict(header=0.4, chest=0.1, thigh=0.1, volley=0.1, fly_past=0.15, jump_miss=0.1, bounce=0.05),
    )
    return simulate_match(cfg, np.random.default_rng(11), "m")


def test_episodes_of_every_kind_occur(match):
    kinds = {e.type for e in match.events}
    assert {"header", "kick", "bounce"} <= kinds
    assert len(kinds & set(LOOK_ALIKES)) >= 4
    assert all(e.type in EVENT_TYPES and 0 <= e.frame < match.n_frames for e in match.events)


def test_every_header_touches_the_head(match):
    headers = [e for e in match.events if e.type == "header"]
    assert headers
    for e in headers:
        d = np.linalg.norm(match.ball[e.frame] - match.head(e.frame, e.player))
        assert d <= CONTACT_DISTANCE + 1e-3, (e, d)
        # the ball changes direction at the contact
        v_in = match.ball[e.frame] - match.ball[e.frame - 1]
        v_out = match.ball[e.frame + 1] - match.ball[e.frame]
        assert np.dot(v_in, v_out) / (np.linalg.norm(v_in) * np.linalg.norm(v_out)) < 0.95


def test_no_look_alike_touches_a_head(match):
    for e in match.events:
        if e.type in ("fly_past", "jump_miss"):
            frames = range(max(e.frame - 12, 0), min(e.frame + 13, match.n_frames))
            d = min(np.linalg.norm(match.ball[f] - match.head(f, e.player)) for f in frames)
            assert d > CONTACT_DISTANCE + 0.05, (e, d)
    # no head contact anywhere that is not a header event (a thrower holds the ball behind his head)
    headers = {(e.frame, e.player) for e in match.events if e.type == "header"}
    high = np.flatnonzero(match.ball[:, 2] > 1.2)
    for f in high:
        for p in range(len(match.players)):
            if match.action[f, p] == ACTION_ID["throw"]:
                continue
            if np.linalg.norm(match.ball[f] - match.head(f, p)) <= CONTACT_DISTANCE + 0.01:
                assert (f, p) in headers, (f, p)


def test_ball_stays_in_play_area_and_moves_continuously(match):
    b = match.ball
    assert b[:, 2].min() >= BALL_RADIUS - 1e-6
    assert -5.0 <= b[:, 0].min() and b[:, 0].max() <= PITCH_LENGTH + 5.0
    assert -5.0 <= b[:, 1].min() and b[:, 1].max() <= PITCH_WIDTH + 5.0
    speed = np.linalg.norm(np.diff(b, axis=0), axis=1) * match.fps
    assert speed.max() < 45.0  # no teleports


def test_players_move_like_people(match):
    step = np.hypot(np.diff(match.x, axis=0), np.diff(match.y, axis=0)) * match.fps
    assert step.max() < 12.0
    heights = [p.height for p in match.players]
    assert min(heights) >= 1.70 and max(heights) <= 1.95


def test_same_seed_same_match_and_roundtrip(match, tmp_path):
    cfg = MatchConfig(fps=25.0, duration_s=20.0, lofted_prob=0.8, foul_prob=0.1, outcome_weights={"header": 1.0})
    a = simulate_match(cfg, np.random.default_rng(3), "a")
    b = simulate_match(cfg, np.random.default_rng(3), "a")
    np.testing.assert_array_equal(a.ball, b.ball)
    np.testing.assert_array_equal(a.x, b.x)
    a.save(tmp_path / "t.npz")
    c = MatchTruth.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(c.ball, a.ball)
    assert [(e.frame, e.type, e.player) for e in c.events] == [(e.frame, e.type, e.player) for e in a.events]
    np.testing.assert_allclose(c.head(10, 3), a.head(10, 3))
