"""Contact sheets: an image grid (rows = examples, columns = moments) with a title bar, so a person can see
what the synthetic world generates (one per episode type) or what the clip cache holds (one per class)."""

from __future__ import annotations

import cv2
import numpy as np


def contact_sheet(title: str, rows: list[list[np.ndarray]], thumb_h: int = 96) -> np.ndarray:
    """Grid image (RGB uint8) of the rows of frames with a title bar."""
    if not rows:
        raise ValueError(f"contact sheet {title!r} has no examples")
    out_rows = []
    for frames in rows:
        thumbs = [
            cv2.resize(f, (max(1, round(f.shape[1] * thumb_h / f.shape[0])), thumb_h), interpolation=cv2.INTER_AREA)
            for f in frames
        ]
        gap = np.full((thumb_h, 2, 3), 255, np.uint8)
        row = np.concatenate([x for t in thumbs for x in (t, gap)][:-1], 1)
        out_rows.append(row)
    width = max(r.shape[1] for r in out_rows)
    out_rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in out_rows]
    bar = np.full((22, width, 3), 255, np.uint8)
    cv2.putText(bar, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([bar] + out_rows, 0)
