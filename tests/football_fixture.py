"""Hand-made football scenes for the filter tests: a small ball simulator (gravity, bounces, rolling
friction, touches that set a new velocity), players standing or walking, and writers of the match
layout's ``tracking.csv`` / ``events.csv`` (the canonical tracking table and events, at any tracking rate,
with provider-like noise, missing ball heights and dropouts).

A *scene* is a list of touches: at time ``t`` the ball gets a velocity aimed at a target (reached after
``flight_s`` under gravity) or a given velocity. Between touches it flies, bounces and rolls.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

G = 9.81
R = 0.11
ROLL_DECEL = 3.4
SIM_HZ = 200


def aim(p: np.ndarray, q: np.ndarray, t: float) -> np.ndarray:
    """Velocity that takes the ball from p to q in t seconds under gravity."""
    v = (np.asarray(q, float) - np.asarray(p, float)) / t
    v[2] += 0.5 * G * t
    return v


@dataclass
class Touch:
    t: float
    target: tuple[float, float, float] | None = None  # aim here ...
    flight_s: float = 1.0
    velocity: tuple[float, float, float] | None = None  # ... or set this velocity


def simulate_ball(start, touches: list[Touch], duration_s: float, hz: int = SIM_HZ) -> tuple[np.ndarray, np.ndarray]:
    """(times, positions (n, 3)) of the ball at ``hz``."""
    n = round(duration_s * hz) + 1
    dt = 1.0 / hz
    pos = np.array(start, float)
    vel = np.zeros(3)
    out = np.zeros((n, 3))
    pending = sorted(touches, key=lambda k: k.t)
    for i in range(n):
        t = i * dt
        while pending and pending[0].t <= t + 1e-9:
            k = pending.pop(0)
            vel = aim(pos, k.target, k.flight_s) if k.target is not None else np.array(k.velocity, float)
        out[i] = pos
        if pos[2] <= R + 1e-6 and vel[2] < -1.0:  # lands: bounce
            vel[2] = -0.6 * vel[2]
            vel[:2] *= 0.85
        airborne = pos[2] > R + 1e-6 or vel[2] > 1e-6
        if airborne:
            pos = pos + vel * dt + np.array([0.0, 0.0, -0.5 * G * dt * dt])
            vel = vel + np.array([0.0, 0.0, -G * dt])
            if pos[2] < R:
                pos[2] = R
                vel[2] = -0.6 * vel[2] if vel[2] < -1.0 else 0.0
                vel[:2] *= 0.85
        else:
            pos[2] = R
            speed = float(np.hypot(vel[0], vel[1]))
            if speed > 0:
                new = max(speed - ROLL_DECEL * dt, 0.0)
                vel[:2] *= new / speed
                pos[:2] = pos[:2] + vel[:2] * dt
    return np.arange(n) * dt, out


@dataclass
class Player:
    track_id: int
    team: str
    start: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    jersey: int = 0

    def xy(self, t: np.ndarray) -> np.ndarray:
        return np.asarray(self.start, float)[None, :] + np.asarray(self.velocity, float)[None, :] * t[:, None]


@dataclass
class Scene:
    ball_t: np.ndarray
    ball: np.ndarray
    players: list[Player]
    events: list[tuple[float, str, int]] = field(default_factory=list)  # (time, type, track_id)
    duration_s: float = 0.0

    def ball_at(self, t: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(t, self.ball_t, self.ball[:, k]) for k in range(3)], 1)


def tracking_rows(scene: Scene, *, rate_hz: float = 25.0, video_fps: float = 25.0, rng: np.random.Generator | None = None,
                  ball_xy_noise: float = 0.0, ball_z_noise: float = 0.0, player_noise: float = 0.0, z_missing: list[tuple[float, float]] = (),
                  no_z: bool = False, ball_dropouts: list[tuple[float, float]] = (), player_dropouts: dict[int, list[tuple[float, float]]] | None = None,
                  time_offset_s: float = 0.0) -> list[dict]:  # fmt: skip
    """Canonical tracking rows sampled at ``rate_hz``; ``frame`` / ``time`` are the video frame of each sample
    (as the kloppy adapter writes them). Intervals are (start_s, end_s) in scene time."""
    rng = rng or np.random.default_rng(0)
    ts = np.arange(0.0, scene.duration_s + 1e-9, 1.0 / rate_hz)
    ball = scene.ball_at(ts)
    rows = []

    def inside(t, intervals):
        return any(a <= t < b for a, b in intervals)

    pdrops = player_dropouts or {}
    for i, t in enumerate(ts):
        tv = t + time_offset_s
        frame = int(np.floor(tv * video_fps + 0.5 + 1e-6))
        time = round(frame / video_fps, 6)
        if not inside(t, ball_dropouts):
            b = ball[i]
            z = None if (no_z or inside(t, z_missing)) else max(0.0, b[2] + rng.normal(0, ball_z_noise) if ball_z_noise else b[2])
            rows.append({"frame": frame, "time": time, "track_id": 0, "team": "ball", "jersey": "",
                         "x": b[0] + (rng.normal(0, ball_xy_noise) if ball_xy_noise else 0.0),
                         "y": b[1] + (rng.normal(0, ball_xy_noise) if ball_xy_noise else 0.0), "z": z})  # fmt: skip
        for p in scene.players:
            if inside(t, pdrops.get(p.track_id, ())):
                continue
            xy = p.xy(np.array([t]))[0]
            if player_noise:
                xy = xy + rng.normal(0, player_noise, 2)
            rows.append({"frame": frame, "time": time, "track_id": p.track_id, "team": p.team, "jersey": str(p.jersey),
                         "x": xy[0], "y": xy[1], "z": None})  # fmt: skip
    return rows


COLUMNS = ("frame", "time", "track_id", "team", "jersey", "x", "y", "z", "box_x1", "box_y1", "box_x2", "box_y2")


def write_tracking(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            z = "" if r["z"] is None else f"{r['z']:.2f}"
            w.writerow(
                (
                    r["frame"],
                    r["time"],
                    r["track_id"],
                    r["team"],
                    r["jersey"],
                    f"{r['x']:.2f}",
                    f"{r['y']:.2f}",
                    z,
                    "",
                    "",
                    "",
                    "",
                )
            )


def write_events(path: Path, scene: Scene, fps: float = 25.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("frame", "time", "type", "subtype", "track_id", "team", "ball_x", "ball_y", "ball_z"))
        for t, kind, tid in sorted(scene.events):
            f = round(t * fps)
            b = scene.ball_at(np.array([t]))[0]
            team = next((p.team for p in scene.players if p.track_id == tid), "")
            w.writerow((f, round(f / fps, 3), kind, "", tid, team, round(b[0], 3), round(b[1], 3), round(b[2], 3)))


# ------------------------------------------------------------------------------------------ scenes
HEAD = 1.9


def single_episode(kind: str, *, receiver=(50.0, 30.0), contact_t: float = 2.0, duration_s: float = 4.0, head_z: float = HEAD,
                   flight_s: float = 1.2) -> Scene:  # fmt: skip
    """One look-alike episode with its contact at ``contact_t``: ``header`` (ball met at head height and sent back),
    ``fly_past`` (passes 0.7 m beside the head, untouched), ``chest`` (stopped at 1.3 m), ``bounce`` (lands on
    the ground 4 m before the receiver), ``kick`` (a rolling ball kicked hard along the ground at the feet)."""
    rx, ry = receiver
    kicker = np.array([rx - 18.0, ry - 4.0, R])
    t_k = contact_t - flight_s
    players = [Player(1, "home", (rx, ry), jersey=9), Player(2, "away", (rx + 6.0, ry + 5.0), jersey=4),
               Player(3, "home", (kicker[0] - 0.5, kicker[1]), jersey=7)]  # fmt: skip
    events = []
    if kind == "header":
        touches = [Touch(t_k, target=(rx + 0.15, ry, head_z), flight_s=flight_s),
                   Touch(contact_t, target=(rx - 12.0, ry + 8.0, R), flight_s=1.0)]  # fmt: skip
        events.append((contact_t, "header", 1))
    elif kind == "fly_past":
        touches = [Touch(t_k, target=(rx, ry + 0.7, head_z), flight_s=flight_s)]
        events.append((contact_t, "fly_past", 1))
    elif kind == "chest":
        touches = [Touch(t_k, target=(rx + 0.2, ry, 1.3), flight_s=flight_s), Touch(contact_t, velocity=(-0.8, 0.0, -0.5))]
        events.append((contact_t, "chest", 1))
    elif kind == "bounce":
        touches = [Touch(t_k, target=(rx - 4.0, ry - 1.0, R), flight_s=flight_s)]
        events.append((contact_t, "bounce", 1))
    elif kind == "kick":
        kicker = np.array([rx - (4.5 - 0.5 * ROLL_DECEL), ry, R])  # rolls 2.8 m in 1 s: reaches the receiver's feet
        players[2] = Player(3, "home", (kicker[0] - 0.5, kicker[1]), jersey=7)
        touches = [Touch(contact_t - 1.0, velocity=(4.5, 0.0, 0.0)), Touch(contact_t, velocity=(-4.0, 14.0, 0.0))]
        events.append((contact_t, "kick", 1))
    else:
        raise ValueError(kind)
    if kind != "kick":
        events.append((t_k, "kick", 3))
    t, ball = simulate_ball(kicker, touches, duration_s)
    return Scene(t, ball, players, events, duration_s)


def random_match(seed: int, *, duration_s: float = 60.0, episode_s: float = 5.0,
                 kinds: tuple[str, ...] = ("header", "fly_past", "chest", "bounce", "kick", "header")) -> Scene:  # fmt: skip
    """Episodes of random kinds one after another, with walking bystanders. Each episode starts where the
    previous one left the ball: a player stops it there and, 0.6 s later, kicks it to the episode's receiver."""
    rng = np.random.default_rng(seed)
    n_ep = int(duration_s // episode_s)
    events = []
    players = [Player(10 + i, "home" if i % 2 else "away", tuple(rng.uniform([10, 5], [95, 63])),
                      tuple(rng.uniform(-0.8, 0.8, 2)), jersey=i + 2) for i in range(6)]  # fmt: skip
    pos = np.array([52.5, 34.0, R])
    times, parts = [], []
    pid = 30
    for e in range(n_ep):
        kind = kinds[int(rng.integers(len(kinds)))]
        t0 = e * episode_s
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(12, 20)
        rx, ry = np.clip(pos[:2] + dist * np.array([np.cos(ang), np.sin(ang)]), [6, 6], [99, 62])
        flight = float(rng.uniform(1.0, 1.6))
        head = float(rng.uniform(1.75, 2.15))
        t_k, t_c = 0.6, 0.6 + flight
        kicker = Player(pid + 1, "away" if e % 2 else "home", (pos[0] - 0.5, pos[1]), jersey=(pid + 1) % 30)
        receiver = Player(pid + 2, "home" if e % 2 else "away", (rx, ry), jersey=(pid + 2) % 30)
        pid += 2
        players += [kicker, receiver]
        back = np.array([pos[0] - rx, pos[1] - ry]) / max(np.hypot(pos[0] - rx, pos[1] - ry), 1e-6)
        touches = [Touch(0.0, velocity=(0.0, 0.0, 0.0))]
        if kind == "header":
            out = np.array([rx, ry]) + back * rng.uniform(8, 16) + rng.uniform(-5, 5, 2)
            touches += [Touch(t_k, target=(rx + 0.15, ry, head), flight_s=flight),
                        Touch(t_c, target=(out[0], out[1], R), flight_s=float(rng.uniform(0.8, 1.3)))]  # fmt: skip
        elif kind == "fly_past":
            side = np.array([-back[1], back[0]]) * rng.choice([-1, 1]) * rng.uniform(0.5, 1.0)
            touches.append(Touch(t_k, target=(rx + side[0], ry + side[1], head), flight_s=flight))
        elif kind == "chest":
            touches += [Touch(t_k, target=(rx, ry, 1.3), flight_s=flight), Touch(t_c, velocity=(*(back * 0.8), -0.5))]
        elif kind == "bounce":
            touches.append(Touch(t_k, target=(rx + 3 * back[0], ry + 3 * back[1], R), flight_s=flight))
        elif kind == "kick":
            v_in = -back * 6.0
            touches += [Touch(t_k, velocity=(*v_in, 0.0)), Touch(t_c, velocity=(*(np.array([-back[1], back[0]]) * 15.0), 0.0))]
            rolled = 6.0 * flight - 0.5 * ROLL_DECEL * flight**2  # where the rolling ball is at the kick
            receiver = Player(receiver.track_id, receiver.team, tuple(pos[:2] - back * rolled), jersey=receiver.jersey)
            players[-1] = receiver
        events.append((t0 + t_k, "kick", kicker.track_id))
        events.append((t0 + t_c, kind, receiver.track_id))
        t, ball = simulate_ball(pos, touches, episode_s)
        times.append(t[:-1] + t0)
        parts.append(ball[:-1])
        pos = ball[-1].copy()
    t_all = np.concatenate(times + [np.array([n_ep * episode_s])])
    b_all = np.concatenate(parts + [pos[None, :]])
    return Scene(t_all, b_all, players, sorted(events), n_ep * episode_s)


def write_match(folder: Path, scene: Scene, *, seed: int = 0, rate_hz: float = 25.0, noisy: bool = True) -> None:
    rng = np.random.default_rng(seed)
    kw = {"ball_xy_noise": 0.08, "ball_z_noise": 0.15, "player_noise": 0.05} if noisy else {}
    missing = []
    t = 0.0
    while t < scene.duration_s:  # heights missing in runs, about a third of the time
        gap = float(rng.uniform(2.0, 5.0))
        run = float(rng.uniform(1.0, 2.0))
        missing.append((t + gap, t + gap + run))
        t += gap + run
    rows = tracking_rows(scene, rate_hz=rate_hz, rng=rng, z_missing=missing, **kw)
    write_tracking(folder / "tracking.csv", rows)
    write_events(folder / "events.csv", scene)
