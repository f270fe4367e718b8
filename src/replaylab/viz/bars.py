"""A horizontal bar chart as a PNG (OpenCV drawing, no plotting library): the filters' feature importance."""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from .png import save_png

__all__ = ["bar_chart", "save_bar_chart"]


def bar_chart(names: Sequence[str], values: Sequence[float], *, title: str, xlabel: str, width: int = 900) -> np.ndarray:
    """RGB uint8 image: one labelled bar per name, in the given order, scaled to the largest value."""
    if len(names) != len(values):
        raise ValueError(f"{len(names)} names for {len(values)} values")
    v = np.asarray(values, dtype=np.float64)
    if v.size and (not np.isfinite(v).all() or (v < 0).any()):
        raise ValueError("bar values must be finite and >= 0")
    font, row_h, top, label_w, right = cv2.FONT_HERSHEY_SIMPLEX, 18, 40, 230, 90
    height = top + row_h * max(len(names), 1) + 34
    img = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 24), font, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    vmax = float(v.max()) if v.size and v.max() > 0 else 1.0
    span = width - label_w - right
    for i, (name, val) in enumerate(zip(names, v.tolist())):
        y = top + i * row_h
        cv2.putText(img, str(name)[:32], (8, y + 13), font, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
        w = round(span * val / vmax)
        cv2.rectangle(img, (label_w, y + 3), (label_w + max(w, 1), y + row_h - 3), (70, 130, 180), -1)
        cv2.putText(img, f"{val:.3g}", (label_w + w + 5, y + 13), font, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.line(img, (label_w, top), (label_w, top + row_h * len(names)), (0, 0, 0), 1)
    cv2.putText(img, xlabel, (label_w, height - 12), font, 0.45, (30, 30, 30), 1, cv2.LINE_AA)
    return img


def save_bar_chart(path: str | os.PathLike, names: Sequence[str], values: Sequence[float], *, title: str, xlabel: str) -> None:
    save_png(path, bar_chart(names, values, title=title, xlabel=xlabel))
