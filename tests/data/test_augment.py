"""Normalisation tables and clip augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from replaylab.data.augment import NORMALISATION, AugmentConfig, augment, normalisation, normalise


def _clip(t=6, h=16, w=20):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_normalisation_names_and_values():
    assert normalisation("imagenet") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert normalisation("videomae") == ((0.5,) * 3, (0.5,) * 3)
    with pytest.raises(KeyError, match="unknown name 'vit'"):
        normalisation("vit")
    x = torch.full((2, 4, 4, 3), 127.5)
    out = normalise(x, *NORMALISATION["videomae"])
    assert out.shape == (3, 2, 4, 4) and torch.allclose(out, torch.zeros_like(out))


def test_identity_config_changes_nothing():
    clip = _clip()
    out = augment(clip, AugmentConfig(flip=0.0), torch.Generator().manual_seed(0))
    assert torch.equal(out, torch.from_numpy(clip).float())


def test_flip_mirrors_every_frame():
    clip = _clip()
    out = augment(clip, AugmentConfig(flip=1.0), torch.Generator().manual_seed(0))
    assert torch.equal(out, torch.from_numpy(clip[:, :, ::-1].copy()).float())


def test_temporal_jitter_shifts_with_edge_repeat():
    clip = np.stack([np.full((4, 4, 3), i * 10, np.uint8) for i in range(8)])
    seen = set()
    for s in range(40):
        out = augment(clip, AugmentConfig(flip=0.0, temporal_jitter=2), torch.Generator().manual_seed(s))
        firsts = out[:, 0, 0, 0].numpy() / 10
        shift = int(firsts[3] - 3)
        assert -2 <= shift <= 2
        assert np.array_equal(firsts, np.clip(np.arange(8) + shift, 0, 7))
        seen.add(shift)
    assert seen == {-2, -1, 0, 1, 2}


def test_rotation_and_photometric_stay_in_range_and_are_seeded():
    clip = _clip()
    cfg = AugmentConfig(flip=0.5, rotate_deg=10, brightness=0.3, contrast=0.3, temporal_jitter=1)
    a = augment(clip, cfg, torch.Generator().manual_seed(5))
    b = augment(clip, cfg, torch.Generator().manual_seed(5))
    c = augment(clip, cfg, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (6, 16, 20, 3) and a.min() >= 0 and a.max() <= 255


def test_small_rotation_keeps_the_centre():
    clip = np.zeros((2, 21, 21, 3), np.uint8)
    clip[:, 10, 10] = 255
    out = augment(clip, AugmentConfig(flip=0.0, rotate_deg=8), torch.Generator().manual_seed(1))
    assert out[0, 10, 10, 0] > 100  # the rotation is about the centre
