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


def _plain_warp_maps(h, width, height, tex_shape):
    """The position formula of render.warp_maps written out plainly (one temporary per step)."""
    from replaylab.world.render import _adjugate

    xs, ys = np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64)
    adj, det = _adjugate(h)
    inv = adj / det
    w = (inv[2, 0] * xs)[None, :] + (inv[2, 1] * ys + inv[2, 2])[:, None]
    ok = w > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(ok, 32 / np.where(ok, w, 1.0), 0.0)
    maps = []
    for row, hi in ((0, tex_shape[1]), (1, tex_shape[0])):
        num = np.rint(((inv[row, 0] * xs)[None, :] + (inv[row, 1] * ys + inv[row, 2])[:, None]) * scale)
        num = np.clip(num, -64, hi * 32)
        num[~ok] = -64
        maps.append(num.astype(np.int32))
    sx, sy = maps
    return np.stack([sx >> 5, sy >> 5], -1).astype(np.int16), ((sy & 31) * 32 + (sx & 31)).astype(np.uint16)


def test_warp_maps_equal_the_plain_formula_with_and_without_sky():
    from replaylab.geometry.camera import matmul_exact
    from replaylab.world.render import _TEX_TO_WORLD, _adjugate, warp_maps

    tex = pitch_texture(CLEAN)
    ground = look_at((52.5, -20.0, 12.0), (52.5, 30.0, 0.0), 160, 90, 30.0)  # every ray meets the ground
    level = look_at((-10.0, 34.0, 3.0), (105.0, 34.0, 3.0), 160, 90, 60.0)  # the upper half sees the stands
    for cam in (ground, level):
        h = matmul_exact(cam.ground_homography(), _TEX_TO_WORLD)
        xy, frac = warp_maps(h, 160, 90, tex.shape)
        ref_xy, ref_frac = _plain_warp_maps(h, 160, 90, tex.shape)
        assert xy.dtype == np.int16 and frac.dtype == np.uint16
        np.testing.assert_array_equal(xy, ref_xy)
        np.testing.assert_array_equal(frac, ref_frac)
    adj, det = _adjugate(h)  # the level camera has rays that miss the ground (warp_maps' masked path)
    assert min((adj[2, 0] * u + adj[2, 1] * v + adj[2, 2]) / det for u in (0, 159) for v in (0, 89)) <= 0


def test_actor_joints_are_computed_once_and_reused_by_every_camera():
    from replaylab.world.skeleton import world_joints

    pose = Pose(52.5, 30.0, 0.3, 1.8)
    actor = Actor(pose, KIT, (230, 190, 160), ident=1)
    np.testing.assert_array_equal(actor.joints(), world_joints(pose))
    assert actor.joints() is actor.joints()
    cams = [look_at((52.5, 10.0, 3.0), (52.5, 30.0, 1.0), 160, 120, 8.0),
            look_at((70.0, 40.0, 4.0), (52.5, 30.0, 1.0), 160, 120, 10.0)]  # fmt: skip
    shared = [actor]
    for cam in cams:  # one actor list through two cameras = fresh actors per camera, to the byte
        fresh = [Actor(pose, KIT, (230, 190, 160), ident=1)]
        np.testing.assert_array_equal(render(cam, CLEAN, shared, None, 0, 25.0), render(cam, CLEAN, fresh, None, 0, 25.0))
