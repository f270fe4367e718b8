"""Writing an RGB image as a PNG file (OpenCV's encoder), atomically."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..io import atomic_path

__all__ = ["save_png"]


def save_png(path: str | os.PathLike, image_rgb: np.ndarray) -> None:
    """``image_rgb`` (H, W, 3) uint8 to ``path``; the file appears only once complete."""
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f"could not encode {path}")
        Path(tmp).write_bytes(buf.tobytes())
