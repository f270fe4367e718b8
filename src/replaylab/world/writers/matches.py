"""Match footage: broadcast MP4 + provider tracking + ground-truth events + per-frame camera.

One pass over the frames renders and encodes the video and, on the side, collects what the other
writers need from the same pictures: image boxes for the tracking table and AVA keyframes, header
clips (.npy) around events, and contact-sheet thumbnails.

Layout (``matches/<match_id>/``)::

    video.mp4      H.264, 25 fps, broadcast camera following play
    tracking.csv   frame,time,track_id,team,jersey,x,y,z,box_x1,box_y1,box_x2,box_y2   (track_id 0 = ball)
    events.csv     frame,time,type,subtype,track_id,team,ball_x,ball_y,ball_z          (ground truth)
    camera.csv     frame,time,cam_x,cam_y,cam_z,pan,tilt,roll,focal,width,height
    truth.npz      noise-free state (MatchTruth.save)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ...geometry.camera import Camera
from ...io import write_csv
from ..actions import labels_at
from ..match import MatchTruth
from ..render import SKIN_TONES, Actor, Look, random_kits, render
from ..rig import Follow, broadcast_position
from ..tracking import TRACKING_COLUMNS, ProviderNoise, provider_rows
from ..video import Mp4Writer, VideoSettings

EVENT_COLUMNS = ("frame", "time", "type", "subtype", "track_id", "team", "ball_x", "ball_y", "ball_z")
CAMERA_COLUMNS = ("frame", "time", "cam_x", "cam_y", "cam_z", "pan", "tilt", "roll", "focal", "width", "height")
HEADER_NEGATIVE_TYPES = ("kick", "chest", "thigh", "fly_past", "jump_miss", "bounce", "throw_in")


@dataclass(frozen=True)
class MatchRenderConfig:
    width: int
    height: int
    view_width_m: float
    video: VideoSettings
    look: tuple[float, float, float]  # blur sigma, noise std, light drift
    noise: ProviderNoise
    clip_frames: int  # header .npy clips
    clip_size: int
    clip_crop_px: int
    negatives_per_positive: float
    random_negative_share: float
    sheet_examples: int
    sheet_steps: int
    min_box_px: float


@dataclass
class CropRequest:
    key: tuple
    frames: list[int]
    centre: tuple[float, float]
    crop_px: int
    size: int
    out: list[np.ndarray] = field(default_factory=list)


@dataclass
class MatchProducts:
    match_id: str
    n_frames: int
    events: dict[str, int]
    keyframes: list[tuple[int, int, tuple[float, float, float, float], list[int]]]  # (second, track_id, box, labels)
    header_clips: list[dict]
    sheets: dict[str, list[list[np.ndarray]]]
    width: int
    height: int


def _crop(frame: np.ndarray, centre: tuple[float, float], crop_px: int, size: int) -> np.ndarray:
    """Square window of crop_px centred on ``centre``, shifted to stay inside the frame, resized to size."""
    h, w = frame.shape[:2]
    c = min(crop_px, h, w)
    x0 = int(round(min(max(centre[0] - c / 2, 0), w - c)))
    y0 = int(round(min(max(centre[1] - c / 2, 0), h - c)))
    win = frame[y0 : y0 + c, x0 : x0 + c]
    return cv2.resize(win, (size, size), interpolation=cv2.INTER_AREA) if c != size else win.copy()


def _choose_clip_events(truth: MatchTruth, cfg: MatchRenderConfig, rng: np.random.Generator) -> list[tuple[int, str, int]]:
    """(frame, event type, player) for the header .npy clips: every header, look-alikes and random play."""
    half = cfg.clip_frames // 2
    ok = [e for e in truth.events if half <= e.frame < truth.n_frames - cfg.clip_frames + half]
    pos = [(e.frame, "header", e.player) for e in ok if e.type == "header"]
    n_neg = int(round(cfg.negatives_per_positive * max(len(pos), 1)))
    n_random = int(round(n_neg * cfg.random_negative_share))
    alike = [(e.frame, e.type, e.player) for e in ok if e.type in HEADER_NEGATIVE_TYPES]
    if len(alike) > n_neg - n_random:
        alike = [alike[i] for i in sorted(rng.choice(len(alike), n_neg - n_random, replace=False))]
    busy = np.zeros(truth.n_frames, bool)
    for e in truth.events:
        busy[max(e.frame - int(truth.fps), 0) : e.frame + int(truth.fps)] = True
    free = np.flatnonzero(~busy[half : truth.n_frames - cfg.clip_frames + half]) + half
    rand = [(int(f), "random", -1) for f in rng.choice(free, min(n_random + (n_neg - n_random - len(alike)), len(free)), replace=False)] \
        if len(free) else []  # fmt: skip
    chosen: dict[int, tuple[int, str, int]] = {}
    for item in pos + alike + rand:  # one clip per frame; a header wins over anything at the same frame
        chosen.setdefault(item[0], item)
    return sorted(chosen.values())


def render_match(
    truth: MatchTruth, cfg: MatchRenderConfig, out_dir: Path, clips_dir: Path, rng: np.random.Generator
) -> MatchProducts:
    out_dir.mkdir(parents=True, exist_ok=True)
    fps, F, P = truth.fps, truth.n_frames, len(truth.players)
    kits = random_kits(rng)
    look = Look.random(rng, *cfg.look)
    cam_op = Follow(broadcast_position(rng), cfg.width, cfg.height, cfg.view_width_m, stiffness=0.06)
    kit_of = [kits[2] if pl.goalkeeper else kits[pl.team] for pl in truth.players]
    skins = [SKIN_TONES[pl.skin] for pl in truth.players]
    cameras: list[Camera] = []
    boxes: list[dict[int, tuple]] = []
    # camera path first (it only depends on the ball), so crop centres are known before rendering
    aim = truth.ball[0].copy()
    for f in range(F):
        b = truth.ball[f]
        aim += 0.15 * (np.array([b[0], b[1], 0.0]) - aim)
        speed = float(np.hypot(*(truth.ball[min(f + 1, F - 1), :2] - b[:2]))) * fps
        cameras.append(cam_op.update(aim, cfg.view_width_m * min(1.0 + 0.02 * speed, 1.5)))
    requests: list[CropRequest] = []
    clip_rows: list[dict] = []
    half = cfg.clip_frames // 2
    for f, kind, player in _choose_clip_events(truth, cfg, rng):
        uv, _ = cameras[f].project(truth.ball[f][None])
        clip_id = f"{truth.match_id}_{f:06d}"  # no label in the name: the CSV holds it
        requests.append(CropRequest(("clip", clip_id), list(range(f - half, f - half + cfg.clip_frames)), tuple(uv[0]),
                                    cfg.clip_crop_px, cfg.clip_size))  # fmt: skip
        clip_rows.append({"clip_id": clip_id, "video_id": truth.match_id, "frame": f, "event": kind,
                          "track_id": player + 1 if player >= 0 else "", "label": int(kind == "header")})  # fmt: skip
    per_type: dict[str, int] = {}
    steps = np.linspace(-0.5, 0.5, cfg.sheet_steps) * fps
    for e in truth.events:
        n = per_type.get(e.type, 0)
        frames = [int(round(e.frame + s)) for s in steps]
        if n >= cfg.sheet_examples or frames[0] < 0 or frames[-1] >= F:
            continue
        per_type[e.type] = n + 1
        uv, _ = cameras[e.frame].project(truth.ball[e.frame][None])
        requests.append(CropRequest(("sheet", e.type, n), frames, tuple(uv[0]), cfg.clip_crop_px, 128))
    by_frame: dict[int, list[CropRequest]] = {}
    for r in requests:
        for f in r.frames:
            by_frame.setdefault(f, []).append(r)

    keyframe_set = {int(round(s * fps)): s for s in range(1, int(F / fps) - 1)}
    with Mp4Writer(out_dir / "video.mp4", cfg.width, cfg.height, cfg.video) as video:
        for f in range(F):
            actors = [Actor(truth.pose(f, p), kit_of[p], skins[p], ident=p) for p in range(P)]
            fb: dict[int, tuple] = {}
            frame = render(cameras[f], look, actors, truth.ball[f], f, fps, boxes=fb)
            boxes.append(fb)
            video.write(frame)
            for r in by_frame.get(f, ()):
                r.out.append(_crop(frame, r.centre, r.crop_px, r.size))
    # keyframes: visible people with their labels (AVA)
    keyframes = []
    window = int(round(0.3 * fps))
    for f, sec in keyframe_set.items():
        for p, box in boxes[f].items():
            if box[3] - box[1] < cfg.min_box_px or box[2] - box[0] < 0.2 * (box[3] - box[1]):
                continue  # too small, or mostly outside the frame
            labels = labels_at(truth.action[:, p], truth.speed[:, p], truth.lift[:, p], f, window)
            keyframes.append((sec, p + 1, box, labels))
    # tracking, events, camera, truth
    write_csv(out_dir / "tracking.csv", TRACKING_COLUMNS, provider_rows(truth, boxes, cfg.noise, rng))
    team = ["home" if pl.team == 0 else "away" for pl in truth.players]
    write_csv(out_dir / "events.csv", EVENT_COLUMNS, [
        (e.frame, round(e.frame / fps, 3), e.type, e.subtype, e.player + 1, team[e.player], *np.round(truth.ball[e.frame], 3))
        for e in truth.events
    ])  # fmt: skip
    write_csv(out_dir / "camera.csv", CAMERA_COLUMNS, [
        (f, round(f / fps, 3), *(round(v, 4) for v in c.as_row().values()), c.width, c.height) for f, c in enumerate(cameras)
    ])  # fmt: skip
    tmp = out_dir / ".truth.npz.tmp"
    truth.save(tmp)
    tmp.replace(out_dir / "truth.npz")
    clips_dir.mkdir(parents=True, exist_ok=True)
    for r, row in zip([r for r in requests if r.key[0] == "clip"], clip_rows):
        arr = np.stack(r.out)
        assert arr.shape == (cfg.clip_frames, cfg.clip_size, cfg.clip_size, 3)
        np.save(clips_dir / f"{row['clip_id']}.npy", arr)
    sheets: dict[str, list[list[np.ndarray]]] = {}
    for r in requests:
        if r.key[0] == "sheet":
            sheets.setdefault(r.key[1], []).append(r.out)
    counts: dict[str, int] = {}
    for e in truth.events:
        counts[e.type] = counts.get(e.type, 0) + 1
    return MatchProducts(truth.match_id, F, counts, keyframes, clip_rows, sheets, cfg.width, cfg.height)
