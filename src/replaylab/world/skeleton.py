"""Player bodies: a 15-joint skeleton driven by a gait (stand / walk / run) and an action pose.

Every pose is a function of joint angles, so the limbs a camera sees move the way the pose says:
a kick swings the leg, a header snaps the torso forward, a fall tilts the whole body to the ground.
Coordinates are metres; the player's local frame has x forward, y left, z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

JOINTS = (
    "pelvis", "neck", "head",
    "l_shoulder", "l_elbow", "l_hand", "r_shoulder", "r_elbow", "r_hand",
    "l_hip", "l_knee", "l_foot", "r_hip", "r_knee", "r_foot",
)  # fmt: skip
J = {name: i for i, name in enumerate(JOINTS)}
HEAD_RADIUS = 0.115

# Gaits are chosen from the player's speed; actions are scripted by episodes.
GAITS = ("stand", "walk", "run")
ACTIONS = (
    "jump", "kick", "head", "slide", "fall", "push", "hold", "arm_swing",
    "raised_leg", "chest", "throw", "celebrate", "get_up",
)  # fmt: skip
ACTION_ID = {name: i for i, name in enumerate(ACTIONS)}
NO_ACTION = -1
# Actions that drive the legs; the others move the upper body over the running / walking gait.
FULL_BODY = {"jump", "kick", "slide", "fall", "raised_leg", "throw", "celebrate", "get_up", "head"}

WALK_SPEED = 0.6  # m/s: below this a player stands
RUN_SPEED = 2.6  # m/s: above this a player runs


def gait_for_speed(speed: float) -> int:
    return 0 if speed < WALK_SPEED else (1 if speed < RUN_SPEED else 2)


@dataclass(slots=True)
class Pose:
    """Everything needed to place one player's limbs in one frame."""

    x: float
    y: float
    yaw: float  # heading, radians (0 = +x)
    height: float  # body height, metres
    gait: int = 0  # index into GAITS
    gait_phase: float = 0.0  # [0, 1) position in the stride cycle
    action: int = NO_ACTION  # index into ACTIONS or NO_ACTION
    u: float = 0.0  # [0, 1] progress of the action
    amp: float = 0.5  # action intensity / size, [0, 1]
    aux: float = 0.0  # action specific: fall direction (rad, relative to yaw), leg shape, side
    lift: float = 0.0  # jump height of the whole body, metres


