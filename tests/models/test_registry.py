"""The backbone registry: every backbone builds, runs and lists its blocks; input checks and errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from replaylab.models import BACKBONES, BackboneSpec, build_backbone, get_spec, input_constraints, normalisation_of, register
from replaylab.models.heads import global_pool_of
from replaylab.models.registry import module_blocks

EXPECTED = {
    "compact3d", "i3d", "csn26", "csn50", "csn101", "csn152", "r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v2_s",
    "videomae_tiny", "videomae_small", "videomae_base", "videomae_large", "videomae_giant", "slowfast_r50",
    "slowfast_r101",
}  # fmt: skip


def test_registered_names():
    assert set(BACKBONES) == EXPECTED
    assert all(isinstance(s, BackboneSpec) and s.name == n for n, s in BACKBONES.items())


@pytest.mark.parametrize("name", sorted(n for n, s in BACKBONES.items() if not s.heavy))
def test_builds_runs_and_lists_blocks(name):
    """Forward + backward (through its declared global pooling) on the smallest input each backbone takes;
    a map (B, feature_dim, *feature_grid); every trainable parameter gets a gradient; the blocks cover every
    parameter exactly once."""
    spec = get_spec(name)
    frames, size = spec.smallest_input
    spec.check(frames, size)  # the smallest input passes its own check
    model = build_backbone(name, frames=frames, size=size)
    x = torch.randn(2, 3, frames, *size)
    y = model(x)
    assert y.shape == (2, model.feature_dim, *model.feature_grid(frames, size))
    global_pool_of(model)(y).square().mean().backward()  # its declared pooling (VideoMAE: + its fc_norm)
    params = list(model.parameters())
    assert all(p.grad is not None for p in params if p.requires_grad)
    blocks = spec.blocks(model)
    assert len(blocks) >= 4
    in_blocks = [id(p) for b in blocks for p in b.parameters()]
    assert len(in_blocks) == len(set(in_blocks)) == len(params)
    assert set(in_blocks) == {id(p) for p in params}
    assert spec.norm == normalisation_of(name)


@pytest.mark.parametrize("name", sorted(n for n, s in BACKBONES.items() if not s.heavy))
def test_feature_map_shape_follows_the_declared_strides(name):
    """The map's (T', H', W') is the input divided by ``feature_strides``, rounded up (padded strided convs and
    pools) -- except S3D, whose last 2x max pool is unpadded and rounds down -- at the smallest input and at
    a second, odd-sized one (ViTs, built for one clip shape, are rebuilt at a second grid where cheap)."""
    spec = get_spec(name)
    frames, (h, w) = spec.smallest_input
    model = build_backbone(name, frames=frames, size=(h, w)).eval()
    t_st, s_h, s_w = model.feature_strides
    assert s_h == s_w and model.feature_pool in ("mean", "mean+max")
    inputs = [(frames, (h, w))]
    if name in SHAPE_BOUND:  # built for its token grid: a second grid of twice the frames and width
        if name in ("videomae_tiny", "mvit_v2_s"):
            inputs.append((2 * frames, (h, 2 * w)))
    else:
        inputs.append((frames + FRAME_STEP.get(name, 5), (h + 17, w + 31)))
    for f, size in inputs:
        if (f, size) != inputs[0]:
            model = build_backbone(name, frames=f, size=size).eval()
        with torch.no_grad():
            y = model(torch.randn(1, 3, f, *size))
        if name == "s3d":  # padded halvings round up (T / 4, H / 16), then the unpadded 2x pool rounds down
            expected = (-(-f // 4) // 2, -(-size[0] // 16) // 2, -(-size[1] // 16) // 2)
        else:
            expected = (-(-f // t_st), -(-size[0] // s_h), -(-size[1] // s_w))
        assert tuple(y.shape) == (1, model.feature_dim, *expected), (f, size)
        assert model.feature_grid(f, size) == expected


SHAPE_BOUND = {"mvit_v2_s", "videomae_tiny", "videomae_small", "videomae_base"}
FRAME_STEP = {"slowfast_r50": 8}  # frames a multiple of its alpha
STRIDES = {"compact3d": (4, 16, 16), "r3d_18": (8, 16, 16), "r2plus1d_18": (8, 16, 16), "mc3_18": (1, 16, 16),
           "s3d": (8, 32, 32), "mvit_v2_s": (2, 32, 32), "csn26": (8, 32, 32), "csn50": (8, 32, 32),
           "csn101": (8, 32, 32), "i3d": (8, 32, 32), "videomae_tiny": (2, 16, 16), "videomae_small": (2, 16, 16),
           "videomae_base": (2, 16, 16), "slowfast_r50": (8, 16, 16), "slowfast_r101": (4, 16, 16)}  # fmt: skip


def test_declared_strides():
    for name, strides in STRIDES.items():
        frames, size = get_spec(name).smallest_input
        with torch.device("meta"):
            assert build_backbone(name, frames=frames, size=size).feature_strides == strides, name


@pytest.mark.parametrize("name", sorted(n for n, s in BACKBONES.items() if s.heavy))
def test_heavy_backbones_build(name):
    """Too big to run in a unit test: built on the meta device (no memory, no init) and counted."""
    spec = get_spec(name)
    frames, size = spec.default_input
    with torch.device("meta"):
        model = build_backbone(name, frames=frames, size=size)
    n = sum(p.numel() for p in model.parameters())
    expected = {"csn152": 28.9e6, "videomae_large": 303.9e6, "videomae_giant": 1011.6e6, "slowfast_r101": 61.9e6}[name]
    assert abs(n - expected) / expected < 0.01
    assert len(spec.blocks(model)) >= 4


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet9000'.*compact3d.*videomae_tiny"):
        build_backbone("resnet9000", frames=16, size=(64, 64))
    with pytest.raises(ValueError, match="unknown backbone"):
        normalisation_of("nope")


@pytest.mark.parametrize(
    ("name", "frames", "size", "message"),
    [
        ("mvit_v2_s", 15, (64, 64), "mvit_v2_s: frames must be a multiple of 2, got 15"),
        ("mvit_v2_s", 16, (64, 80), r"mvit_v2_s: size must be multiples of 32, got \(64, 80\)"),
        ("videomae_base", 16, (60, 64), r"videomae_base: size must be multiples of 16, got \(60, 64\)"),
        ("videomae_giant", 16, (64, 64), r"videomae_giant: size must be multiples of 14, got \(64, 64\)"),
        ("videomae_tiny", 3, (32, 32), "videomae_tiny: frames must be a multiple of 2, got 3"),
        ("s3d", 4, (64, 64), "s3d: needs at least 6 frames, got 4"),
        ("s3d", 8, (16, 16), r"s3d: needs at least 17x17 pixels, got \(16, 16\)"),
        ("r3d_18", 0, (64, 64), "r3d_18: needs at least 1 frames, got 0"),
        ("compact3d", 1, (64, 64), "compact3d: needs at least 2 frames, got 1"),
    ],
)
def test_input_constraints(name, frames, size, message):
    with pytest.raises(ValueError, match=message):
        build_backbone(name, frames=frames, size=size)


def test_options_reach_the_builder_and_unknown_ones_fail():
    m = build_backbone("compact3d", frames=8, size=(32, 32), width=0.5, motion=False)
    assert m.stem[0].in_channels == 3 and m.feature_dim == 64
    with pytest.raises(ValueError, match=r"compact3d: unknown option\(s\) depth; accepted: motion, width"):
        build_backbone("compact3d", frames=8, size=(32, 32), depth=3)
    with pytest.raises(ValueError, match="videomae_tiny: pool must be 'mean' or 'cls'"):
        build_backbone("videomae_tiny", frames=2, size=(16, 16), pool="max")


def test_register_and_constraints_helper():
    check = input_constraints(min_frames=4, min_size=8, frame_multiple=4, size_multiple=8)
    check(8, (16, 24))
    for frames, size in ((2, (16, 16)), (6, (16, 16)), (8, (4, 8)), (8, (16, 20))):
        with pytest.raises(ValueError):
            check(frames, size)

    class Tiny(nn.Module):
        feature_dim = 3

        def forward(self, x):
            return x.mean(dim=(2, 3, 4))

        def blocks(self):
            return [self]

    spec = BackboneSpec(name="_test_tiny", builder=lambda *, frames, size: Tiny(), norm="imagenet", check=check,
                        description="test", default_input=(8, (16, 16)), smallest_input=(4, (8, 8)))  # fmt: skip
    try:
        register(spec)
        assert register(spec) is spec  # the same spec again is fine
        with pytest.raises(ValueError, match="already registered"):
            register(BackboneSpec(**spec.__dict__))
        assert build_backbone("_test_tiny", frames=8, size=16)(torch.ones(1, 3, 8, 16, 16)).shape == (1, 3)
        assert module_blocks(Tiny())[0].feature_dim == 3
    finally:
        BACKBONES.pop("_test_tiny", None)
    with pytest.raises(ValueError, match="norm must be one of"):
        BackboneSpec(name="x", builder=Tiny, norm="clip", check=check, description="", default_input=(8, (8, 8)),  # type: ignore[arg-type]
                     smallest_input=(8, (8, 8)))  # fmt: skip


def test_header_tool_aliases():
    from replaylab.models.registry import ALIASES, get_spec

    assert get_spec("csn") is get_spec(ALIASES["csn"]) and get_spec("vmae").norm == "videomae"
    with pytest.raises(ValueError, match=r"csn \(= csn50\)"):
        get_spec("csnn")
