"""Short single-action scenes for the clip-recognition (UCF101-style) dataset.

Each scene returns the tracks of its players (the actor first), their teams and the ball, for n frames
with the key moment at frame ``n // 2``. Every class is a motion: a header, a kick, a slide tackle, a dive,
a throw-in, a celebration, chest control, a dribble.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .fouls import script_foul
from .physics import BALL_RADIUS, BallParams, aim, simulate
from .skeleton import J, world_joints
from .track import Track, heading_of

RECOGNITION_CLASSES = ("Header", "Kick", "Tackle", "Dive", "ThrowIn", "Celebration", "ChestControl", "Dribble")


@dataclass
class Scene:
    tracks: list[Track]
    teams: list[int]
    ball: np.ndarray  # (n, 3)
    focus: int = 0  # index of the track the camera follows


def _flight_then_free(src, target, key: int, n: int, fps: float, v_out, bp: BallParams) -> np.ndarray:
    ball = np.zeros((n, 3))
    v0 = aim(src, target, key / fps)
    pre, _, _ = simulate(src, v0, key + 1, fps, bp)
    ball[: key + 1] = pre
    ball[key] = target
    post, _, _ = simulate(target, np.asarray(v_out, float), n - key, fps, bp)
    ball[key:] = post
    return ball


def make_scene(cls: str, n: int, fps: float, origin: np.ndarray, heading: float, rng: np.random.Generator,
               bp: BallParams | None = None) -> Scene:  # fmt: skip
    bp = bp or BallParams()
    k = n // 2
    f = np.array([math.cos(heading), math.sin(heading)])
    O = np.asarray(origin, float)
    if cls in ("Header", "ChestControl"):
        actor = Track.line(O - f * rng.uniform(0.0, 1.5), f * rng.uniform(0.0, 1.0) / (n / fps), n, fps)
        actor.yaw[:] = heading
        if cls == "Header":
            if rng.random() < 0.5:
                actor.set_jump(k, rng.uniform(0.25, 0.5), int(0.6 * fps))
            actor.set_action("head", k - int(0.4 * fps), k + int(0.37 * fps), key_frame=k, key_u=0.52)
            head = world_joints(actor.pose(k, 1.8, fps))[J["head"]]
            target = head + np.array([*(f * 0.2), 0.1])
            v_out = np.array([*(f * rng.uniform(5, 9)), rng.uniform(2, 5)])
        else:
            actor.set_action("chest", k - int(0.4 * fps), k + int(0.4 * fps), key_frame=k)
            j = world_joints(actor.pose(k, 1.8, fps))
            target = 0.55 * j[J["neck"]] + 0.45 * j[J["pelvis"]] + np.array([*(f * 0.2), 0.0])
            v_out = np.array([*(f * 0.8), -0.5])
        src = np.array([*(O + f * rng.uniform(15, 25) + np.array([-f[1], f[0]]) * rng.uniform(-5, 5)), BALL_RADIUS])
        return Scene([actor], [0], _flight_then_free(src, target, k, n, fps, v_out, bp))
    if cls == "Kick":
        run = rng.uniform(2.0, 4.5)
        ball_at = O + f * 0.35
        actor = Track.line(O - f * run * k / fps, f * run, n, fps)
        for i in range(k, n):
            actor.x[i], actor.y[i] = O[0] + f[0] * 0.8 * (i - k) / fps, O[1] + f[1] * 0.8 * (i - k) / fps
        actor.set_action("kick", k - int(0.25 * fps), k + int(0.3 * fps), key_frame=k, amp=rng.uniform(0.0, 0.4))
        ball = np.zeros((n, 3))
        ball[: k + 1] = [*ball_at, BALL_RADIUS]
        v_out = np.array([*(f * rng.uniform(14, 24)), rng.uniform(1, 6)])
        post, _, _ = simulate(ball[k], v_out, n - k, fps, bp)
        ball[k:] = post
        return Scene([actor], [0], ball)
    if cls in ("Tackle", "Dive"):
        kind = "Tackling" if cls == "Tackle" else "Dive"
        s = script_foul(kind, float(rng.uniform(0.05, 0.5)), n_frames=n, contact_frame=k, fps=fps, origin=O, heading=heading,
                        rng=rng, ball_params=bp, allow_aerial=False)  # fmt: skip
        main = s.offender if cls == "Tackle" else s.victim
        other = s.victim if cls == "Tackle" else s.offender
        return Scene([main, other], [0, 1], s.ball)
    if cls == "ThrowIn":
        actor = Track.empty(n)
        actor.x[:], actor.y[:], actor.yaw[:] = O[0], O[1], heading
        rel = int(k + 0.2 * fps)
        actor.set_action("throw", k - int(0.6 * fps), k + int(0.4 * fps), key_frame=rel, key_u=0.7)
        ball = np.zeros((n, 3))
        for i in range(rel + 1):
            j = world_joints(actor.pose(i, 1.8, fps))
            ball[i] = 0.5 * (j[J["l_hand"]] + j[J["r_hand"]]) + np.array([0.0, 0.0, 0.08])
        v0 = aim(ball[rel], np.array([*(O + f * rng.uniform(8, 14)), BALL_RADIUS]), float(rng.uniform(0.9, 1.2)))
        post, _, _ = simulate(ball[rel], v0, n - rel, fps, bp)
        ball[rel:] = post
        return Scene([actor], [0], ball)
    if cls == "Celebration":
        speed = rng.uniform(2.5, 5.0)
        actor = Track.empty(n)
        for i in range(n):
            t = (min(i, k) - k) / fps
            actor.x[i], actor.y[i] = O[0] + f[0] * speed * t, O[1] + f[1] * speed * t
        actor.yaw[:] = heading
        actor.set_action("celebrate", k - int(0.2 * fps), n)
        for apex in range(k + int(0.2 * fps), n, int(0.55 * fps)):
            actor.set_jump(apex, rng.uniform(0.15, 0.35), int(0.45 * fps))
        ball = np.tile([*(O + f * rng.uniform(8, 20) + np.array([-f[1], f[0]]) * rng.uniform(-6, 6)), BALL_RADIUS], (n, 1))
        return Scene([actor], [0], ball)
    if cls == "Dribble":
        speed = rng.uniform(2.5, 5.0)
        turn = rng.uniform(-1.2, 1.2)
        actor = Track.empty(n)
        ang = heading + turn * np.clip((np.arange(n) - k + 0.3 * fps) / (0.6 * fps), 0, 1)
        step = speed / fps
        pos = O.copy()
        for i in range(n):
            actor.x[i], actor.y[i] = pos
            pos = pos + step * np.array([math.cos(ang[i]), math.sin(ang[i])])
        actor.yaw[:] = heading_of(actor.x, actor.y, heading)
        ball = np.zeros((n, 3))
        for i in range(n):
            fw = np.array([math.cos(actor.yaw[i]), math.sin(actor.yaw[i])])
            ball[i] = [
                *(np.array([actor.x[i], actor.y[i]]) + fw * (0.45 + 0.15 * math.sin(2 * math.pi * i / (0.5 * fps)))),
                BALL_RADIUS,
            ]
        return Scene([actor], [0], ball)
    raise ValueError(f"unknown recognition class {cls!r}; expected one of {RECOGNITION_CLASSES}")


def add_extras(scene: Scene, n: int, fps: float, count: int, rng: np.random.Generator) -> Scene:
    """Background players walking or jogging a few metres away from the action."""
    focus = np.array([scene.tracks[0].x[n // 2], scene.tracks[0].y[n // 2]])
    for _ in range(count):
        ang = rng.uniform(0, 2 * math.pi)
        start = focus + rng.uniform(5, 12) * np.array([math.cos(ang), math.sin(ang)])
        h = rng.uniform(0, 2 * math.pi)
        scene.tracks.append(Track.line(start, rng.uniform(0.3, 3.0) * np.array([math.cos(h), math.sin(h)]), n, fps))
        scene.teams.append(int(rng.integers(0, 2)))
    return scene
