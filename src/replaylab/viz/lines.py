"""A line chart with error bars as a PNG (OpenCV drawing, no plotting library): accuracy against shots."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from .png import save_png

__all__ = ["line_chart", "save_line_chart"]

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194)]


def line_chart(x_labels: Sequence[str], series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]], *,
               title: str, ylabel: str, size: tuple[int, int] = (560, 420)) -> np.ndarray:  # fmt: skip
    """RGB uint8 image. ``series``: name -> (values, lows, highs) at the evenly spaced ``x_labels``, y in [0, 1];
    NaN values are not drawn. Error bars span low..high."""
    w, h = size
    font = cv2.FONT_HERSHEY_SIMPLEX
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 50, 20, 40, 50 + 16 * len(series)
    pw, ph = w - left - right, h - top - bottom
    cv2.putText(img, title, (10, 22), font, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    for i in range(6):
        v = i / 5
        y = int(top + ph * (1 - v))
        cv2.line(img, (left, y), (left + pw, y), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.1f}", (12, y + 4), font, 0.35, (60, 60, 60), 1, cv2.LINE_AA)
    n = len(x_labels)
    xs = [int(left + pw * (0.5 if n == 1 else 0.08 + 0.84 * i / (n - 1))) for i in range(n)]
    for x, lab in zip(xs, x_labels):
        cv2.putText(img, str(lab), (x - 8, top + ph + 16), font, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (left, top - 6), font, 0.35, (60, 60, 60), 1, cv2.LINE_AA)

    def y_of(v: float) -> int:
        return int(top + ph * (1 - min(max(v, 0.0), 1.0)))

    for k, (name, (vals, lows, highs)) in enumerate(series.items()):
        c = COLOURS[k % len(COLOURS)]
        pts = [(x, y_of(v)) for x, v in zip(xs, vals) if np.isfinite(v)]
        for a, b in zip(pts, pts[1:]):
            cv2.line(img, a, b, c, 2, cv2.LINE_AA)
        for x, v, lo, hi in zip(xs, vals, lows, highs):
            if np.isfinite(v):
                cv2.circle(img, (x, y_of(v)), 3, c, -1, cv2.LINE_AA)
                if np.isfinite(lo) and np.isfinite(hi):
                    cv2.line(img, (x + 2 * k, y_of(lo)), (x + 2 * k, y_of(hi)), c, 1)
        ly = top + ph + 34 + 16 * k
        cv2.line(img, (left, ly - 4), (left + 20, ly - 4), c, 2)
        cv2.putText(img, name, (left + 26, ly), font, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
    return img


def save_line_chart(path: str | os.PathLike, x_labels: Sequence[str], series, *, title: str, ylabel: str) -> None:
    save_png(path, line_chart(x_labels, series, title=title, ylabel=ylabel))