def _smooth(t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bump(u: float, centre: float = 0.5, width: float = 0.5) -> float:
    """1 at ``centre``, falling smoothly to 0 at ``centre +- width``."""
    d = abs(u - centre) / width
    return 0.0 if d >= 1.0 else 0.5 * (1.0 + math.cos(math.pi * d))


@dataclass(slots=True)
class _Angles:
    torso: float = 0.05  # forward lean
    nod: float = 0.0  # extra head flexion
    hip_l: float = 0.0
    hip_r: float = 0.0
    knee_l: float = 0.05
    knee_r: float = 0.05
    sh_l: float = 0.1  # shoulder flexion (pi = arm straight up)
    sh_r: float = 0.1
    ab_l: float = 0.15  # shoulder abduction (out to the side)
    ab_r: float = 0.15
    el_l: float = 0.25
    el_r: float = 0.25
    yaw_arm_r: float = 0.0  # horizontal sweep of the right arm
    tilt: float = 0.0  # whole-body tilt towards tilt_dir (falls, slides)
    tilt_dir: float = 0.0
    bounce: float = 0.0  # small vertical offset (running)


def _gait_angles(a: _Angles, gait: int, phase: float) -> None:
    s = math.sin(2 * math.pi * phase)
    c = math.cos(2 * math.pi * phase)
    if gait == 0:
        a.knee_l = a.knee_r = 0.06
        return
    if gait == 1:
        a.hip_l, a.hip_r = 0.35 * s, -0.35 * s
        a.knee_l = 0.1 + 0.35 * max(0.0, -c)
        a.knee_r = 0.1 + 0.35 * max(0.0, c)
        a.sh_l, a.sh_r = -0.3 * s, 0.3 * s
        a.el_l = a.el_r = 0.35
        return
    a.torso = 0.2
    a.hip_l, a.hip_r = 0.75 * s, -0.75 * s
    a.knee_l = 0.3 + 1.0 * max(0.0, -c)
    a.knee_r = 0.3 + 1.0 * max(0.0, c)
    a.sh_l, a.sh_r = -0.7 * s, 0.7 * s
    a.el_l = a.el_r = 1.4
    a.bounce = 0.04 * abs(s)


def _action_angles(a: _Angles, name: str, u: float, amp: float, aux: float) -> None:
    if name == "jump":
        up = math.sin(math.pi * u)
        a.sh_l = a.sh_r = 0.4 + 2.2 * up
        a.ab_l = a.ab_r = 0.3
        a.el_l = a.el_r = 0.4
        a.knee_l = a.knee_r = 0.9 * (1.0 - up) + 0.15
        a.hip_l = a.hip_r = 0.45 * (1.0 - up)
        a.torso = 0.15 * (1.0 - up)
    elif name == "head":
        snap = _smooth((u - 0.38) / 0.2)
        a.torso = -0.3 * math.sin(math.pi * min(u / 0.5, 1.0)) * (1.0 - snap) + 0.35 * snap * (1.0 - _smooth((u - 0.7) / 0.3))
        a.nod = 0.35 * _bump(u, 0.52, 0.25)
        a.sh_l = a.sh_r = 1.0
        a.ab_l = a.ab_r = 0.6
        a.el_l = a.el_r = 0.9
        a.knee_l = a.knee_r = 0.25
    elif name == "kick":
        if u < 0.3:
            hip = -0.7 * (u / 0.3)
            knee = 0.2 + 1.2 * (u / 0.3)
        else:
            hip = -0.7 + (1.8 + 0.5 * amp) * _smooth((u - 0.3) / 0.45)
            knee = 1.4 - 1.3 * _smooth((u - 0.3) / 0.22)
        a.hip_r = hip + 0.8 * amp * _bump(u, 0.5, 0.25)
        a.knee_r = knee
        a.hip_l, a.knee_l = -0.1, 0.25
        a.sh_l, a.ab_l, a.el_l = 0.4, 0.9, 0.3
        a.sh_r, a.ab_r, a.el_r = -0.3, 0.5, 0.3
        a.torso = -0.1 * _bump(u, 0.6, 0.4)
    elif name == "chest":
        lean = math.sin(math.pi * u)
        a.torso = -0.4 * lean
        a.sh_l = a.sh_r = 0.3
        a.ab_l = a.ab_r = 0.9 * lean + 0.15
        a.knee_l = a.knee_r = 0.25 * lean + 0.05
    elif name == "raised_leg":
        up = math.sin(math.pi * u)
        if aux >= 0.5:  # thigh control: knee bent, thigh horizontal
            a.hip_r, a.knee_r = 1.45 * up, 1.5 * up
        else:  # high leg: straight leg raised to chest / head height
            a.hip_r, a.knee_r = (1.5 + 0.45 * amp) * up, 0.1
            a.torso = -0.35 * up
        a.knee_l = 0.15
        a.ab_l = a.ab_r = 0.3 + 0.6 * up
    elif name == "slide":
        go = _smooth(u / 0.25)
        a.tilt, a.tilt_dir = 1.35 * go, math.pi  # lying back, low over the ground
        a.hip_r, a.knee_r = 0.2 * go, 0.0  # lead leg straight along the ground
        a.hip_l, a.knee_l = 0.9 * go, 2.4 * go  # support leg folded under
        a.sh_l, a.ab_l, a.el_l = -1.0 * go, 0.5, 0.2  # hand down behind for support
        a.sh_r, a.ab_r = 0.8 * go, 0.7
        a.torso = 0.25 * go
    elif name in ("fall", "get_up"):
        v = u if name == "fall" else 1.0 - u
        a.tilt, a.tilt_dir = (math.pi / 2 - 0.12) * _smooth(v), aux
        forward = math.cos(aux) > 0
        a.sh_l = a.sh_r = (2.7 if forward else 2.4) * _smooth(v)
        a.ab_l = a.ab_r = 0.4
        a.el_l = a.el_r = 0.3
        a.knee_l = a.knee_r = 0.4 * math.sin(math.pi * v) + 0.05
        a.hip_l = a.hip_r = 0.2 * math.sin(math.pi * v)
    elif name == "push":
        p = _bump(u, 0.5, 0.45)
        a.sh_l = a.sh_r = 0.3 + 1.25 * p
        a.el_l = a.el_r = 1.3 * (1.0 - p) + 0.05
        a.ab_l = a.ab_r = 0.1
        a.torso = 0.15 + 0.2 * p
    elif name == "hold":
        h = _bump(u, 0.5, 0.5) if u < 0.5 else max(0.0, 1.0 - max(0.0, u - 0.85) / 0.15)
        a.sh_l, a.ab_l, a.el_l = 1.35 * h + 0.1, 0.05, 0.15
        a.torso = a.torso - 0.25 * h * amp
    elif name == "arm_swing":
        s = math.sin(math.pi * u)
        a.ab_r = 0.3 + 1.15 * s
        a.el_r = 0.4 + 1.3 * s
        a.sh_r = 0.3
        a.yaw_arm_r = -1.0 + 2.0 * u
        a.torso = 0.05
    elif name == "throw":
        back = _smooth(u / 0.35)
        fwd = _smooth((u - 0.4) / 0.3)
        a.sh_l = a.sh_r = 3.5 * back - 1.6 * fwd + 0.1 * (1 - back)
        a.el_l = a.el_r = 1.6 * back - 1.4 * fwd + 0.2
        a.ab_l = a.ab_r = 0.1
        a.torso = -0.3 * back + 0.55 * fwd
        a.knee_l = a.knee_r = 0.15
    elif name == "celebrate":
        a.sh_l = a.sh_r = 2.6 + 0.35 * math.sin(4 * math.pi * u)
        a.ab_l = a.ab_r = 0.45
        a.el_l = a.el_r = 0.3
        a.knee_l = a.knee_r = 0.2


def _rot_about(axis: tuple[float, float, float], angle: float, v: tuple[float, float, float]):
    """Rodrigues rotation of vector v about a unit axis."""
    kx, ky, kz = axis
    vx, vy, vz = v
    c, s = math.cos(angle), math.sin(angle)
    dot = kx * vx + ky * vy + kz * vz
    cx, cy, cz = ky * vz - kz * vy, kz * vx - kx * vz, kx * vy - ky * vx
    return (
        vx * c + cx * s + kx * dot * (1 - c),
        vy * c + cy * s + ky * dot * (1 - c),
        vz * c + cz * s + kz * dot * (1 - c),
    )


def local_joints(pose: Pose) -> list[tuple[float, float, float]]:
    """Joint positions in the player's local frame (x forward, y left, z up, origin on the ground)."""
    a = _Angles()
    name = ACTIONS[pose.action] if pose.action != NO_ACTION else None
    if name is None or name not in FULL_BODY or name == "head" and pose.lift < 0.02:
        _gait_angles(a, pose.gait, pose.gait_phase)
    else:
        _gait_angles(a, 0, 0.0)
    if name is not None:
        _action_angles(a, name, pose.u, pose.amp, pose.aux)
    s = pose.height / 1.8
    thigh, shin, upper, fore = 0.46 * s, 0.46 * s, 0.30 * s, 0.28 * s
    torso_len, neck_len, half_hip, half_sh = 0.54 * s, 0.22 * s, 0.10 * s, 0.19 * s

    def leg(side: float, hip: float, knee: float):
        hx, hy, hz = 0.0, side * half_hip, 0.0
        kx, kz = hx + thigh * math.sin(hip), hz - thigh * math.cos(hip)
        fx, fz = kx + shin * math.sin(hip - knee), kz - shin * math.cos(hip - knee)
        return (hx, hy, hz), (kx, hy, kz), (fx, hy, fz)

    hip_l, knee_l, foot_l = leg(1.0, a.hip_l, a.knee_l)
    hip_r, knee_r, foot_r = leg(-1.0, a.hip_r, a.knee_r)
    # pelvis height: the lower foot touches the ground before lift / tilt
    pelvis_z = -min(foot_l[2], foot_r[2]) + a.bounce
    tp = a.torso
    neck = (torso_len * math.sin(tp), 0.0, torso_len * math.cos(tp))
    head = (neck[0] + neck_len * math.sin(tp + a.nod), 0.0, neck[2] + neck_len * math.cos(tp + a.nod))

    def arm(side: float, sh: float, ab: float, el: float, sweep: float):
        sx = neck[0] - 0.04 * s * math.sin(tp)
        sz = neck[2] - 0.04 * s * math.cos(tp)
        shoulder = (sx, side * half_sh, sz)
        ca = math.cos(ab)
        d1 = (math.sin(sh) * ca, side * math.sin(ab), -math.cos(sh) * ca)
        d2 = (math.sin(sh + el) * ca, side * math.sin(ab), -math.cos(sh + el) * ca)
        if sweep:
            cs, sn = math.cos(sweep), math.sin(sweep)
            d1 = (d1[0] * cs - d1[1] * sn, d1[0] * sn + d1[1] * cs, d1[2])
            d2 = (d2[0] * cs - d2[1] * sn, d2[0] * sn + d2[1] * cs, d2[2])
        elbow = tuple(shoulder[k] + upper * d1[k] for k in range(3))
        hand = tuple(elbow[k] + fore * d2[k] for k in range(3))
        return shoulder, elbow, hand

    sl, el_, hl = arm(1.0, a.sh_l, a.ab_l, a.el_l, 0.0)
    sr, er, hr = arm(-1.0, a.sh_r, a.ab_r, a.el_r, a.yaw_arm_r)
    pts = [(0.0, 0.0, 0.0), neck, head, sl, el_, hl, sr, er, hr, hip_l, knee_l, foot_l, hip_r, knee_r, foot_r]
    pts = [(p[0], p[1], p[2] + pelvis_z) for p in pts]
    if a.tilt > 1e-4:
        dx, dy = math.cos(a.tilt_dir), math.sin(a.tilt_dir)
        axis = (-dy, dx, 0.0)  # z x d: tilting rotates "up" towards d
        pts = [_rot_about(axis, a.tilt, p) for p in pts]
        low = min(p[2] for p in pts) - 0.05 * s
        pts = [(p[0], p[1], p[2] - low) for p in pts] if low < 0 else pts
    return pts


def world_joints(pose: Pose) -> np.ndarray:
    """Joint positions (15, 3) in pitch coordinates."""
    pts = local_joints(pose)
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    out = np.empty((len(pts), 3))
    for i, (x, y, z) in enumerate(pts):
        out[i, 0] = pose.x + c * x - s * y
        out[i, 1] = pose.y + s * x + c * y
        out[i, 2] = z + pose.lift
    return out


def head_position(pose: Pose) -> np.ndarray:
    return world_joints(pose)[J["head"]]
