"""Continuous match play with scripted episodes embedded.

Play alternates between possession (a player dribbles), a ground pass or a lofted ball, and free balls
that the first player able to reach them claims. Lofted balls end in one of the header-task episodes:
a header, or a look-alike (chest or thigh control, a volley kick, a ball flying past a head, a jump that
misses, a bounce). Occasionally a defender commits a foul. Everything else is formation play.
All positions are ground truth in metres; ``tracking.provider_view`` adds a provider's noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .fouls import FOUL_CLASSES, SEVERITY_BANDS, script_foul
from .physics import BALL_RADIUS, PITCH_LENGTH, PITCH_WIDTH, BallParams, aim, flight_position, simulate
from .skeleton import ACTION_ID, HEAD_RADIUS, NO_ACTION, J, Pose, gait_for_speed, world_joints
from .track import STRIDE_M, action_progress, jump_profile

HEADER_OUTCOMES = ("header", "chest", "thigh", "volley", "fly_past", "jump_miss", "bounce")
EVENT_TYPES = ("header", "kick", "chest", "thigh", "fly_past", "jump_miss", "bounce", "foul", "throw_in")
CONTACT_DISTANCE = HEAD_RADIUS + BALL_RADIUS  # centre distance of a ball touching a head
V_MAX = 6.5  # m/s, sprint speed used when scripting paths

# 4-4-2 for the team attacking +x; the other team is mirrored
_FORMATION = [(4.0, 34.0), (20, 10), (18, 26), (18, 42), (20, 58), (36, 8), (34, 26), (34, 42), (36, 60), (47, 28), (47, 40)]


@dataclass(frozen=True)
class PlayerInfo:
    pid: int
    team: int
    number: int
    height: float
    skin: int
    goalkeeper: bool


@dataclass
class Event:
    frame: int
    type: str
    player: int
    subtype: str = ""


@dataclass
class MatchTruth:
    match_id: str
    fps: float
    players: list[PlayerInfo]
    x: np.ndarray  # (F, P)
    y: np.ndarray
    yaw: np.ndarray
    action: np.ndarray
    u: np.ndarray
    amp: np.ndarray
    aux: np.ndarray
    lift: np.ndarray
    gait_phase: np.ndarray
    speed: np.ndarray
    ball: np.ndarray  # (F, 3)
    events: list[Event] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.ball)

    def pose(self, f: int, p: int) -> Pose:
        return Pose(
            x=float(self.x[f, p]), y=float(self.y[f, p]), yaw=float(self.yaw[f, p]), height=self.players[p].height,
            gait=gait_for_speed(float(self.speed[f, p])), gait_phase=float(self.gait_phase[f, p]),
            action=int(self.action[f, p]), u=float(self.u[f, p]), amp=float(self.amp[f, p]), aux=float(self.aux[f, p]),
            lift=float(self.lift[f, p]),
        )  # fmt: skip

    def head(self, f: int, p: int) -> np.ndarray:
        return world_joints(self.pose(f, p))[J["head"]]

    _ARRAYS = ("x", "y", "yaw", "action", "u", "amp", "aux", "lift", "gait_phase", "speed", "ball")

    def save(self, path) -> None:
        """Noise-free state as .npz (positions in metres, poses), enough to recompute every joint."""
        players = np.array([(p.pid, p.team, p.number, p.height, p.skin, p.goalkeeper) for p in self.players], float)
        events = np.array([(e.frame, EVENT_TYPES.index(e.type), e.player) for e in self.events], int).reshape(-1, 3)
        subtypes = np.array([e.subtype for e in self.events], dtype="U32")
        with open(path, "wb") as fh:
            np.savez_compressed(fh, fps=self.fps, match_id=self.match_id, players=players, events=events, subtypes=subtypes,
                                **{k: getattr(self, k) for k in self._ARRAYS})  # fmt: skip

    @classmethod
    def load(cls, path) -> MatchTruth:
        z = np.load(path)
        players = [PlayerInfo(int(r[0]), int(r[1]), int(r[2]), float(r[3]), int(r[4]), bool(r[5])) for r in z["players"]]
        events = [Event(int(f), EVENT_TYPES[int(t)], int(p), str(s)) for (f, t, p), s in zip(z["events"], z["subtypes"])]
        return cls(str(z["match_id"]), float(z["fps"]), players, *(z[k] for k in cls._ARRAYS), events=events)


@dataclass(frozen=True)
class MatchConfig:
    fps: float
    duration_s: float
    lofted_prob: float  # share of possessions that end in a lofted ball (the rest: ground passes, fouls)
    foul_prob: float
    outcome_weights: dict[str, float]
    ball: BallParams = BallParams()


class _Sim:
    def __init__(self, cfg: MatchConfig, rng: np.random.Generator, match_id: str):
        self.cfg, self.rng, self.fps = cfg, rng, cfg.fps
        self.F = int(round(cfg.duration_s * cfg.fps))
        F = self.F
        self.players: list[PlayerInfo] = []
        for team in (0, 1):
            for k in range(11):
                self.players.append(PlayerInfo(len(self.players), team, k + 1, float(rng.uniform(1.70, 1.95)),
                                               int(rng.integers(0, 4)), k == 0))  # fmt: skip
        P = len(self.players)
        self.home = np.array([(x, y) if pl.team == 0 else (PITCH_LENGTH - x, PITCH_WIDTH - y)
                              for pl, (x, y) in zip(self.players, _FORMATION * 2)], float)  # fmt: skip
        self.wander = rng.uniform(0, 2 * math.pi, size=(P, 2))
        self.pos = np.zeros((F, P, 2))
        self.yaw = np.zeros((F, P))
        self.ovr = np.full((F, P, 2), np.nan)
        self.ovr_yaw = np.full((F, P), np.nan)
        self.action = np.full((F, P), NO_ACTION, np.int16)
        self.u = np.zeros((F, P))
        self.amp = np.full((F, P), 0.5)
        self.aux = np.zeros((F, P))
        self.lift = np.zeros((F, P))
        self.ball = np.zeros((F, 3))
        self.ball_set = np.zeros(F, bool)
        self.events: list[Event] = []
        self.f_sim = 0
        self.cur = self.home.copy() + rng.normal(0, 1.0, size=(P, 2))
        self.vel = np.zeros((P, 2))
        self.cur_yaw = np.array([0.0 if pl.team == 0 else math.pi for pl in self.players])
        self.busy_until = np.zeros(P, int)
        self.keep_away: list[tuple[int, int, np.ndarray]] = []  # (from, to, point) others stay clear
        self.match_id = match_id

    # ------------------------------------------------------------------ players
    def advance_to(self, f_end: int) -> None:
        """Simulate players for frames [f_sim, f_end)."""
        f_end = min(f_end, self.F)
        dt = 1.0 / self.fps
        for f in range(self.f_sim, f_end):
            bx, by = self.ball[f, 0], self.ball[f, 1]
            shift = np.array([0.45 * (bx - PITCH_LENGTH / 2), 0.3 * (by - PITCH_WIDTH / 2)])
            t = f * dt
            for p, pl in enumerate(self.players):
                if not np.isnan(self.ovr[f, p, 0]):
                    new = self.ovr[f, p]
                    self.vel[p] = (new - self.cur[p]) / dt
                    self.cur[p] = new
                else:
                    if pl.goalkeeper:
                        target = np.array([self.home[p, 0], np.clip(by, 30.0, 38.0)])
                    else:
                        w = self.wander[p]
                        target = self.home[p] + shift + 2.5 * np.array([math.sin(0.21 * t + w[0]), math.sin(0.17 * t + w[1])])
                    for a, b, point in self.keep_away:
                        if a <= f <= b:
                            d = target - point
                            dist = float(np.hypot(*d))
                            if dist < 4.0:
                                target = point + (d / max(dist, 1e-3)) * 4.0
                            if np.hypot(*(self.cur[p] - point)) < 3.0:
                                target = self.cur[p] + (self.cur[p] - point) * 2.0
                    target = np.clip(target, [-2.0, -2.0], [PITCH_LENGTH + 2.0, PITCH_WIDTH + 2.0])
                    want = (target - self.cur[p]) * 0.9
                    vmax = 5.5
                    sp = float(np.hypot(*want))
                    if sp > vmax:
                        want *= vmax / sp
                    dv = want - self.vel[p]
                    acc = float(np.hypot(*dv))
                    if acc > 4.0 * dt:
                        dv *= 4.0 * dt / acc
                    self.vel[p] = self.vel[p] + dv
                    self.cur[p] = self.cur[p] + self.vel[p] * dt
                # heading
                if not np.isnan(self.ovr_yaw[f, p]):
                    desired = self.ovr_yaw[f, p]
                elif float(np.hypot(*self.vel[p])) > 2.0:
                    desired = math.atan2(self.vel[p, 1], self.vel[p, 0])
                else:
                    desired = math.atan2(by - self.cur[p, 1], bx - self.cur[p, 0])
                d = (desired - self.cur_yaw[p] + math.pi) % (2 * math.pi) - math.pi
                lim = 9.0 * dt if np.isnan(self.ovr_yaw[f, p]) else 30.0 * dt
                self.cur_yaw[p] += max(-lim, min(lim, d))
            self.pos[f] = self.cur
            self.yaw[f] = self.cur_yaw
        self.f_sim = max(self.f_sim, f_end)

    def script_path(self, p: int, f0: int, f1: int, end: np.ndarray, yaw: float | np.ndarray | None = None) -> None:
        """Move player p in a straight line from his position before f0 to ``end`` at frame f1."""
        start = self.cur[p].copy() if f0 == self.f_sim else self.ovr[f0 - 1, p]
        n = f1 - f0 + 1
        for i in range(n):
            f = f0 + i
            if f >= self.F:
                break
            s = (i + 1) / n
            self.ovr[f, p] = start + (end - start) * s
            if yaw is not None:
                self.ovr_yaw[f, p] = yaw if np.isscalar(yaw) else yaw[i]
        self.busy_until[p] = max(self.busy_until[p], f1)

    def set_action(self, p: int, name: str, start: int, end: int, key: int, key_u: float = 0.5,
                   amp: float = 0.5, aux: float = 0.0) -> None:  # fmt: skip
        a, b, u = action_progress(start, end, self.F, key, key_u)
        self.action[a:b, p] = ACTION_ID[name]
        self.u[a:b, p] = u
        self.amp[a:b, p] = amp
        self.aux[a:b, p] = aux

    def set_jump(self, p: int, apex: int, height: float, frames: int) -> None:
        self.lift[:, p] = np.maximum(self.lift[:, p], jump_profile(apex, height, frames, self.F))

    def pose_at(self, f: int, p: int, x: float, y: float, yaw: float) -> Pose:
        return Pose(x=x, y=y, yaw=yaw, height=self.players[p].height, action=int(self.action[f, p]),
                    u=float(self.u[f, p]), amp=float(self.amp[f, p]), aux=float(self.aux[f, p]),
                    lift=float(self.lift[f, p]))  # fmt: skip

    def put_ball(self, f0: int, traj: np.ndarray) -> None:
        n = min(len(traj), self.F - f0)
        if n > 0:
            self.ball[f0 : f0 + n] = traj[:n]
            self.ball_set[f0 : f0 + n] = True

    def outfield(self, exclude: set[int] = frozenset(), free_at: int = 0) -> list[int]:
        return [p for p, pl in enumerate(self.players) if not pl.goalkeeper and p not in exclude and self.busy_until[p] < free_at]

    # ------------------------------------------------------------------ plays
    def dribble(self, a: int, f0: int) -> int:
        rng = self.rng
        n = min(int(rng.uniform(0.6, 1.4) * self.fps), self.F - f0)
        goal_x = PITCH_LENGTH if self.players[a].team == 0 else 0.0
        p0 = self.cur[a].copy()
        to_goal = math.atan2(PITCH_WIDTH / 2 - p0[1], goal_x - p0[0])
        heading = to_goal + rng.uniform(-1.0, 1.0)
        speed = rng.uniform(2.0, 5.0)
        d = np.array([math.cos(heading), math.sin(heading)])
        end = np.clip(p0 + d * speed * n / self.fps, [4.0, 4.0], [PITCH_LENGTH - 4.0, PITCH_WIDTH - 4.0])
        d = end - p0
        heading = math.atan2(d[1], d[0]) if np.hypot(*d) > 0.1 else heading
        self.script_path(a, f0, f0 + n - 1, end, yaw=heading)
        fwd = np.array([math.cos(heading), math.sin(heading)])
        side = np.array([-fwd[1], fwd[0]])
        traj = np.zeros((n, 3))
        for i in range(n):
            wobble = 0.12 * math.sin(2 * math.pi * i / (0.7 * self.fps))
            traj[i, :2] = self.ovr[f0 + i, a] + fwd * (0.45 + 0.1 * math.sin(2 * math.pi * i / (0.45 * self.fps))) + side * wobble
            traj[i, 2] = BALL_RADIUS
        if f0 > 0:  # first touches bring the ball from where it was to the dribbler's feet
            blend = min(6, n)
            w = np.linspace(1.0 / blend, 1.0, blend)[:, None]
            traj[:blend] = (1 - w) * self.ball[f0 - 1] + w * traj[:blend]
        self.put_ball(f0, traj)
        self.advance_to(f0 + n)
        return f0 + n

    def kick_windup(self, a: int, f0: int, direction: float) -> int:
        """The passer slows, turns towards ``direction`` and strikes; returns the contact frame."""
        w = max(2, int(0.2 * self.fps))
        fk = f0 + w
        fwd = np.array([math.cos(direction), math.sin(direction)])
        end = self.cur[a] + self.vel[a] * 0.3 * w / self.fps
        self.script_path(a, f0, fk, end, yaw=direction)
        half = int(0.25 * self.fps)
        self.set_action(a, "kick", fk - half, fk + half, fk)
        ball_at = np.array([*(end + fwd * 0.35), BALL_RADIUS])
        start = self.ball[f0 - 1] if f0 > 0 else ball_at
        traj = np.array([start + (ball_at - start) * (i + 1) / (w + 1) for i in range(w + 1)])
        self.put_ball(f0, traj)
        self.events.append(Event(fk, "kick", a, "pass"))
        self.advance_to(fk + 1)
        return fk

    def _clear_of_ball(self, p: int, traj: np.ndarray) -> bool:
        """True if running straight to the ball's end point never puts p's head in its way."""
        k = len(traj) - 1
        s = (np.arange(k + 1) / max(k, 1))[:, None]
        path = self.cur[p] + (traj[-1, :2] - self.cur[p]) * s
        near = np.hypot(*(path - traj[:, :2]).T) < 0.8
        return not np.any(near & (traj[:, 2] > 0.8))

    def _landing(self, c: np.ndarray, ang: float, dist: float) -> np.ndarray:
        """A landing point ``dist`` metres from c, turned towards the centre until it is on the pitch."""
        centre = math.atan2(PITCH_WIDTH / 2 - c[1], PITCH_LENGTH / 2 - c[0])
        for w in np.linspace(0.0, 1.0, 11):
            d = (ang - centre + math.pi) % (2 * math.pi) - math.pi
            a = centre + (1 - w) * d
            p = c + dist * np.array([math.cos(a), math.sin(a)])
            if 3.0 <= p[0] <= PITCH_LENGTH - 3.0 and 3.0 <= p[1] <= PITCH_WIDTH - 3.0:
                return p
        return np.clip(c, [3.0, 3.0], [PITCH_LENGTH - 3.0, PITCH_WIDTH - 3.0])

    def near_end(self, f0: int) -> bool:
        return f0 + int(3.5 * self.fps) >= self.F

    def ground_pass(self, a: int, f0: int) -> int:
        rng = self.rng
        if self.near_end(f0):
            return self.F
        team = self.players[a].team
        mates = [p for p in self.outfield({a}, f0) if self.players[p].team == team]
        dists = [float(np.hypot(*(self.cur[p] - self.cur[a]))) for p in mates]
        ok = [p for p, d in zip(mates, dists) if 8.0 < d < 30.0] or mates
        t = int(rng.choice(ok))
        direction = math.atan2(*(self.cur[t] - self.cur[a])[::-1])
        fk = self.kick_windup(a, f0, direction)
        dist = float(np.hypot(*(self.cur[t] - self.ball[fk, :2])))
        v0 = math.sqrt(2.5**2 + 2 * self.cfg.ball.rolling_friction * 9.81 * dist)
        d = (self.cur[t] - self.ball[fk, :2]) / max(dist, 1e-3)
        return self.free_ball(fk, self.ball[fk], np.array([*(d * v0), 0.0]), last_touch=a)

    def lofted(self, a: int, f0: int) -> int:
        rng, fps = self.rng, self.fps
        if self.near_end(f0):
            return self.F
        outcome = str(rng.choice(HEADER_OUTCOMES, p=self._outcome_p()))
        cands = self.outfield({a}, f0)
        dists = np.array([float(np.hypot(*(self.cur[p] - self.cur[a]))) for p in cands])
        ok = [p for p, d in zip(cands, dists) if 14.0 < d < 40.0] or cands
        r = int(rng.choice(ok))
        direction = math.atan2(*(self.cur[r] - self.cur[a])[::-1])
        fk = self.kick_windup(a, f0, direction)
        p0 = self.ball[fk].copy()
        dist = float(np.hypot(*(self.cur[r] - p0[:2])))
        T = float(np.clip(dist / 16.0, 1.0, 2.2))
        fc = fk + int(round(T * fps))
        if fc + 2 >= self.F:
            return self.F
        T = (fc - fk) / fps
        c = np.clip(self.cur[r] + rng.uniform(-2.5, 2.5, 2), [3.0, 3.0], [PITCH_LENGTH - 3.0, PITCH_WIDTH - 3.0])
        face = math.atan2(p0[1] - c[1], p0[0] - c[0])
        self.keep_away.append((fk, fc + int(0.6 * fps), c.copy()))
        # the receiver gets there a moment early and sets himself (standing) for the contact
        fa = max(fk + 1, fc - int(0.3 * fps))
        self.script_path(r, fk + 1, fa, c, yaw=face)
        self.script_path(r, fa + 1, fc, c, yaw=face)
        pre, post = int(0.4 * fps), int(0.37 * fps)
        fwd = np.array([math.cos(face), math.sin(face)])
        if outcome == "header":
            if rng.random() < 0.5:
                self.set_jump(r, fc, float(rng.uniform(0.25, 0.5)), int(0.6 * fps))
            self.set_action(r, "head", fc - pre, fc + post, fc, key_u=0.52)
            head = world_joints(self.pose_at(fc, r, c[0], c[1], face))[J["head"]]
            incoming = np.array([*(fwd * 1.0), 0.45])
            target = head + incoming / math.sqrt(sum(float(v) * float(v) for v in incoming)) * (CONTACT_DISTANCE - 0.005)
        elif outcome == "chest":
            self.set_action(r, "chest", fc - pre, fc + post, fc)
            j = world_joints(self.pose_at(fc, r, c[0], c[1], face))
            target = 0.55 * j[J["neck"]] + 0.45 * j[J["pelvis"]] + np.array([*(fwd * 0.2), 0.0])
        elif outcome == "thigh":
            self.set_action(r, "raised_leg", fc - pre, fc + post, fc, aux=1.0)
            j = world_joints(self.pose_at(fc, r, c[0], c[1], face))
            target = 0.5 * (j[J["r_hip"]] + j[J["r_knee"]]) + np.array([0.0, 0.0, 0.15])
        elif outcome == "volley":
            self.set_action(r, "kick", fc - int(0.25 * fps), fc + int(0.25 * fps), fc, amp=0.7)
            j = world_joints(self.pose_at(fc, r, c[0], c[1], face))
            target = j[J["r_foot"]] + np.array([*(fwd * 0.14), 0.0])
            target[2] = max(target[2] + 0.05, BALL_RADIUS + 0.05)
        elif outcome == "fly_past":
            head = world_joints(self.pose_at(fc, r, c[0], c[1], face))[J["head"]]
            lateral = np.array([-fwd[1], fwd[0], 0.0]) * rng.choice([-1, 1]) * rng.uniform(0.45, 1.0)
            target = head + lateral + np.array([0.0, 0.0, rng.uniform(-0.15, 0.3)])
        elif outcome == "jump_miss":
            self.set_jump(r, fc, float(rng.uniform(0.3, 0.5)), int(0.6 * fps))
            self.set_action(r, "jump", fc - int(0.3 * fps), fc + int(0.3 * fps), fc)
            head = world_joints(self.pose_at(fc, r, c[0], c[1], face))[J["head"]]
            target = head + np.array([*(fwd * rng.uniform(-0.2, 0.2)), rng.uniform(0.5, 1.0)])
        else:  # bounce in front of the receiver
            target = np.array([*(c + fwd * rng.uniform(1.5, 3.0)), BALL_RADIUS])
        v0 = aim(p0, target, T)
        traj = flight_position(p0, v0, np.arange(1, fc - fk + 1) / fps)
        traj[-1] = target
        self.put_ball(fk + 1, traj)
        self.advance_to(fc + 1)
        v_in = v0 + np.array([0.0, 0.0, -9.81 * T])
        if outcome == "header":
            self.events.append(Event(fc, "header", r))
            land = self._landing(c, face + rng.uniform(-1.2, 1.2), rng.uniform(8, 20))
            v_out = aim(target, np.array([*land, BALL_RADIUS]), float(rng.uniform(0.8, 1.4)))
        elif outcome == "chest":
            self.events.append(Event(fc, "chest", r))
            v_out = np.array([*(fwd * 0.8), -0.5])
        elif outcome == "thigh":
            self.events.append(Event(fc, "thigh", r))
            v_out = np.array([*(fwd * 0.5), 1.8])
        elif outcome == "volley":
            self.events.append(Event(fc, "kick", r, "volley"))
            ang = face + math.pi + rng.uniform(-0.8, 0.8)
            land = self._landing(c, ang, rng.uniform(15, 28))
            v_out = aim(target, np.array([*land, BALL_RADIUS]), float(rng.uniform(0.9, 1.4)))
        elif outcome == "fly_past":
            self.events.append(Event(fc, "fly_past", r))
            v_out = v_in
        elif outcome == "jump_miss":
            self.events.append(Event(fc, "jump_miss", r))
            v_out = v_in
        else:
            self.events.append(Event(fc, "bounce", r, "designed"))
            v_out = v_in
        return self.free_ball(fc, target, v_out, last_touch=r, designed_bounce=(outcome == "bounce"))

    def foul(self, a: int, f0: int) -> int:
        rng, fps = self.rng, self.fps
        team = self.players[a].team
        opp = [p for p in self.outfield(set(), f0) if self.players[p].team != team]
        if not opp:
            return self.dribble(a, f0)
        d = int(opp[int(np.argmin([np.hypot(*(self.cur[p] - self.cur[a])) for p in opp]))])
        kind = str(rng.choice(FOUL_CLASSES))
        band = SEVERITY_BANDS[int(rng.integers(0, 4))]
        intensity = float(rng.uniform(band[0] + 0.02, band[1] - 0.02))
        kc = int(1.2 * fps)
        n = kc + int(2.8 * fps)
        heading = self.cur_yaw[a]
        if f0 + n + 2 >= self.F:
            return self.F
        sv = float(rng.uniform(3.0, 5.0))
        script = script_foul(kind, intensity, n_frames=n, contact_frame=kc, fps=fps, origin=np.zeros(2), heading=heading,
                             rng=rng, ball_params=self.cfg.ball, victim_speed=sv, allow_aerial=False)  # fmt: skip
        # translate the script so the victim starts where he stands now
        shift = self.cur[a] - np.array([script.victim.x[0], script.victim.y[0]])
        shift = np.clip(shift, -200, 200)
        vx, vy = script.victim.x + shift[0], script.victim.y + shift[1]
        ox, oy = script.offender.x + shift[0], script.offender.y + shift[1]
        # the offender first runs to his starting spot while the victim carries the ball on
        fwd = np.array([math.cos(heading), math.sin(heading)])
        approach = 2
        while True:
            back = fwd * sv * approach / fps
            dist = float(np.hypot(ox[0] + back[0] - self.cur[d][0], oy[0] + back[1] - self.cur[d][1]))
            if dist <= V_MAX * approach / fps:
                break
            approach += 1
            if approach > int(3.0 * fps):  # nobody close enough to commit the foul: play on
                return self.dribble(a, f0)
        vstart = self.cur[a].copy()
        vx, vy, ox, oy = vx + back[0], vy + back[1], ox + back[0], oy + back[1]
        if f0 + approach + n + 2 >= self.F:
            return self.F
        self.script_path(a, f0, f0 + approach - 1, np.array([vx[0], vy[0]]), yaw=heading)
        self.script_path(d, f0, f0 + approach - 1, np.array([ox[0], oy[0]]))
        bt = np.array([[*(vstart + (np.array([vx[0], vy[0]]) - vstart) * (i + 1) / approach
                          + np.array([math.cos(heading), math.sin(heading)]) * 0.45), BALL_RADIUS] for i in range(approach)])  # fmt: skip
        self.put_ball(f0, bt)
        self.advance_to(f0 + approach)
        g0 = f0 + approach
        for p, tr, xs, ys in ((a, script.victim, vx, vy), (d, script.offender, ox, oy)):
            for i in range(n):
                f = g0 + i
                self.ovr[f, p] = (xs[i], ys[i])
                self.ovr_yaw[f, p] = tr.yaw[i]
                if tr.action[i] != NO_ACTION:
                    self.action[f, p] = tr.action[i]
                    self.u[f, p], self.amp[f, p], self.aux[f, p] = tr.u[i], tr.amp[i], tr.aux[i]
                self.lift[f, p] = tr.lift[i]
            self.busy_until[p] = g0 + n
        ball = script.ball.copy()
        ball[:, :2] += shift + back
        self.keep_away.append((g0, g0 + n, np.array([vx[kc], vy[kc]])))
        self.events.append(Event(g0 + kc, "foul", d, kind))
        # the ball runs free after the contact; play restarts once it is claimed
        self.put_ball(g0, ball[: kc + 1])
        self.advance_to(g0 + kc + 1)
        return self.free_ball(g0 + kc, ball[kc], (ball[kc + 1] - ball[kc]) * fps, last_touch=a, exclude={a, d})

    def free_ball(self, f0: int, p0: np.ndarray, v0: np.ndarray, last_touch: int, designed_bounce: bool = False,
                  exclude: set[int] | None = None) -> int:  # fmt: skip
        fps = self.fps
        horizon = int(5 * fps)
        traj, vel, bounces = simulate(p0, v0, horizon, fps, self.cfg.ball)
        excl = set(exclude or ()) | {last_touch}
        lock = int(0.5 * fps)
        inside = (traj[:, 0] >= 0) & (traj[:, 0] <= PITCH_LENGTH) & (traj[:, 1] >= 0) & (traj[:, 1] <= PITCH_WIDTH)
        entered = np.maximum.accumulate(inside)  # a throw-in starts outside: count exits after entering
        gone = entered & ~inside
        k_out = int(np.argmax(gone)) if gone.any() else horizon
        best = None
        for k in range(2, k_out):
            b = traj[k]
            if b[2] > 0.7 or float(np.hypot(*vel[k, :2])) > 11.0:
                continue
            for p in self.outfield(set(), f0 + k):
                if p in excl and k < lock:
                    continue
                if p in (exclude or ()):
                    continue
                need = float(np.hypot(*(self.cur[p] - b[:2]))) - 0.6
                if need <= V_MAX * k / fps and self._clear_of_ball(p, traj[: k + 1]):
                    if best is None or need < best[2]:
                        best = (k, p, need)
            if best is not None:
                break
        if best is None and k_out < horizon:
            return self.out_of_play(f0, traj, k_out, bounces, last_touch)
        if best is None:  # nobody reaches it in time: the nearest player walks to where it stops
            k = horizon - 1
            cands = self.outfield(set(exclude or ()), f0)
            p = int(cands[int(np.argmin([np.hypot(*(self.cur[q] - traj[k, :2])) for q in cands]))])
            extra = int(np.hypot(*(self.cur[p] - traj[k, :2])) / V_MAX * fps)
            traj = np.concatenate([traj, np.repeat(traj[-1:], extra + 1, 0)])
            k = k + extra
        else:
            k, p, _ = best
        k = min(k, self.F - f0 - 1)
        self._record_bounces(f0, traj, bounces, k, designed_bounce)
        self.put_ball(f0 + 1, traj[1 : k + 1])
        b = traj[k, :2]
        me = self.cur[p]
        approach_dir = (b - me) / max(float(np.hypot(*(b - me))), 1e-3)
        self.script_path(p, f0 + 1, f0 + k, b - approach_dir * 0.45)
        self.advance_to(f0 + k + 1)
        self.possessor = p
        return f0 + k + 1

    def _record_bounces(self, f0: int, traj: np.ndarray, bounces: list[int], upto: int, skip_first: bool) -> None:
        for bf in bounces:
            x, y = traj[bf, 0], traj[bf, 1]
            on_pitch = -1.0 <= x <= PITCH_LENGTH + 1.0 and -1.0 <= y <= PITCH_WIDTH + 1.0
            if bf <= upto and on_pitch and traj[max(bf - 12, 0) : bf, 2].max() > 0.5 and not (skip_first and bf <= 1):
                near = int(np.argmin(np.hypot(*(self.cur - traj[bf, :2]).T)))
                self.events.append(Event(f0 + bf, "bounce", near, "free"))

    def out_of_play(self, f0: int, traj: np.ndarray, k_out: int, bounces: list[int], last_touch: int) -> int:
        """The ball crossed a line: it is stopped there, fetched by an opponent and put back in play
        with a throw-in (touchline) or a long kick (goal line)."""
        fps, rng = self.fps, self.rng
        # beyond the line the ball runs on until it lies still or reaches the advertising boards (4 m out)
        traj = traj.copy()
        lo, hi = np.array([-4.0, -4.0]), np.array([PITCH_LENGTH + 4.0, PITCH_WIDTH + 4.0])
        k = len(traj) - 1
        for i in range(k_out, len(traj)):
            boards = np.any(traj[i, :2] < lo) or np.any(traj[i, :2] > hi)
            traj[i, :2] = np.clip(traj[i, :2], lo, hi)
            if boards:
                traj[i:, :2] = traj[i, :2]
            if traj[i, 2] <= BALL_RADIUS + 0.01 and (
                boards or i + 1 == len(traj) or np.hypot(*(traj[i + 1, :2] - traj[i, :2])) * fps < 0.8
            ):
                k = i
                break
        traj[k:, 2] = BALL_RADIUS
        self._record_bounces(f0, traj, bounces, k, False)
        exit_pt = traj[k].copy()
        self.put_ball(f0 + 1, traj[1:k])
        team = 1 - self.players[last_touch].team
        cands = [p for p in self.outfield(set(), f0) if self.players[p].team == team] or self.outfield(set(), f0)
        t = int(cands[int(np.argmin([np.hypot(*(self.cur[p] - exit_pt[:2])) for p in cands]))])
        into = np.array([PITCH_LENGTH / 2, PITCH_WIDTH / 2]) - exit_pt[:2]
        into /= max(float(np.hypot(*into)), 1e-3)
        spot = exit_pt[:2] - into * 0.3
        walk = max(int(np.hypot(*(self.cur[t] - spot)) / 6.0 * fps), int(0.5 * fps))
        fa = min(f0 + k + walk, self.F - 1)
        self.script_path(t, f0 + 1, fa, spot)
        hold = np.repeat(exit_pt[None], max(fa - (f0 + k) + 1, 1), 0)
        self.put_ball(f0 + k, hold)
        self.advance_to(fa + 1)
        if self.near_end(fa + 1):
            return self.F
        self.cur_yaw[t] = math.atan2(into[1], into[0])
        touchline = exit_pt[1] <= 0.0 or exit_pt[1] >= PITCH_WIDTH
        if not touchline or fa + int(1.5 * fps) >= self.F:
            return self.lofted(t, fa + 1)
        # throw-in: the ball goes up in both hands, back behind the head and is released forwards
        face = math.atan2(into[1], into[0])
        n = int(1.0 * fps)
        rel = fa + 1 + int(0.7 * n)
        self.script_path(t, fa + 1, fa + n, spot, yaw=face)
        self.set_action(t, "throw", fa + 1, fa + 1 + n, rel, key_u=0.7)
        hands = []
        for f in range(fa + 1, rel + 1):
            j = world_joints(self.pose_at(f, t, spot[0], spot[1], face))
            hands.append(0.5 * (j[J["l_hand"]] + j[J["r_hand"]]) + np.array([0.0, 0.0, 0.08]))
        self.put_ball(fa + 1, np.array(hands))
        self.advance_to(rel + 1)
        target = self._landing(spot, face + rng.uniform(-0.7, 0.7), rng.uniform(8.0, 15.0))
        v0 = aim(hands[-1], np.array([*target, BALL_RADIUS]), float(rng.uniform(0.9, 1.2)))
        self.events.append(Event(rel, "throw_in", t))
        return self.free_ball(rel, hands[-1], v0, last_touch=t)

    def _outcome_p(self) -> np.ndarray:
        w = np.array([self.cfg.outcome_weights.get(o, 0.0) for o in HEADER_OUTCOMES], float)
        return w / w.sum()

    def run(self) -> MatchTruth:
        rng = self.rng
        # kick-off: the ball at the centre spot with a midfielder of team 0
        self.possessor = 9
        self.cur[9] = (PITCH_LENGTH / 2 - 0.6, PITCH_WIDTH / 2)
        f = 0
        while f < self.F - 2:
            a = self.possessor
            f = self.dribble(a, f)
            if f >= self.F - 2:
                break
            r = rng.random()
            if r < self.cfg.foul_prob:
                f = self.foul(a, f)
            elif r < self.cfg.foul_prob + self.cfg.lofted_prob:
                f = self.lofted(a, f)
            else:
                f = self.ground_pass(a, f)
        self.advance_to(self.F)
        missing = ~self.ball_set
        if missing.any():  # the last frames after the final play: keep the ball where it was
            idx = np.maximum.accumulate(np.where(~missing, np.arange(self.F), 0))
            self.ball = self.ball[idx]
        return self.truth()

    def truth(self) -> MatchTruth:
        F, P = self.F, len(self.players)
        step = np.hypot(*np.diff(self.pos, axis=0, prepend=self.pos[:1]).transpose(2, 0, 1))
        speed = step * self.fps
        stride = np.where(speed < 2.6, STRIDE_M[1], STRIDE_M[2])
        phase = (np.cumsum(step / stride, axis=0) + np.arange(P) * 0.37) % 1.0
        events = sorted((e for e in self.events if e.frame < F), key=lambda e: (e.frame, e.type))
        return MatchTruth(
            self.match_id, self.fps, self.players, self.pos[..., 0].copy(), self.pos[..., 1].copy(), self.yaw.copy(),
            self.action.copy(), self.u.copy(), self.amp.copy(), self.aux.copy(), self.lift.copy(), phase, speed,
            self.ball.copy(), events,
        )  # fmt: skip


def simulate_match(cfg: MatchConfig, rng: np.random.Generator, match_id: str) -> MatchTruth:
    return _Sim(cfg, rng, match_id).run()
