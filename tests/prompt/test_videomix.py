from __future__ import annotations

import pytest
import torch

from replaylab.prompt.videomix import videomix
from replaylab.prompt.visual import SplitImageEncoder


def _targets(b: int, c: int = 3) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.arange(b) % c, c).float()


def test_temporal_mix_takes_a_span_of_frames_from_the_partner():
    x = torch.arange(4.0).view(4, 1, 1).repeat(1, 8, 2)  # clip i is all i
    y = _targets(4)
    out, t = videomix(x, y, kind="temporal", grid=2, generator=torch.Generator().manual_seed(3))
    for i in range(4):
        vals = out[i, :, 0]
        other = vals[vals != i]
        share = len(other) / 8
        if share:
            partner = int(other[0])
            assert (other == partner).all()
            idx = torch.nonzero(vals != i).squeeze(1)
            assert (idx.diff() == 1).all()  # one contiguous span
            assert torch.allclose(t[i], (1 - share) * y[i] + share * y[partner])
    assert torch.allclose(t.sum(dim=1), torch.ones(4))


def test_spatial_mix_pastes_a_box_of_patches_and_keeps_the_class_token():
    g = 4
    x = torch.arange(3.0).view(3, 1, 1, 1).repeat(1, 2, 1 + g * g, 5)
    y = _targets(3)
    out, t = videomix(x, y, kind="spatial", grid=g, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :, 0], x[:, :, 0])
    for i in range(3):
        changed = (out[i, 0, 1:, 0] != i).view(g, g)
        share = changed.float().mean().item()
        if share:
            rows, cols = torch.nonzero(changed, as_tuple=True)
            assert changed[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a box
            # the same box in every frame
            assert torch.equal((out[i, 1, 1:, 0] != i).view(g, g), changed)
            partner = int(out[i, 0, 1:, 0][changed.flatten()][0])
            assert torch.allclose(t[i], (1 - share) * y[i] + share * y[partner])


def test_spatial_mix_at_the_input_equals_pasting_pixels(tiny_clip):
    enc = SplitImageEncoder(tiny_clip.visual, split=0)
    imgs = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        tokens = enc.prefix(imgs).unsqueeze(1)  # (2, 1, 17, 64)
    for seed in range(20):  # a draw in which clip 0 takes a box from clip 1 (the only other clip)
        mixed, _ = videomix(tokens, _targets(2, 2), kind="spatial", grid=4, generator=torch.Generator().manual_seed(seed))
        changed = (mixed[0, 0, 1:] != tokens[0, 0, 1:]).any(dim=1).view(4, 4)
        if changed.any():
            break
    assert changed.any()
    px = imgs[0].clone()
    mask = changed.repeat_interleave(8, 0).repeat_interleave(8, 1)  # the box in pixels (8-pixel patches)
    px[:, mask] = imgs[1][:, mask]
    with torch.no_grad():
        want = enc.prefix(px.unsqueeze(0))
    assert torch.allclose(mixed[0, 0], want[0], atol=1e-5)


def test_bad_kind_and_shape():
    with pytest.raises(ValueError, match="expected spatial or temporal"):
        videomix(torch.zeros(2, 2, 5, 3), _targets(2), kind="cutmix", grid=2, generator=torch.Generator())
    with pytest.raises(ValueError, match="needs patch tokens"):
        videomix(torch.zeros(2, 2, 3), _targets(2), kind="spatial", grid=2, generator=torch.Generator())
