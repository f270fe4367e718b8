from __future__ import annotations

import numpy as np
import pytest
import torch

from replaylab.clip.frames import frames_to_input
from replaylab.data.samples import AdapterError
from replaylab.prompt.bank import TokenBank, load_split
from replaylab.prompt.visual import SplitImageEncoder


def test_load_split_reads_the_split_in_its_order(prompt_world):
    root, _ = prompt_world
    s = load_split(root / "cache/recognition.h5", root / "splits/recognition/test.csv", name="test")
    assert s.clips.dtype == np.uint8 and s.clips.shape[1:] == (8, 32, 32, 3)
    assert len(s.ids) == len(s.labels) == len(s.clips) and s.classes == ["Header", "Kick", "ThrowIn"]
    rows = (root / "splits/recognition/test.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == s.ids


def test_load_split_names_missing_clips(prompt_world, tmp_path):
    root, _ = prompt_world
    text = (root / "splits/recognition/test.csv").read_text().splitlines()
    head, first = text[0], text[1].split(",")
    first[0] = "Header/v_missing.mp4"
    (tmp_path / "bad.csv").write_text("\n".join([head, ",".join(first)]) + "\n")
    with pytest.raises(AdapterError, match="bad.csv: 1 clips are not in"):
        load_split(root / "cache/recognition.h5", tmp_path / "bad.csv", name="bad")


def test_bank_encodes_once_and_matches_the_encoder(prompt_world, tiny_clip):
    root, _ = prompt_world
    s = load_split(root / "cache/recognition.h5", root / "splits/recognition/test.csv", name="test")
    enc = SplitImageEncoder(tiny_clip.visual, split=1)
    bank = TokenBank(enc, batch_frames=8, progress=False)
    tok = bank.tokens(s, np.array([1, 0]))
    assert tok.shape == (2, 8, 17, 64)
    with torch.no_grad():
        want = enc.prefix(frames_to_input(clips=s.clips[[1]], image_size=32).flatten(0, 1))
    assert torch.allclose(tok[0], want, atol=1e-5)
    assert len(bank._memo) == 2
    bank.tokens(s, np.array([0]))
    assert len(bank._memo) == 2
