"""Rasterise the world through a camera: striped grass, pitch lines in perspective, goals, players with
kits, heads and limbs, the ball with its ground shadow, and mild blur / noise / lighting drift.

The pitch is drawn once as a top-down texture and warped by the ground-plane homography of each frame;
bodies are drawn as depth-sorted thick segments, so a frame costs a few milliseconds on one core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..geometry.camera import Camera, matmul_exact
from .physics import BALL_RADIUS, PITCH_LENGTH, PITCH_WIDTH
from .skeleton import HEAD_RADIUS, J, Pose, world_joints

cv2.setNumThreads(1)

TEX_SCALE = 10.0  # texture pixels per metre
TEX_MARGIN = 14.0  # grass beyond the lines, metres
STAND_RGB = (58, 60, 72)
SKIN_TONES = ((232, 190, 160), (198, 144, 108), (141, 92, 62), (96, 62, 42))
KIT_PALETTE = (
    (200, 30, 40), (30, 60, 170), (240, 240, 240), (20, 20, 24), (250, 200, 20), (120, 30, 120),
    (250, 120, 20), (110, 190, 240), (150, 20, 30), (0, 120, 110),
)  # fmt: skip


@dataclass(frozen=True)
class Kit:
    shirt: tuple[int, int, int]
    shorts: tuple[int, int, int]
    socks: tuple[int, int, int]


def random_kits(rng: np.random.Generator) -> tuple[Kit, Kit, Kit]:
    """Two outfield kits of clearly different colours plus a goalkeeper kit."""
    while True:  # kits that a viewer (and a model) can tell apart
        i, j, k = rng.choice(len(KIT_PALETTE), size=3, replace=False)
        a, b, g = (np.array(KIT_PALETTE[x], float) for x in (i, j, k))
        if min(np.linalg.norm(a - b), np.linalg.norm(a - g), np.linalg.norm(b - g)) > 140:
            break
    a, b, g = KIT_PALETTE[i], KIT_PALETTE[j], KIT_PALETTE[k]
    white, dark = (235, 235, 235), (25, 25, 30)
    return (
        Kit(a, white if sum(a) < 380 else dark, a),
        Kit(b, dark if sum(b) > 380 else white, b),
        Kit(g, dark, g),
    )


@dataclass
class Actor:
    pose: Pose
    kit: Kit
    skin: tuple[int, int, int]
    ident: int = -1  # track id, used to report image boxes
    _joints: np.ndarray | None = field(default=None, repr=False, compare=False)

    def joints(self) -> np.ndarray:
        """``world_joints(pose)`` (15, 3), computed once: a moment filmed by several cameras reuses it."""
        if self._joints is None:
            self._joints = world_joints(self.pose)
        return self._joints


@dataclass
class Look:
    """Per-clip appearance: grass shades and image degradations."""

    grass: tuple[int, int, int] = (62, 128, 52)
    stripe_gain: float = 1.12
    blur_sigma: float = 0.6
    noise_std: float = 3.0
    light_drift: float = 0.06  # amplitude of the slow brightness drift
    light_period_s: float = 7.0
    light_phase: float = 0.0
    seed: int = 0
    _noise: list[np.ndarray] = field(default_factory=list, repr=False)

    @staticmethod
    def random(rng: np.random.Generator, blur_sigma: float, noise_std: float, light_drift: float) -> Look:
        g = (int(rng.integers(48, 75)), int(rng.integers(115, 145)), int(rng.integers(40, 62)))
        return Look(
            grass=g, stripe_gain=float(rng.uniform(1.06, 1.16)), blur_sigma=blur_sigma, noise_std=noise_std,
            light_drift=light_drift, light_period_s=float(rng.uniform(5, 11)),
            light_phase=float(rng.uniform(0, 2 * math.pi)), seed=int(rng.integers(0, 2**31 - 1)),
        )  # fmt: skip


_TEXTURES: dict[tuple, np.ndarray] = {}


def pitch_texture(look: Look) -> np.ndarray:
    key = (look.grass, round(look.stripe_gain, 3))
    if key in _TEXTURES:
        return _TEXTURES[key]
    s, m = TEX_SCALE, TEX_MARGIN
    w, h = int((PITCH_LENGTH + 2 * m) * s), int((PITCH_WIDTH + 2 * m) * s)
    tex = np.empty((h, w, 3), np.uint8)
    base = np.array(look.grass, float)
    light = np.clip(base * look.stripe_gain, 0, 255)
    xs = (np.arange(w) / s - m) // (PITCH_LENGTH / 20)
    tex[:] = np.where((xs.astype(int) % 2 == 0)[None, :, None], base, light).astype(np.uint8)

    def pt(x, y):
        return int(round((x + m) * s)), int(round((y + m) * s))

    white, th = (236, 236, 236), 2
    L, W = PITCH_LENGTH, PITCH_WIDTH
    cv2.rectangle(tex, pt(0, 0), pt(L, W), white, th)
    cv2.line(tex, pt(L / 2, 0), pt(L / 2, W), white, th)
    cv2.circle(tex, pt(L / 2, W / 2), int(9.15 * s), white, th)
    cv2.circle(tex, pt(L / 2, W / 2), 3, white, -1)
    for x0, sgn in ((0.0, 1.0), (L, -1.0)):
        cv2.rectangle(tex, pt(x0, W / 2 - 20.16), pt(x0 + sgn * 16.5, W / 2 + 20.16), white, th)
        cv2.rectangle(tex, pt(x0, W / 2 - 9.16), pt(x0 + sgn * 5.5, W / 2 + 9.16), white, th)
        spot = x0 + sgn * 11.0
        cv2.circle(tex, pt(spot, W / 2), 3, white, -1)
        # penalty arc: the part of the 9.15 m circle outside the box
        ang = math.degrees(math.acos(5.5 / 9.15))
        centre = 0.0 if sgn > 0 else 180.0
        cv2.ellipse(tex, pt(spot, W / 2), (int(9.15 * s), int(9.15 * s)), centre, -ang, ang, white, th)
    _TEXTURES[key] = tex
    return tex


_TEX_TO_WORLD = np.array([[1 / TEX_SCALE, 0, -TEX_MARGIN], [0, 1 / TEX_SCALE, -TEX_MARGIN], [0, 0, 1.0]])
GOAL_POSTS = [
    ((x, PITCH_WIDTH / 2 + sy * 3.66, 0.0), (x, PITCH_WIDTH / 2 + sy * 3.66, 2.44)) for x in (0.0, PITCH_LENGTH) for sy in (-1, 1)
] + [((x, PITCH_WIDTH / 2 - 3.66, 2.44), (x, PITCH_WIDTH / 2 + 3.66, 2.44)) for x in (0.0, PITCH_LENGTH)]
_GOAL_POINTS = np.array(GOAL_POSTS, float)  # (post, end, xyz)

# (joint a, joint b, width in metres, which colour)
_SEGMENTS = (
    ("l_hip", "l_knee", 0.15, "shorts"), ("l_knee", "l_foot", 0.11, "socks"),
    ("r_hip", "r_knee", 0.15, "shorts"), ("r_knee", "r_foot", 0.11, "socks"),
    ("pelvis", "neck", 0.30, "shirt"), ("l_shoulder", "r_shoulder", 0.12, "shirt"),
    ("l_shoulder", "l_elbow", 0.10, "shirt"), ("l_elbow", "l_hand", 0.08, "skin"),
    ("r_shoulder", "r_elbow", 0.10, "shirt"), ("r_elbow", "r_hand", 0.08, "skin"),
)  # fmt: skip
_SEG_IDX_L = [(J[a], J[b]) for a, b, _, _ in _SEGMENTS]
_FEET = (J["l_foot"], J["r_foot"])
_HEAD = J["head"]


def _shadow_ellipses(cam: Camera, points: list[tuple[float, float]], rx: float) -> list[tuple | None]:
    """(centre, axes) in 1/4 pixels of the shadow ellipse under each ground point (x, y), None behind the
    camera; one projection for all points (elementwise, so the same bits as one point at a time)."""
    ground = np.array([(x, y, 0.0) for x, y in points], float).reshape(-1, 3)
    dcs = matmul_exact(cam.rotation, (ground - np.asarray(cam.position)).T).T.tolist()
    squash = max(0.25, abs(math.sin(cam.tilt)) + 0.15)
    out: list[tuple | None] = []
    for dc in dcs:
        if dc[2] < 0.5:
            out.append(None)
            continue
        k = cam.focal / dc[2]
        u, v = cam.focal * dc[0] / dc[2] + cam.width / 2, cam.focal * dc[1] / dc[2] + cam.height / 2
        out.append(((int(u * 4), int(v * 4)), (max(1, int(rx * k * 4)), max(1, int(rx * k * squash * 4)))))
    return out


def _shadow(frame: np.ndarray, cam: Camera, x: float, y: float, rx: float, colour) -> None:
    """A dark ellipse on the ground under a body or the ball (foreshortened by the camera's tilt)."""
    (ellipse,) = _shadow_ellipses(cam, [(x, y)], rx)
    if ellipse is not None:
        cv2.ellipse(frame, ellipse[0], ellipse[1], 0, 0, 360, colour, -1, cv2.LINE_AA, shift=2)


def _adjugate(m: np.ndarray) -> tuple[np.ndarray, float]:
    """(adjugate, determinant) of a 3x3 matrix by cofactors: ``inv(m) = adj / det``, in plain IEEE float64
    arithmetic (no LAPACK), so the same on every CPU."""
    a = np.asarray(m, float).tolist()
    (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = a
    adj = np.array([
        [a11 * a22 - a12 * a21, a02 * a21 - a01 * a22, a01 * a12 - a02 * a11],
        [a12 * a20 - a10 * a22, a00 * a22 - a02 * a20, a02 * a10 - a00 * a12],
        [a10 * a21 - a11 * a20, a01 * a20 - a00 * a21, a00 * a11 - a01 * a10],
    ])  # fmt: skip
    det = a00 * adj[0, 0] + a01 * adj[1, 0] + a02 * adj[2, 0]
    return adj, float(det)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
_SUB = 32  # sub-pixel steps of the bilinear weights (OpenCV's INTER_TAB_SIZE)


def warp_maps(h: np.ndarray, width: int, height: int, tex_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point ``cv2.remap`` maps for warping a texture of ``tex_shape`` by homography ``h`` (texture ->
    image): the source position of every pixel in IEEE float64 numpy arithmetic (elementwise, in a fixed
    order: SIMD width does not change a bit), snapped to 1/32 pixel. Rays that miss the texture read the border."""
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    adj, det = _adjugate(h)
    inv = adj / det
    th, tw = tex_shape[:2]
    out = -2 * _SUB  # two pixels left of / above the texture: border only
    # the same elementwise operations as ever, written into preallocated buffers (fewer passes over memory)
    w = np.empty((height, width))
    np.add((inv[2, 0] * xs)[None, :], (inv[2, 1] * ys + inv[2, 2])[:, None], out=w)
    ok = None if w.min() > 1e-12 else w > 1e-12  # None: every ray meets the ground plane (the usual case)
    if ok is None:
        scale = np.divide(_SUB, w, out=w)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(ok, _SUB / np.where(ok, w, 1.0), 0.0)
    num = np.empty((height, width))
    maps = []
    for row, hi in ((0, tw), (1, th)):
        np.add((inv[row, 0] * xs)[None, :], (inv[row, 1] * ys + inv[row, 2])[:, None], out=num)
        num *= scale
        np.rint(num, out=num)
        np.clip(num, out, hi * _SUB, out=num)
        if ok is not None:
            num[~ok] = out
        maps.append(num.astype(np.int32))
    sx, sy = maps
    xy = np.empty((height, width, 2), np.int16)  # integer pixel (positions fit int16: |sx >> 5| <= texture size)
    np.right_shift(sx, 5, out=xy[..., 0], casting="unsafe")
    np.right_shift(sy, 5, out=xy[..., 1], casting="unsafe")
    sy &= _SUB - 1  # frac = (sy & 31) * 32 + (sx & 31), in place
    sy <<= 5
    sx &= _SUB - 1
    sy |= sx
    frac = sy.astype(np.uint16)
    return xy, frac


def warp_pitch(tex: np.ndarray, h: np.ndarray, width: int, height: int) -> np.ndarray:
    """``cv2.warpPerspective(tex, h, (width, height), INTER_LINEAR, BORDER_CONSTANT, STAND_RGB)``, made
    bit-reproducible: OpenCV's warp computes positions in IPP / SIMD kernels picked by the CPU (other bytes
    on other machines); here the positions come from :func:`warp_maps` and ``cv2.remap`` with fixed-point
    maps does integer-only bilinear blending (the same with IPP, SIMD or neither)."""
    xy, frac = warp_maps(h, width, height, tex.shape)
    return cv2.remap(tex, xy, frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=STAND_RGB)


def render(cam: Camera, look: Look, actors: list[Actor], ball: np.ndarray | None, frame_index: int, fps: float,
           boxes: dict[int, tuple[float, float, float, float]] | None = None) -> np.ndarray:  # fmt: skip
    """One RGB frame (H, W, 3) uint8. If ``boxes`` is given it receives {ident: (x1, y1, x2, y2)} in pixels
    for every player drawn (the tight box of the projected body, clipped to the image)."""
    gh = cam.ground_homography()
    frame = warp_pitch(pitch_texture(look), matmul_exact(gh, _TEX_TO_WORLD), cam.width, cam.height)
    # rays above the horizon never meet the ground (w <= 0 after inverting the homography): stands
    adj, det = _adjugate(gh)
    w_row = adj[2] / det
    corners = [w_row[0] * u + w_row[1] * v + w_row[2] for u in (0, cam.width) for v in (0, cam.height)]
    if min(corners) <= 0:
        us = np.arange(cam.width, dtype=np.float32)
        vs = np.arange(cam.height, dtype=np.float32)
        sky = (w_row[0] * us[None, :] + w_row[1] * vs[:, None] + w_row[2]) <= 1e-9
        frame[sky] = STAND_RGB
    grass_dark = tuple(int(c * 0.62) for c in look.grass)
    scale_px = 4.0

    # every projection below is elementwise IEEE arithmetic, so projecting all points at once gives the
    # same bits as one call per object (fewer numpy calls per frame)
    post_uv, post_d = cam.project(_GOAL_POINTS)
    for uv, d in zip(post_uv, post_d):
        if np.all(d > 0.5):
            th = max(1, int(round(0.12 * cam.focal / d.mean())))
            p = np.round(uv * scale_px).astype(np.int32)
            cv2.line(frame, tuple(p[0]), tuple(p[1]), (245, 245, 245), th, cv2.LINE_AA, shift=2)

    items: list[tuple[float, str, object]] = []
    rc = cam.rotation
    pos = np.asarray(cam.position)
    margin = 60.0
    if actors:
        feet = np.array([(a.pose.x, a.pose.y, 1.0) for a in actors])
        dcs = matmul_exact(rc, (feet - pos).T).T.tolist()  # camera coordinates of each actor's (x, y, 1 m)
        shadows = _shadow_ellipses(cam, [(a.pose.x + 0.15, a.pose.y + 0.1) for a in actors], 0.42)
        for act, dc, shadow in zip(actors, dcs, shadows):
            if dc[2] < 1.0:
                continue
            u = cam.focal * dc[0] / dc[2] + cam.width / 2
            v = cam.focal * dc[1] / dc[2] + cam.height / 2
            if not (
                -margin < u < cam.width + margin and -margin - 2 * cam.focal / dc[2] < v < cam.height + margin + cam.focal / dc[2]
            ):
                continue
            if shadow is not None:
                cv2.ellipse(frame, shadow[0], shadow[1], 0, 0, 360, grass_dark, -1, cv2.LINE_AA, shift=2)
            items.append((dc[2], "player", act))
    if ball is not None:
        _shadow(frame, cam, float(ball[0]) + 0.05, float(ball[1]) + 0.03, 0.12, grass_dark)
        d = float(matmul_exact(rc, (np.asarray(ball, float) - pos)[:, None])[2, 0])
        if d > 0.5:
            items.append((d, "ball", ball))
    items.sort(key=lambda it: -it[0])
    players = [obj for _, kind, obj in items if kind == "player"]
    if players:  # every drawn body's joints through the camera at once, split per body in drawing order
        all_uv, all_d = cam.project(np.concatenate([act.joints() for act in players]))
        n_j = len(all_uv) // len(players)
        projected = iter([(all_uv[i : i + n_j], all_d[i : i + n_j]) for i in range(0, len(all_uv), n_j)])
    for depth, kind, obj in items:
        if kind == "ball":
            uv, _ = cam.project(np.asarray(obj)[None])
            r = max(1.0, BALL_RADIUS * cam.focal / depth)
            c = tuple(int(round(x * scale_px)) for x in uv[0])
            cv2.circle(frame, c, int(round(r * scale_px)), (250, 250, 250), -1, cv2.LINE_AA, shift=2)
            if r > 2.5:
                cv2.circle(frame, c, int(round(r * scale_px)), (150, 150, 150), 1, cv2.LINE_AA, shift=2)
            continue
        act = obj
        uv, dj = next(projected)
        if np.any(dj < 0.5):
            continue
        k = cam.focal / dj
        if boxes is not None:
            m = 0.16 * float(k.max())  # half the widest limb (the torso), in pixels
            rh = HEAD_RADIUS * k[J["head"]]
            x1, y1 = uv[:, 0].min() - m, min(uv[:, 1].min() - m, uv[J["head"], 1] - rh)
            x2, y2 = uv[:, 0].max() + m, uv[:, 1].max() + m
            c = (max(x1, 0.0), max(y1, 0.0), min(x2, cam.width - 1.0), min(y2, cam.height - 1.0))
            if c[2] - c[0] >= 2 and c[3] - c[1] >= 2:  # at least a sliver of the body is in view
                boxes[act.ident] = c
        colours = {"shirt": act.kit.shirt, "shorts": act.kit.shorts, "socks": act.kit.socks, "skin": act.skin}
        p4 = np.round(uv * scale_px).astype(np.int32).tolist()
        kl, dl = k.tolist(), dj.tolist()
        order = sorted(range(len(_SEGMENTS)), key=lambda si: -(dl[_SEG_IDX_L[si][0]] + dl[_SEG_IDX_L[si][1]]))
        for si in order:  # far segments first
            ja, jb = _SEG_IDX_L[si]
            _, _, wm, col = _SEGMENTS[si]
            cv2.line(frame, p4[ja], p4[jb], colours[col], max(1, round(wm * kl[ja])), cv2.LINE_AA, shift=2)
        for foot in _FEET:
            cv2.circle(frame, p4[foot], int(max(1.0, 0.06 * kl[foot]) * scale_px), (30, 30, 30), -1, cv2.LINE_AA, shift=2)
        h = _HEAD
        rh = max(1.0, HEAD_RADIUS * kl[h])
        cv2.circle(frame, p4[h], int(rh * scale_px), act.skin, -1, cv2.LINE_AA, shift=2)
        if rh >= 2.5:
            hair = tuple(int(c * 0.35) for c in act.skin)
            top = (p4[h][0], int(p4[h][1] - rh * 0.35 * scale_px))
            cv2.ellipse(
                frame, top, (int(rh * 0.9 * scale_px), int(rh * 0.6 * scale_px)), 0, 180, 360, hair, -1, cv2.LINE_AA, shift=2
            )
    return _degrade(frame, look, frame_index, fps)


def _noise_bank(look: Look, shape: tuple[int, ...]) -> list[np.ndarray]:
    if not look._noise or look._noise[0].shape[:2] != shape[:2]:
        rng = np.random.default_rng(look.seed)
        look._noise = []
        for _ in range(4):
            n = rng.normal(0, look.noise_std, size=shape).round()
            look._noise.append(np.clip(n, 0, 255).astype(np.uint8))
            look._noise.append(np.clip(-n, 0, 255).astype(np.uint8))
    return look._noise


def light_lut(look: Look, frame_index: int, fps: float) -> np.ndarray:
    """The brightness drift of one frame as a uint8 lookup table. The gain comes from libm's ``sin`` and is
    snapped to a 2**-16 grid, then applied in float64 numpy (IEEE-exact multiply, round-half-even), so a
    last-bit difference between CPUs' ``sin`` (or SIMD paths of ``cv2.convertScaleAbs``) cannot change a pixel."""
    phase = 2 * math.pi * frame_index / (fps * look.light_period_s) + look.light_phase
    gain = round((1.0 + look.light_drift * math.sin(phase)) * 65536) / 65536
    return np.clip(np.rint(np.arange(256, dtype=np.float64) * gain), 0, 255).astype(np.uint8)


def _degrade(frame: np.ndarray, look: Look, frame_index: int, fps: float) -> np.ndarray:
    if look.blur_sigma > 0:
        frame = cv2.GaussianBlur(frame, (3, 3), look.blur_sigma)
    frame = cv2.LUT(frame, light_lut(look, frame_index, fps))  # a table lookup: the same bytes as numpy indexing
    if look.noise_std > 0:
        bank = _noise_bank(look, frame.shape)
        i = (frame_index * 2) % len(bank)
        frame = cv2.subtract(cv2.add(frame, bank[i]), bank[i + 1])
    return frame
