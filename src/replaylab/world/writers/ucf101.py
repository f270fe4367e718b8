"""UCF101 layout: ``<Class>/v_<Class>_g<GG>_c<CC>.mp4`` plus ``ucfTrainTestlist/`` with ``classInd.txt``,
``trainlist01.txt`` (path and 1-based class index) and ``testlist01.txt`` (path only).

As in UCF101, clips of one group share their scene (pitch, kits, camera placement, actor), and split 1
puts whole groups in the test list, so no scene is seen in both training and testing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..physics import PITCH_LENGTH, PITCH_WIDTH, BallParams
from ..render import SKIN_TONES, Actor, Kit, Look, random_kits, render
from ..rig import Follow
from ..scenes import RECOGNITION_CLASSES, add_extras, make_scene
from ..video import Mp4Writer, VideoSettings


@dataclass(frozen=True)
class RecognitionRenderConfig:
    frames: int
    width: int
    height: int
    video: VideoSettings
    look: tuple[float, float, float]
    extras: int
    ball: BallParams


def clip_name(cls: str, group: int, clip: int) -> str:
    return f"{cls}/v_{cls}_g{group:02d}_c{clip:02d}.mp4"


def group_setting(seed_rng: np.random.Generator, cfg: RecognitionRenderConfig) -> dict:
    """What all clips of one group share."""
    return {
        "look": Look.random(seed_rng, *cfg.look),
        "kits": random_kits(seed_rng),
        "height": float(seed_rng.uniform(1.70, 1.95)),
        "skin": SKIN_TONES[int(seed_rng.integers(0, 4))],
        "cam_dist": float(seed_rng.uniform(11, 18)),
        "cam_height": float(seed_rng.uniform(2.5, 6.0)),
        "cam_side": float(seed_rng.uniform(0, 2 * math.pi)),
        "view_width": float(seed_rng.uniform(7.0, 10.0)),
    }


def render_clip(cls: str, group: int, clip: int, setting: dict, root: Path, cfg: RecognitionRenderConfig,
                rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """Write one clip; return 6 frames around its key moment for the contact sheet."""
    if cls not in RECOGNITION_CLASSES:
        raise ValueError(f"unknown recognition class {cls!r}")
    fps, n = cfg.video.fps, cfg.frames
    touchline = cls == "ThrowIn"
    origin = np.array([rng.uniform(20, PITCH_LENGTH - 20), -0.4 if touchline else rng.uniform(12, PITCH_WIDTH - 12)])
    heading = math.pi / 2 + rng.uniform(-0.5, 0.5) if touchline else float(rng.uniform(0, 2 * math.pi))
    scene = add_extras(make_scene(cls, n, fps, origin, heading, rng, cfg.ball), n, fps, cfg.extras, rng)
    ang = setting["cam_side"] + rng.uniform(-0.5, 0.5)
    focus0 = np.array([scene.tracks[0].x[n // 2], scene.tracks[0].y[n // 2]])
    cam_pos = (
        focus0[0] + setting["cam_dist"] * math.cos(ang),
        focus0[1] + setting["cam_dist"] * math.sin(ang),
        setting["cam_height"],
    )
    cam_op = Follow(cam_pos, cfg.width, cfg.height, setting["view_width"], stiffness=0.25)
    kits: tuple[Kit, Kit, Kit] = setting["kits"]
    heights = [setting["height"]] + list(rng.uniform(1.70, 1.95, size=len(scene.tracks) - 1))
    skins = [setting["skin"]] + [SKIN_TONES[int(rng.integers(0, 4))] for _ in range(len(scene.tracks) - 1)]
    phases = [tr.gait_phases(fps) for tr in scene.tracks]
    frames = []
    with Mp4Writer(root / clip_name(cls, group, clip), cfg.width, cfg.height, cfg.video) as video:
        for i in range(n):
            a = scene.tracks[scene.focus]
            cam = cam_op.update(np.array([a.x[i], a.y[i], 0.9]))
            actors = [Actor(tr.pose(i, float(h), fps, float(ph[i])), kits[t], sk)
                      for tr, h, ph, t, sk in zip(scene.tracks, heights, phases, scene.teams, skins)]  # fmt: skip
            frame = render(cam, setting["look"], actors, scene.ball[i], i, fps)
            video.write(frame)
            frames.append(frame)
    steps = np.linspace(n // 2 - int(0.5 * fps), min(n // 2 + int(0.6 * fps), n - 1), 6).round().astype(int)
    return [frames[s] for s in steps]


def split_lists(
    classes: list[str], groups: int, clips_per_group: int, test_groups: int
) -> tuple[list[str], list[str], list[str]]:
    """(classInd lines, trainlist01 lines, testlist01 lines): groups 1..test_groups are the test split."""
    ind = [f"{i + 1} {c}" for i, c in enumerate(classes)]
    train, test = [], []
    for i, c in enumerate(classes):
        for g in range(1, groups + 1):
            for k in range(1, clips_per_group + 1):
                name = clip_name(c, g, k)
                if g <= test_groups:
                    test.append(name)
                else:
                    train.append(f"{name} {i + 1}")
    return ind, train, test
