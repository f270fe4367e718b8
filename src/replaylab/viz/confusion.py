"""A confusion matrix as a PNG, drawn with OpenCV (no plotting library needed): the foul reports' plots."""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

from .png import save_png

__all__ = ["confusion_image", "confusion_png"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_size(text: str, scale: float) -> tuple[int, int]:
    (w, h), base = cv2.getTextSize(text, _FONT, scale, 1)
    return w, h + base


def confusion_image(
    matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, title: str = "", cell: int = 44
) -> np.ndarray:
    """RGB uint8 image of a confusion matrix (rows = true class, columns = predicted): each cell shows its
    count, shaded by the share of its row (so per-class recall reads off the diagonal)."""
    m = np.asarray(matrix)
    if m.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix of shape {m.shape} does not fit {len(rows)} row and {len(cols)} column labels")
    scale = 0.42
    left = max(_text_size(r, scale)[0] for r in rows) + 14
    top = max(_text_size(c, scale)[0] for c in cols) + 14 + 26
    h, w = top + cell * len(rows) + 26, left + cell * len(cols) + 10
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, title, (6, 17), _FONT, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    share = m / np.maximum(m.sum(1, keepdims=True), 1)
    for i in range(len(rows)):
        for j in range(len(cols)):
            y0, x0 = top + i * cell, left + j * cell
            shade = int(255 - 200 * share[i, j])
            colour = (255, shade, shade) if i != j else (shade, 255, shade)  # RGB: misses red, hits green
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), colour, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), (200, 200, 200), 1)
            text = str(int(m[i, j]))
            tw, th = _text_size(text, scale + 0.08)
            cv2.putText(
                img, text, (x0 + (cell - tw) // 2, y0 + (cell + th) // 2 - 2), _FONT, scale + 0.08, (20, 20, 20), 1, cv2.LINE_AA
            )
        tw, th = _text_size(rows[i], scale)
        cv2.putText(
            img, rows[i], (left - tw - 8, top + i * cell + (cell + th) // 2 - 2), _FONT, scale, (20, 20, 20), 1, cv2.LINE_AA
        )
    for j, c in enumerate(cols):  # column labels written sideways
        tw, th = _text_size(c, scale)
        label = np.full((th + 4, tw + 4, 3), 255, np.uint8)
        cv2.putText(label, c, (2, th - 2), _FONT, scale, (20, 20, 20), 1, cv2.LINE_AA)
        label = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)
        x0 = left + j * cell + (cell - label.shape[1]) // 2
        y0 = top - 6 - label.shape[0]
        img[y0 : y0 + label.shape[0], x0 : x0 + label.shape[1]] = np.minimum(
            img[y0 : y0 + label.shape[0], x0 : x0 + label.shape[1]], label
        )
    cv2.putText(img, "predicted ->  (rows: true class)", (left, h - 8), _FONT, 0.38, (90, 90, 90), 1, cv2.LINE_AA)
    return img


def confusion_png(
    path: str | os.PathLike, matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, title: str = ""
) -> None:
    """Write :func:`confusion_image` to ``path`` (atomically)."""
    save_png(path, confusion_image(matrix, rows, cols, title=title))
