"""The pinhole camera: known projections, the ground homography, look_at's field width."""

import math

import numpy as np
import pytest

from replaylab.geometry.camera import Camera, look_at


def test_known_point_projects_to_expected_pixel():
    # camera 10 m behind the origin along -y, 2 m high, looking along +y, level; f = 500 px, 640x480
    cam = Camera(position=(0.0, -10.0, 2.0), pan=math.pi / 2, tilt=0.0, focal=500.0, width=640, height=480)
    uv, depth = cam.project(np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, 0.0, 1.0], [0.0, 10.0, 2.0]]))
    np.testing.assert_allclose(depth, [10.0, 10.0, 10.0, 20.0])
    np.testing.assert_allclose(uv[0], [320.0, 240.0], atol=1e-9)  # straight ahead: image centre
    np.testing.assert_allclose(uv[1], [320.0 + 50.0, 240.0], atol=1e-9)  # 1 m to the right at 10 m: 50 px right
    np.testing.assert_allclose(uv[2], [320.0, 240.0 + 50.0], atol=1e-9)  # 1 m lower: 50 px down
    np.testing.assert_allclose(uv[3], [320.0, 240.0], atol=1e-9)


def test_tilted_camera_and_point_behind():
    cam = Camera(position=(0.0, 0.0, 10.0), pan=0.0, tilt=-math.pi / 4, focal=400.0, width=400, height=300)
    uv, depth = cam.project(np.array([[10.0, 0.0, 0.0], [-20.0, 0.0, 10.0]]))
    np.testing.assert_allclose(uv[0], [200.0, 150.0], atol=1e-9)
    assert depth[0] == pytest.approx(math.sqrt(200.0))
    assert depth[1] < 0


def test_ground_homography_agrees_with_projection():
    cam = look_at((50.0, -30.0, 15.0), (40.0, 30.0, 0.0), 480, 270, 30.0)
    pts = np.array([[40.0, 30.0, 0.0], [10.0, 5.0, 0.0], [90.0, 60.0, 0.0]])
    uv, _ = cam.project(pts)
    h = cam.ground_homography() @ np.column_stack([pts[:, :2], np.ones(3)]).T
    np.testing.assert_allclose((h[:2] / h[2]).T, uv, atol=1e-6)
    np.testing.assert_allclose(uv[0], [240.0, 135.0], atol=1e-6)  # look_at centres its target


def test_look_at_field_width_sets_focal():
    cam = look_at((0.0, -20.0, 0.0), (0.0, 0.0, 0.0), 400, 300, 10.0)
    uv, _ = cam.project(np.array([[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0]]))
    assert uv[1, 0] - uv[0, 0] == pytest.approx(400.0)
