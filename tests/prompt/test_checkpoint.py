from __future__ import annotations

import pytest
import torch

from replaylab.prompt.checkpoint import load_into, read_checkpoint, save_checkpoint


class _M(torch.nn.Module):
    def __init__(self, n: int = 3):
        super().__init__()
        self.ctx = torch.nn.Parameter(torch.randn(n, 4))


def test_round_trip_and_folder(tmp_path):
    src = _M()
    save_checkpoint(tmp_path / "run" / "last.pt", method="video_coop", state_dict=src.state_dict(), config={"k": 4})
    dst = _M()
    assert load_into(dst, tmp_path / "run", method="video_coop") == {"k": 4}  # a folder: its last.pt
    assert torch.equal(dst.ctx, src.ctx)
    assert read_checkpoint(tmp_path / "run" / "last.pt")["method"] == "video_coop"


def test_mismatches_are_named(tmp_path):
    save_checkpoint(tmp_path / "a.pt", method="video_coop", state_dict=_M().state_dict(), config={})
    with pytest.raises(ValueError, match="a video_coop checkpoint cannot continue a dual_coop run"):
        load_into(_M(), tmp_path / "a.pt", method="dual_coop")
    with pytest.raises(ValueError, match=r"ctx has shape \(3, 4\), this run's is \(5, 4\)"):
        load_into(_M(5), tmp_path / "a.pt", method="video_coop")
    other = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="learned parameters differ"):
        load_into(other, tmp_path / "a.pt", method="video_coop")


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="prompt checkpoint not found"):
        read_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a readable prompt checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a prompt checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
