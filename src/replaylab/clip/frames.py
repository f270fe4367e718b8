"""Video frames as CLIP image input, and which frames of a clip to use.

* :func:`frames_to_input`: uint8 clips ``(N, T, H, W, C)`` -> float ``(N, T, 3, S, S)``: scaled to [0, 1], resized
  (bilinear, antialiased) when the frame size differs, normalised with OpenAI's CLIP mean / std;
* :func:`pick_frames`: ``frames`` indices spread evenly over a clip, for one of several temporal views.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

__all__ = ["OPENAI_MEAN", "OPENAI_STD", "frames_to_input", "pick_frames"]

#: Per-channel (RGB) mean and std of CLIP's pre-training images, on the [0, 1] scale.
OPENAI_MEAN: tuple[float, float, float] = tuple(OPENAI_DATASET_MEAN)
OPENAI_STD: tuple[float, float, float] = tuple(OPENAI_DATASET_STD)


def frames_to_input(*, clips: torch.Tensor | np.ndarray, image_size: int | tuple[int, int]) -> torch.Tensor:
    """uint8 RGB clips ``(N, T, H, W, 3)`` -> float32 ``(N, T, 3, S, S)`` for ``encode_image`` (``image_size`` an
    int S, or an ``(height, width)`` pair as open_clip's ``model.visual.image_size``)."""
    x = torch.from_numpy(np.ascontiguousarray(clips)) if isinstance(clips, np.ndarray) else clips
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"clips must be (N, T, H, W, 3), got shape {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        raise ValueError(f"clips must be uint8 (0..255), got {x.dtype}")
    size = (int(image_size), int(image_size)) if isinstance(image_size, (int, np.integer)) else tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    n, t, h, w, c = x.shape
    frames = x.reshape(n * t, h, w, c).permute(0, 3, 1, 2).float().div_(255.0)
    if (h, w) != size:
        frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(OPENAI_MEAN, dtype=frames.dtype, device=frames.device).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD, dtype=frames.dtype, device=frames.device).view(1, 3, 1, 1)
    return ((frames - mean) / std).reshape(n, t, c, *size)


def pick_frames(*, total: int, frames: int, view: int = 0, views: int = 1) -> list[int]:
    """``frames`` increasing indices into a clip of ``total`` frames, one per stride of ``total / frames``.
    View ``v`` of ``views`` sits at offset ``(v + 0.5) / views`` of the stride, so the views tile it and view 0
    of 1 is the centred-uniform sampling; averaging predictions over views is the usual test-time sampling."""
    if total < 1 or frames < 1:
        raise ValueError(f"total and frames must be positive, got total={total}, frames={frames}")
    if frames > total:
        raise ValueError(f"cannot pick {frames} distinct frames from a clip of {total}")
    if views < 1 or not 0 <= view < views:
        raise ValueError(f"view must be in 0..{views - 1} (views={views}), got {view}")
    # floor((i + (view + 0.5) / views) * total / frames), in integers
    return [((2 * i * views + 2 * view + 1) * total) // (2 * frames * views) for i in range(frames)]
