"""Foul episodes for the eight SoccerNet-MVFoul action classes, told apart by motion alone.

A foul is scripted around its contact frame: the offender's approach, the action of his limbs, and the
victim's reaction. Severity comes from a latent contact intensity in [0, 1] that drives the approach
speed, the impulse given to the victim and how he falls; the label is that intensity plus noise, cut at
fixed thresholds, so offence / severity are learnable but not exactly recoverable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .physics import BALL_RADIUS, BallParams, aim, simulate
from .skeleton import J, world_joints
from .track import Track, heading_of

# official SoccerNet-MVFoul "Action class" strings
FOUL_CLASSES = ("Tackling", "Standing tackling", "High leg", "Holding", "Pushing", "Elbowing", "Challenge", "Dive")
SEVERITY_BANDS = ((0.0, 0.28), (0.28, 0.55), (0.55, 0.80), (0.80, 1.0))  # No offence, 1.0, 3.0, 5.0
SEVERITY_VALUES = ("", "1.0", "3.0", "5.0")
FALL_THRESHOLD = SEVERITY_BANDS[1][0]


@dataclass
class FoulScript:
    kind: str
    intensity: float  # latent contact intensity that drives the motion
    victim: Track
    offender: Track
    ball: np.ndarray  # (n, 3)
    contact_frame: int
    contact: bool
    victim_falls: bool
    labels: dict[str, str] = field(default_factory=dict)


def severity_label(intensity: float, kind: str, rng: np.random.Generator, noise: float) -> tuple[str, str]:
    """(Offence, Severity) strings for a foul of the given latent intensity."""
    if kind == "Dive":  # simulation: annotated as an offence without a severity (officially forced to 1.0)
        return ("Offence" if rng.random() < 0.5 else "", "")
    seen = float(np.clip(intensity + rng.normal(0.0, noise), 0.0, 1.0))
    band = next(i for i, (lo, hi) in enumerate(SEVERITY_BANDS) if seen < hi or i == 3)
    return ("No offence", "") if band == 0 else ("Offence", SEVERITY_VALUES[band])


def _unit(a: float) -> np.ndarray:
    return np.array([math.cos(a), math.sin(a)])


def _rot(v: np.ndarray, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _place(track: Track, pos: np.ndarray) -> None:
    track.x[:], track.y[:] = pos[:, 0], pos[:, 1]


def script_foul(kind: str, intensity: float, *, n_frames: int, contact_frame: int, fps: float,
                origin: np.ndarray, heading: float, rng: np.random.Generator,
                ball_params: BallParams | None = None, victim_speed: float | None = None,
                allow_aerial: bool = True) -> FoulScript:  # fmt: skip
    """Script victim, offender and ball for one foul whose contact happens at ``contact_frame``."""
    if kind not in FOUL_CLASSES:
        raise ValueError(f"unknown foul class {kind!r}; expected one of {FOUL_CLASSES}")
    bp = ball_params or BallParams()
    n, kc = n_frames, contact_frame
    t = (np.arange(n) - kc) / fps  # seconds relative to contact
    f = _unit(heading)
    left = _rot(f, math.pi / 2)
    O = np.asarray(origin, float)
    u = float(np.clip(intensity, 0.0, 1.0))
    falls = u >= FALL_THRESHOLD or kind == "Dive"
    sv = victim_speed if victim_speed is not None else rng.uniform(3.0, 5.0)  # victim running speed
    aerial = allow_aerial and kind in ("High leg", "Challenge")  # duels for a ball in the air
    if aerial:
        sv *= 0.5

    # ---- offender
    off = np.zeros((n, 2))
    off_track = Track.empty(n)
    contact = kind != "Dive"
    push_dir = f.copy()  # direction the victim is knocked
    fall_dir = 0.0  # relative to the victim's heading
    if kind == "Tackling":
        g = _rot(f, rng.choice([-1, 1]) * rng.uniform(math.radians(50), math.radians(120)))
        ks = kc - round(0.35 * fps)
        vs = 3.0 + 6.0 * u  # the harder the foul, the faster the slide
        dec = vs / 0.9
        p_kc = O - g * 0.15  # the lead foot (just ahead of the pivot) meets the victim's feet
        ts = (kc - ks) / fps
        p_ks = p_kc - g * (vs * ts - 0.5 * dec * ts**2)
        for i in range(n):
            if i <= ks:
                off[i] = p_ks - g * (3.0 + 5.0 * u) * (ks - i) / fps
            else:
                tt = min((i - ks) / fps, vs / dec)
                off[i] = p_ks + g * (vs * tt - 0.5 * dec * tt**2)
        off_track.set_action("slide", ks - 2, ks + round(1.1 * fps), amp=u)
        off_track.set_action("get_up", ks + round(1.1 * fps), ks + round(1.8 * fps), aux=math.pi)
        push_dir = g
        fall_dir = math.atan2(g[1], g[0]) - heading
    elif kind in ("Standing tackling", "Dive"):
        g = _rot(-f, rng.uniform(-1, 1) * math.radians(60))
        vr = 1.5 + 6.0 * u if contact else 1.5 + 2.0 * u
        lateral = _rot(g, math.pi / 2) * (rng.choice([-1, 1]) * rng.uniform(2.2, 3.0) if kind == "Dive" else 0.0)
        p_kc = O - g * 0.75 + lateral
        for i in range(n):
            tt = (i - kc) / fps
            off[i] = p_kc + g * (vr * tt if tt < 0 else 1.2 * tt)
        off_track.set_action("kick", kc - round(0.3 * fps), kc + round(0.3 * fps), amp=0.1 + 0.8 * u if contact else 0.1,
                             key_frame=kc)  # fmt: skip
        push_dir = f
        fall_dir = float(rng.uniform(-0.4, 0.4))
    elif kind == "High leg":
        g = _rot(-f, rng.uniform(-0.5, 0.5))
        p_kc = O - g * 1.0
        for i in range(n):
            tt = (i - kc) / fps
            off[i] = p_kc + g * ((1.0 + 4.0 * u) * tt if tt < 0 else 0.3 * tt)
        off_track.set_action("raised_leg", kc - round(0.35 * fps), kc + round(0.35 * fps), amp=u, aux=0.0, key_frame=kc)
        push_dir = g
        fall_dir = math.pi
    elif kind == "Holding":
        p_rel = -f * 0.7 - left * 0.45
        for i in range(n):
            off[i] = O + p_rel + f * sv * t[i]  # corrected after the victim's path is known
        off_track.set_action("hold", kc - round(0.8 * fps), kc + round(0.6 * fps), amp=u, key_frame=kc)
        push_dir = -f
        fall_dir = math.pi
    elif kind == "Pushing":
        vo = sv + 0.5 + 4.0 * u
        for i in range(n):
            tt = t[i]
            off[i] = O - f * 0.85 + f * (vo * tt if tt < 0 else (sv * 0.6) * tt)
        off_track.set_action("push", kc - round(0.3 * fps), kc + round(0.3 * fps), amp=u, key_frame=kc)
        push_dir = f
        fall_dir = float(rng.uniform(-0.3, 0.3))
    elif kind == "Elbowing":
        for i in range(n):
            off[i] = O + left * 0.72 - f * 0.1 + f * sv * t[i]
        swing = round((0.4 - 0.25 * u) * fps)  # a violent elbow is a fast swing
        off_track.set_action("arm_swing", kc - swing, kc + swing, amp=u, key_frame=kc)
        push_dir = -left
        fall_dir = -math.pi / 2 - rng.uniform(0, 0.6)
    elif kind == "Challenge":
        side = rng.choice([-1, 1])
        lat_speed = 0.5 + 4.0 * u
        for i in range(n):
            tt = t[i]
            squeeze = -side * left * lat_speed * min(tt, 0.0)  # barging in from the side
            off[i] = O + side * left * 0.62 + squeeze + f * sv * tt
        push_dir = -side * left
        fall_dir = -side * math.pi / 2
    # ---- victim
    vic = np.zeros((n, 2))
    tau = 0.35
    imp = (0.4 + 5.0 * u * u) if contact else 0.4  # impulse given to the victim, m/s
    slow = 0.25 + 0.5 * u if falls else 0.15
    for i in range(n):
        tt = t[i]
        if tt <= 0:
            vic[i] = O + f * sv * tt
            continue
        decay = 1 - math.exp(-tt / tau)
        carry = f * sv * 0.45 * tau * decay if falls else f * sv * (1 - slow) * tt
        vic[i] = O + carry + push_dir * imp * tau * decay
    if kind == "Holding":  # the hold drags the victim back before contact too
        hold_start = kc - round(0.8 * fps)
        for i in range(max(hold_start, 0), min(kc + 1, n)):
            lag = 0.8 * u * ((i - hold_start) / fps) ** 2
            vic[i] -= f * lag
        vic[kc + 1 :] -= f * 0.8 * u * (0.8**2)
        off = vic + (-f * 0.7 - left * 0.45)
        for i in range(kc + round(0.6 * fps), n):  # let go and slow down
            off[i] = off[i - 1] + (off[i - 1] - off[i - 2]) * 0.9 if i >= 2 else off[i]
    victim = Track.empty(n)
    _place(victim, vic)
    victim.yaw[:] = heading
    if aerial:
        jump_h = rng.uniform(0.25, 0.45)
        if kind == "High leg":
            victim.set_action("head", kc - round(0.4 * fps), kc + round(0.37 * fps), key_frame=kc, key_u=0.52)
        else:  # challenge: both go up for the ball
            victim.set_action("jump", kc - round(0.3 * fps), kc + round(0.3 * fps))
            off_track.set_action("jump", kc - round(0.3 * fps), kc + round(0.3 * fps))
            off_track.set_jump(kc, jump_h * rng.uniform(0.8, 1.1), round(0.6 * fps))
        victim.set_jump(kc, jump_h, round(0.6 * fps))
    if falls:
        delay = round((0.2 - 0.18 * u) * fps) if kind != "Dive" else round(rng.uniform(0.1, 0.3) * fps)
        fall_len = max(4, round((1.1 - 0.9 * u) * fps))  # soft fouls topple slowly, violent ones fast
        fs = kc + delay
        victim.set_action("fall", fs, fs + fall_len, amp=u, aux=fall_dir)
        lie = round(rng.uniform(0.8, 1.4) * fps)
        victim.set_action("fall", fs + fall_len, fs + fall_len + lie, amp=u, aux=fall_dir)  # lying on the ground
        victim.u[fs + fall_len : fs + fall_len + lie] = 1.0
        victim.set_action("get_up", fs + fall_len + lie, fs + fall_len + lie + round(0.8 * fps), aux=fall_dir)
        if u >= SEVERITY_BANDS[3][0] and kind != "Dive":  # violent: thrown off his feet, then rolls over
            victim.set_jump(
                fs + fall_len // 2, 0.25 + 0.5 * (u - SEVERITY_BANDS[3][0]) / (1 - SEVERITY_BANDS[3][0]), fall_len + 2
            )
            a, b = fs, min(fs + fall_len + lie, n)
            if b > a:
                victim.yaw[a:b] += np.linspace(0, rng.choice([-1, 1]) * 2.2, b - a)
                if b < n:
                    victim.yaw[b:] = victim.yaw[b - 1]
    _place(off_track, off)
    off_track.yaw[:] = heading_of(off[:, 0], off[:, 1], math.atan2(O[1] - off[0, 1], O[0] - off[0, 0]))
    if kind in ("Holding", "Elbowing", "Challenge", "Pushing"):
        off_track.yaw[:] = heading + (0.45 if kind == "Holding" else 0.0)
    # ---- ball
    ball = np.zeros((n, 3))
    if aerial:
        head_c = world_joints(victim.pose(kc, 1.8, fps))[J["head"]]
        src = np.array([*(O - f * rng.uniform(18, 28) + left * rng.uniform(-8, 8)), BALL_RADIUS])
        target = head_c + np.array([*(-f * 0.2), 0.25])
        v0 = aim(src, target, kc / fps)
        pre, _, _ = simulate(src, v0, kc + 1, fps, bp)
        ball[: kc + 1] = pre
        v_out = np.array([*(_rot(f, rng.uniform(-2, 2)) * rng.uniform(3, 7)), rng.uniform(1, 4)])
    else:
        for i in range(kc + 1):
            ball[i] = [*(vic[i] + f * 0.45), BALL_RADIUS]
        kick_dir = push_dir if kind in ("Tackling", "Standing tackling") else _rot(f, rng.uniform(-0.8, 0.8))
        v_out = np.array([*(kick_dir * rng.uniform(3, 8)), rng.uniform(0, 2)])
    post, _, _ = simulate(ball[kc], v_out, n - kc, fps, bp)
    ball[kc:] = post
    return FoulScript(kind, u, victim, off_track, ball, kc, contact, falls)


def annotation_fields(kind: str, offence: str, severity: str, contact: bool, rng: np.random.Generator) -> dict[str, str]:
    """The descriptive SoccerNet-MVFoul fields that go with a foul class."""
    upper = kind in ("Holding", "Pushing", "Elbowing", "Challenge")
    part = {"Holding": "Use of arms", "Pushing": "Use of arms", "Elbowing": "Use of arms", "Challenge": "Use of shoulder"}
    try_play = {"Holding": "No", "Pushing": "No", "Elbowing": "No", "Dive": ""}.get(kind, "Yes")
    touch = "" if kind == "Dive" else ("No" if rng.random() < 0.8 else "Maybe")
    return {
        "Offence": offence,
        "Contact": "With contact" if contact else "Without contact",
        "Bodypart": "Upper body" if upper else "Under body",
        "Upper body part": part.get(kind, ""),
        "Action class": kind,
        "Severity": severity,
        "Multiple fouls": "No" if rng.random() < 0.9 else "",
        "Try to play": try_play,
        "Touch ball": touch,
        "Handball": "No handball",
        "Handball offence": "",
    }
