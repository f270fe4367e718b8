"""Generated matches in the match layout (tracking.csv + events.csv, no video) with header split CSVs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from football_fixture import random_match, write_match

SPLIT_OF = {"m0": "train", "m1": "train", "m2": "train", "m3": "val", "m4": "test"}


def write_splits(splits_dir: Path, split_of: dict[str, str]) -> None:
    splits_dir.mkdir(parents=True, exist_ok=True)
    cols = ("sample_id", "group", "label", "label_name", "sources", "center_s", "point_x", "point_y", "meta")
    for split in ("train", "val", "test"):
        with open(splits_dir / f"{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for mid, s in sorted(split_of.items()):
                if s == split:
                    w.writerow((f"{mid}_000010", mid, 1, "header", f"{mid}/video.mp4", "0.4", "", "", "{}"))


@pytest.fixture(scope="session")
def matches_dir(tmp_path_factory) -> tuple[Path, Path]:
    """(matches root, header splits dir): five 60-s matches, three train, one val, one test."""
    base = tmp_path_factory.mktemp("filters")
    root = base / "matches"
    for i, mid in enumerate(SPLIT_OF):
        write_match(root / mid, random_match(100 + i), seed=i)
    write_splits(base / "splits" / "header", SPLIT_OF)
    return root, base / "splits" / "header"
