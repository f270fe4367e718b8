"""Repository paths and the tiny params used by the pipeline and world tests (importable: ``from repo_fixtures import ...``)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TINY_PARAMS = """\
seed: 7
synthesize:
  out_dir: data/raw/synthetic
  workers: 2
  matches: {count: 2, duration_s: 24, width: 320, height: 180}
  fouls:
    splits: {train: 8, valid: 3, test: 3}
    clip_frames: 36
    contact_frame: 20
    width: 128
    height: 72
    ambiguous_fraction: 0.2
  recognition: {classes: [Header, Kick, ThrowIn], groups: 3, clips_per_group: 2, test_groups: 1, frames: 20, width: 96, height: 72}
  actions: {val_matches: 1}
  header_clips: {frames: 8, size: 32, crop_px: 64}
  contact_sheets: {examples: 2, steps: 4}
"""


def tiny_params(tmp: Path) -> Path:
    p = tmp / "params.yaml"
    p.write_text(TINY_PARAMS)
    return p
