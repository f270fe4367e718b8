"""Tracking data as a commercial provider delivers it: jittered positions, a noisy and often missing
ball height, and dropouts where an object is not reported at all."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRACKING_COLUMNS = ("frame", "time", "track_id", "team", "jersey", "x", "y", "z", "box_x1", "box_y1", "box_x2", "box_y2")
BALL_ID = 0  # players are 1..22 (track_id = player index + 1)


@dataclass(frozen=True)
class ProviderNoise:
    position_noise_m: float = 0.08
    ball_xy_noise_m: float = 0.12
    ball_z_noise_m: float = 0.25
    ball_z_missing: float = 0.4  # fraction of frames whose ball height is not delivered (in runs)
    dropout_rate: float = 0.01  # chance per object per second that it drops out of the feed
    dropout_s: tuple[float, float] = (0.2, 1.5)


def _runs_mask(n: int, rate_per_frame: float, length: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of n frames with runs of True starting at ``rate_per_frame``."""
    mask = np.zeros(n, bool)
    starts = np.flatnonzero(rng.random(n) < rate_per_frame)
    for s in starts:
        mask[s : s + int(rng.integers(length[0], length[1] + 1))] = True
    return mask


def _smooth_noise(n: int, sigma: float, rng: np.random.Generator, corr: int = 5) -> np.ndarray:
    """Temporally correlated noise (providers' errors drift rather than flicker)."""
    raw = rng.normal(0.0, 1.0, n + corr)
    kernel = np.ones(corr) / np.sqrt(corr)
    return sigma * np.convolve(raw, kernel, mode="valid")[:n]


def provider_rows(truth, boxes: list[dict[int, tuple]], noise: ProviderNoise, rng: np.random.Generator) -> list[tuple]:
    """Rows of the canonical tracking table (see TRACKING_COLUMNS) for one match.

    ``boxes[f]`` maps player index -> image box in the broadcast video at frame f (absent: not in view).
    """
    F, P = truth.x.shape
    fps = truth.fps
    rows: list[tuple] = []
    drop_len = (max(1, int(noise.dropout_s[0] * fps)), max(1, int(noise.dropout_s[1] * fps)))
    rate = noise.dropout_rate / fps
    # ball: xy noise, z noise and long missing runs
    bx = truth.ball[:, 0] + _smooth_noise(F, noise.ball_xy_noise_m, rng)
    by = truth.ball[:, 1] + _smooth_noise(F, noise.ball_xy_noise_m, rng)
    bz = truth.ball[:, 2] + rng.normal(0.0, noise.ball_z_noise_m, F)
    bz = np.maximum(bz, 0.0)
    mean_run = 2.0 * fps
    z_missing = _runs_mask(F, noise.ball_z_missing / mean_run / max(1e-6, 1 - noise.ball_z_missing), (int(fps), int(3 * fps)), rng) \
        if noise.ball_z_missing > 0 else np.zeros(F, bool)  # fmt: skip
    ball_drop = _runs_mask(F, rate, drop_len, rng)
    px = truth.x + np.stack([_smooth_noise(F, noise.position_noise_m, rng) for _ in range(P)], 1)
    py = truth.y + np.stack([_smooth_noise(F, noise.position_noise_m, rng) for _ in range(P)], 1)
    player_drop = np.stack([_runs_mask(F, rate, drop_len, rng) for _ in range(P)], 1)
    teams = ["home" if pl.team == 0 else "away" for pl in truth.players]
    for f in range(F):
        t = round(f / fps, 3)
        if not ball_drop[f]:
            z = "" if z_missing[f] else round(float(bz[f]), 2)
            rows.append((f, t, BALL_ID, "ball", "", round(float(bx[f]), 2), round(float(by[f]), 2), z, "", "", "", ""))
        bf = boxes[f] if f < len(boxes) else {}
        for p in range(P):
            if player_drop[f, p]:
                continue
            box = bf.get(p)
            b = tuple(round(float(v), 1) for v in box) if box else ("", "", "", "")
            rows.append(
                (f, t, p + 1, teams[p], truth.players[p].number, round(float(px[f, p]), 2), round(float(py[f, p]), 2), "", *b)
            )
    return rows
