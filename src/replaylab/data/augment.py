"""Per-backbone input normalisation and train-time clip augmentation (one set of random parameters per
clip, applied identically to all its frames)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

# (mean, std) per channel, RGB, for pixels scaled to [0, 1]
NORMALISATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # CSN, most 2D / 3D CNNs
    "kinetics": ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),  # torchvision video models
    "videomae": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "inception": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # DeepMind I3D (TF Inception): RGB in [-1, 1]
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}


def normalisation(name: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    if name not in NORMALISATION:
        raise KeyError(f"normalisation: unknown name {name!r} ({', '.join(NORMALISATION)})")
    return NORMALISATION[name]


@dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5  # probability of a horizontal flip
    rotate_deg: float = 0.0  # rotation drawn from [-rotate_deg, rotate_deg]
    brightness: float = 0.0  # brightness factor drawn from [1 - b, 1 + b]
    contrast: float = 0.0  # contrast factor drawn from [1 - c, 1 + c]
    temporal_jitter: int = 0  # shift the clip by up to this many frames (edge frames repeat)


def augment(clip_thwc_uint8, cfg: AugmentConfig, gen: torch.Generator):
    """Augmented copy of a uint8 (T, H, W, C) clip, still uint8-range float (T, H, W, C) in [0, 255].

    Geometry (time shift, flip, rotation about the centre with replicated borders) runs on the uint8
    frames with OpenCV, photometry (brightness, contrast) in float; one random draw per clip."""
    x = np.asarray(clip_thwc_uint8)
    t = x.shape[0]

    def uniform(a: float) -> float:
        return (torch.rand((), generator=gen).item() * 2 - 1) * a

    if cfg.temporal_jitter > 0:
        shift = int(torch.randint(-cfg.temporal_jitter, cfg.temporal_jitter + 1, (), generator=gen))
        x = x[np.clip(np.arange(t) + shift, 0, t - 1)]
    if cfg.flip > 0 and torch.rand((), generator=gen).item() < cfg.flip:
        x = x[:, :, ::-1]
    if cfg.rotate_deg > 0:
        h, w = x.shape[1:3]
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), uniform(cfg.rotate_deg), 1.0)
        x = np.stack([cv2.warpAffine(np.ascontiguousarray(f), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                      .reshape(f.shape) for f in x])  # fmt: skip
    out = torch.from_numpy(np.ascontiguousarray(x)).float()
    if cfg.brightness > 0:
        out = out * (1.0 + uniform(cfg.brightness))
    if cfg.contrast > 0:
        mean = out.mean()
        out = (out - mean) * (1.0 + uniform(cfg.contrast)) + mean
    return out.clamp_(0.0, 255.0)


def normalise(x_thwc: torch.Tensor, mean, std) -> torch.Tensor:
    """float (T, H, W, C) in [0, 255] -> normalised (C, T, H, W)."""
    x = x_thwc.permute(3, 0, 1, 2).div(255.0)
    m = torch.tensor(mean, dtype=x.dtype).view(3, 1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(3, 1, 1, 1)
    return (x - m) / s
