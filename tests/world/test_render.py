import numpy as np

from replaylab.geometry.camera import look_at
from replaylab.world.render import Actor, Kit, Look, pitch_texture, random_kits, render
from replaylab.world.skeleton import Pose

KIT = Kit((200, 30, 40), (240, 240, 240), (200, 30, 40))
CLEAN = Look(blur_sigma=0.0, noise_std=0.0, light_drift=0.0)


def test_player_and_ball_appear_where_projected_and_boxes_reported():
    cam = look_at((52.5, 10.0, 3.0), (52.5, 30.0, 1.0), 320, 240, 8.0)
    empty = render(cam, CLEAN, [], None, 0, 25.0)
    boxes = {}
    frame = render(
        cam,
        CLEAN,
        [Actor(Pose(52.5, 30.0, 0.0, 1.8), KIT, (230, 190, 160), ident=7)],
        np.array([53.5, 30.0, 0.11]),
        0,
        25.0,
        boxes,
    )
    assert np.abs(frame.astype(int) - empty.astype(int)).sum() > 0
    shirt = np.abs(frame.astype(int) - np.array(KIT.shirt)).sum(-1) < 40
    ys, xs = np.nonzero(shirt)
    x1, y1, x2, y2 = boxes[7]
    assert len(xs) > 20
    assert x1 - 1 <= xs.min() and xs.max() <= x2 + 1 and y1 - 1 <= ys.min() and ys.max() <= y2 + 1
    uv, _ = cam.project(np.array([[52.5, 30.0, 0.9]]))
    assert x1 < uv[0, 0] < x2 and y1 < uv[0, 1] < y2
    ball_uv, _ = cam.project(np.array([[53.5, 30.0, 0.11]]))
    u, v = np.round(ball_uv[0]).astype(int)
    assert frame[v, u].min() > 200  # the white ball


def test_sky_above_horizon_and_texture_lines():
    tex = pitch_texture(CLEAN)
    assert tex.shape[2] == 3 and (tex > 230).all(-1).any()  # white lines exist
    cam = look_at((-10.0, 34.0, 3.0), (105.0, 34.0, 3.0), 160, 90, 60.0)  # looking level across the pitch
    frame = render(cam, CLEAN, [], None, 0, 25.0)
    assert (frame[:40] == frame[0, 0]).all()  # upper half: stands colour, no warped garbage


def test_degradations_are_deterministic_per_look():
    rng = np.random.default_rng(0)
    look_a = Look.random(np.random.default_rng(1), 0.6, 3.0, 0.06)
    look_b = Look.random(np.random.default_rng(1), 0.6, 3.0, 0.06)
    cam = look_at((52.5, -20.0, 12.0), (52.5, 30.0, 0.0), 160, 90, 30.0)
    np.testing.assert_array_equal(render(cam, look_a, [], None, 5, 25.0), render(cam, look_b, [], None, 5, 25.0))
    kits = random_kits(rng)
    assert kits[0].shirt != kits[1].shirt
