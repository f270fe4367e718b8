"""SlowFast: architecture (pathways, laterals, strides), Slow frame sampling, BN freezing, and checkpoints in
the mmaction2, PySlowFast and AlphAction layouts loaded into a classifier of another class count."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from replaylab.models import CheckpointError, build_backbone, build_classifier, create_slowfast, load_pretrained
from replaylab.models.slowfast import SlowFast


def _perturb_bn(model: nn.Module) -> None:
    """Non-default BN statistics and affine parameters (and lateral biases), so that loading them is visible."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, nn.Conv3d) and m.bias is not None:
                m.bias.uniform_(-0.1, 0.1)


@pytest.fixture(scope="module")
def sources():
    """One perturbed SlowFast-R50 per lateral form (built once: the model has 34M parameters)."""
    torch.manual_seed(7)
    out = {}
    for fusion, pad in (("conv", True), ("conv_bn_relu", True), ("conv_bias", False)):
        m = create_slowfast(depth=50, fusion=fusion, stem_pool_padding=pad).eval()
        _perturb_bn(m)
        out[fusion] = m
    return out


# ------------------------------------------------------------------------------------------ architecture
def test_depths_and_parameter_counts():
    with torch.device("meta"):
        r50, r101 = create_slowfast(depth=50), create_slowfast(depth=101)
    assert [len(getattr(r101.slow_path, f"layer{i}")) for i in range(1, 5)] == [3, 4, 23, 3]
    assert [len(getattr(r50.fast_path, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    n50 = sum(p.numel() for p in r50.parameters())
    n101 = sum(p.numel() for p in r101.parameters())
    assert n50 == 33_557_288 and n50 + 2304 * 400 + 400 == 34_479_288  # published: 34.5M with the K400 head
    assert n101 == 61_904_040
    assert r50.feature_dim == r101.feature_dim == 2304
    with pytest.raises(ValueError, match="depth must be one of"):
        create_slowfast(depth=34)
    with pytest.raises(ValueError, match="fusion must be one of"):
        create_slowfast(fusion="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="res5_stride must be 1 or 2"):
        create_slowfast(res5_stride=4)


def test_kernels_strides_and_lateral_channels():
    with torch.device("meta"):
        m = create_slowfast(depth=50, alpha=4)
    s, f = m.slow_path, m.fast_path
    assert s.conv1.conv.kernel_size == (1, 7, 7) and f.conv1.conv.kernel_size == (5, 7, 7)
    assert s.conv1.conv.stride == f.conv1.conv.stride == (1, 2, 2) and s.maxpool.stride == (1, 2, 2)
    assert s.conv1.conv.out_channels == 64 and f.conv1.conv.out_channels == 8
    # temporal kernels of the first bottleneck conv: Slow (1, 1, 3, 3), Fast 3 everywhere
    assert [getattr(s, f"layer{i}")[1].conv1.conv.kernel_size[0] for i in range(1, 5)] == [1, 1, 3, 3]
    assert [getattr(f, f"layer{i}")[1].conv1.conv.kernel_size[0] for i in range(1, 5)] == [3, 3, 3, 3]
    # laterals: (5, 1, 1), temporal stride alpha, 2x the Fast channels, no bias / BN (mmaction2)
    fast_channels = [8, 32, 64, 128]
    for name, c in zip(m.lateral_names, fast_channels):
        lat = getattr(s, name)
        assert (lat.conv.in_channels, lat.conv.out_channels) == (c, 2 * c), name
        assert lat.conv.kernel_size == (5, 1, 1) and lat.conv.stride == (4, 1, 1) and lat.conv.padding == (2, 0, 0)
        assert lat.conv.bias is None and lat.bn is None
    assert not hasattr(s, "layer4_lateral") and not hasattr(f, "conv1_lateral")
    # each Slow stage takes its own channels + the lateral's
    assert [getattr(s, f"layer{i}")[0].conv1.conv.in_channels for i in range(1, 5)] == [80, 320, 640, 1280]
    assert [getattr(s, f"layer{i}")[0].downsample.conv.in_channels for i in range(1, 5)] == [80, 320, 640, 1280]
    assert [getattr(f, f"layer{i}")[0].conv1.conv.in_channels for i in range(1, 5)] == [8, 32, 64, 128]
    assert s.layer4[0].conv2.conv.stride == (1, 1, 1) and s.layer4[0].conv2.conv.dilation == (1, 2, 2)
    assert s.layer3[0].conv2.conv.stride == (1, 2, 2) and s.layer3[0].conv2.conv.dilation == (1, 1, 1)
    assert m.feature_strides == (4, 16, 16)
    with torch.device("meta"):
        m32 = create_slowfast(res5_stride=2)
        pyslowfast = create_slowfast(fusion="conv_bn_relu")
        alphaction = create_slowfast(fusion="conv_bias", stem_pool_padding=False)
    assert m32.feature_strides == (8, 32, 32) and m32.slow_path.layer4[0].conv2.conv.dilation == (1, 1, 1)
    assert isinstance(pyslowfast.slow_path.layer2_lateral.bn, nn.BatchNorm3d)
    assert alphaction.slow_path.conv1_lateral.conv.bias is not None and alphaction.slow_path.maxpool.padding == 0


@pytest.mark.parametrize(("res5_stride", "grids"), [(1, ((1, 2, 2), (2, 4, 4))), (2, ((1, 1, 1), (2, 2, 2)))])
def test_map_shapes_and_feature_grid(res5_stride, grids):
    m = build_backbone("slowfast_r50", frames=8, size=(32, 32), res5_stride=res5_stride).eval()
    for (frames, side), grid in zip(((8, 32), (16, 64)), grids):
        with torch.no_grad():
            y = m(torch.randn(1, 3, frames, side, side))
        assert tuple(y.shape) == (1, 2304, *grid) and m.feature_grid(frames, (side, side)) == grid
    with torch.no_grad():
        slow, fast = m.pathways(torch.randn(1, 3, 16, 64, 64))
    assert slow.shape == (1, 2048, *grids[1]) and fast.shape == (1, 256, 16, *grids[1][1:])
    assert m.feature_grid(16, (45, 70)) == (2, -(-45 // (16 * res5_stride)), -(-70 // (16 * res5_stride)))


def test_unpadded_stem_pool_grid(sources):
    m = sources["conv_bias"]
    with torch.no_grad():
        y = m(torch.randn(1, 3, 8, 64, 96))
    # conv 64 -> 32, unpadded pool -> 15, res3 8, res4 4; width 96 -> 48 -> 23 -> 12 -> 6
    assert tuple(y.shape[2:]) == m.feature_grid(8, (64, 96)) == (1, 4, 6)


def test_input_checks():
    with pytest.raises(ValueError, match="slowfast_r50: frames must be a positive multiple of alpha=8, got 12"):
        build_backbone("slowfast_r50", frames=12, size=(32, 32))
    with pytest.raises(ValueError, match=r"slowfast_r101: needs at least 32x32 pixels, got \(16, 16\)"):
        build_backbone("slowfast_r101", frames=8, size=(16, 16))
    with torch.device("meta"):
        m = build_backbone("slowfast_r101", frames=12, size=(32, 32))  # the r101 default alpha is 4
    assert m.alpha == 4 and m.feature_strides == (4, 16, 16)
    with pytest.raises(ValueError, match="alpha=4, got 6"):
        m.check_frames(6)


def test_slow_pathway_sees_every_alpha_th_frame(sources):
    m = sources["conv"]
    stems = {}
    hooks = [
        m.slow_path.conv1.register_forward_hook(lambda mod, i, o: stems.__setitem__("slow_in", i[0].clone())),
        m.slow_path.maxpool.register_forward_hook(lambda mod, i, o: stems.__setitem__("slow", o.clone())),
        m.fast_path.maxpool.register_forward_hook(lambda mod, i, o: stems.__setitem__("fast", o.clone())),
    ]
    x = torch.randn(1, 3, 16, 32, 32)

    def run(clip):
        with torch.no_grad():
            y = m(clip)
        return y, dict(stems)

    y0, base = run(x)
    assert torch.equal(base["slow_in"], x[:, :, [0, 8]])
    unsampled = x.clone()
    unsampled[:, :, 3] += 1.0  # frame 3: only the Fast pathway sees it
    y1, changed = run(unsampled)
    assert torch.equal(changed["slow"], base["slow"]) and not torch.equal(changed["fast"], base["fast"])
    assert not torch.equal(y1[:, 2048:], y0[:, 2048:])  # the Fast part of the map moves
    sampled = x.clone()
    sampled[:, :, 8] += 1.0  # frame 8 = alpha: the Slow pathway's second frame
    _, changed = run(sampled)
    assert not torch.equal(changed["slow"][:, :, 1], base["slow"][:, :, 1])
    assert torch.equal(changed["slow"][:, :, 0], base["slow"][:, :, 0])  # 1x7x7 stem: frames stay apart
    for h in hooks:
        h.remove()


def test_blocks_cover_both_pathways_and_the_laterals():
    with torch.device("meta"):
        m = create_slowfast()
    blocks = m.blocks()
    assert len(blocks) == 5
    ids = [id(p) for b in blocks for p in b.parameters()]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    assert {id(p) for p in m.slow_path.conv1_lateral.parameters()} <= {id(p) for p in blocks[0].parameters()}
    assert {id(p) for p in m.slow_path.layer3_lateral.parameters()} <= {id(p) for p in blocks[3].parameters()}
    assert {id(p) for p in m.fast_path.layer4.parameters()} <= {id(p) for p in blocks[4].parameters()}


def test_bn_frozen_keeps_statistics_and_affine_fixed():
    m = build_backbone("slowfast_r50", frames=8, size=(32, 32), bn_frozen=True, fusion="conv_bn_relu").train()
    bns = [x for x in m.modules() if isinstance(x, nn.BatchNorm3d)]
    assert bns and all(not bn.training and not bn.weight.requires_grad for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    m(torch.randn(2, 3, 8, 32, 32)).square().mean().backward()
    assert all(torch.equal(b, bn.running_mean) for b, bn in zip(before, bns))
    assert m.slow_path.conv1.conv.weight.grad is not None and m.slow_path.conv1_lateral.conv.weight.grad is not None
    assert bns[0].weight.grad is None


# ------------------------------------------------------------------------------------------ checkpoints
def _to_pyslowfast(key: str) -> str:
    """This model's (mmaction2) key -> PySlowFast's, written out independently of the loader's rules."""
    path = {"slow_path": "0", "fast_path": "1"}
    m = re.match(r"^(slow_path|fast_path)\.conv1\.(conv|bn)\.(\w+)$", key)
    if m:
        return f"s1.pathway{path[m[1]]}_stem.{m[2]}.{m[3]}"
    m = re.match(r"^slow_path\.(conv1|layer(\d))_lateral\.(conv|bn)\.(\w+)$", key)
    if m:
        stage = 1 if m[1] == "conv1" else int(m[2]) + 1
        return f"s{stage}_fuse.{'conv_f2s' if m[3] == 'conv' else 'bn'}.{m[4]}"
    m = re.match(r"^(slow_path|fast_path)\.layer(\d)\.(\d+)\.downsample\.(conv|bn)\.(\w+)$", key)
    if m:
        return f"s{int(m[2]) + 1}.pathway{path[m[1]]}_res{m[3]}.branch1{'_bn' if m[4] == 'bn' else ''}.{m[5]}"
    m = re.match(r"^(slow_path|fast_path)\.layer(\d)\.(\d+)\.conv([123])\.(conv|bn)\.(\w+)$", key)
    assert m, key
    branch = "abc"[int(m[4]) - 1] + ("_bn" if m[5] == "bn" else "")
    return f"s{int(m[2]) + 1}.pathway{path[m[1]]}_res{m[3]}.branch2.{branch}.{m[6]}"


def _to_alphaction(key: str) -> str:
    """This model's key -> AlphAction's (``alphaction/modeling/backbone/slowfast.py``, ``common_blocks.py``)."""
    pathway = {"slow_path": "slow", "fast_path": "fast"}
    m = re.match(r"^(slow_path|fast_path)\.conv1\.(conv|bn)\.(\w+)$", key)
    if m:
        return f"{pathway[m[1]]}.{'conv1' if m[2] == 'conv' else 'bn1'}.{m[3]}"
    m = re.match(r"^slow_path\.(conv1|layer(\d))_lateral\.conv\.(\w+)$", key)
    if m:
        return f"fast.Tconv{1 if m[1] == 'conv1' else int(m[2]) + 1}.conv.{m[3]}"
    m = re.match(r"^(slow_path|fast_path)\.layer(\d)\.(\d+)\.downsample\.(\w+\.\w+)$", key)
    if m:
        return f"{pathway[m[1]]}.res_nl{m[2]}.res_{m[3]}.shortcut.{m[4]}"
    m = re.match(r"^(slow_path|fast_path)\.layer(\d)\.(\d+)\.(conv[123]\.\w+\.\w+)$", key)
    assert m, key
    return f"{pathway[m[1]]}.res_nl{m[2]}.res_{m[3]}.btnk.{m[4]}"


def _assert_backbone_equal(model: SlowFast, src: SlowFast) -> None:
    theirs = src.state_dict()
    for k, v in model.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(v, theirs[k]), k


def test_mmaction2_checkpoint_with_another_class_count(tmp_path, sources):
    src = sources["conv"]
    state = {"backbone." + k: v for k, v in src.state_dict().items()}
    state["cls_head.fc_cls.weight"] = torch.randn(400, 2304)
    state["cls_head.fc_cls.bias"] = torch.randn(400)
    path = tmp_path / "slowfast_r50_4x16x1_kinetics400.pth"
    torch.save({"meta": {"mmcv_version": "1.3.0", "CLASSES": None}, "state_dict": state}, path)
    model = build_classifier(backbone="slowfast_r50", num_classes=7, frames=8, size=(32, 32), pretrained=str(path)).eval()
    report = model.load_report
    assert report.skipped_head == ["cls_head.fc_cls.weight", "cls_head.fc_cls.bias"]
    assert any(m.startswith("head skipped: checkpoint cls_head.fc_cls.weight (400, 2304)") for m in report.messages)
    assert not report.missing and not report.unexpected
    _assert_backbone_equal(model.backbone, src)
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x), src(x))
    assert model.head.weight.shape == (7, 2304) and not model.head.bias.detach().any()


def test_pyslowfast_checkpoint_with_another_class_count(tmp_path, sources):
    src = sources["conv_bn_relu"]
    state = {_to_pyslowfast(k): v for k, v in src.state_dict().items()}
    assert "s1.pathway0_stem.conv.weight" in state and "s1_fuse.conv_f2s.weight" in state and "s4_fuse.bn.running_var" in state
    assert "s2.pathway0_res0.branch1_bn.weight" in state and "s5.pathway1_res2.branch2.c_bn.bias" in state
    state["head.projection.weight"] = torch.randn(400, 2304)
    state["head.projection.bias"] = torch.randn(400)
    path = tmp_path / "SLOWFAST_4x16_R50.pyth"
    torch.save({"epoch": 196, "model_state": state, "cfg": "MODEL:\n  ARCH: slowfast\n"}, path)
    model = build_classifier(backbone="slowfast_r50", num_classes=7, frames=8, size=(32, 32), pretrained=str(path),
                             backbone_options={"fusion": "conv_bn_relu"}).eval()  # fmt: skip
    report = model.load_report
    assert report.skipped_head == ["head.projection.weight", "head.projection.bias"]
    assert any("head skipped: checkpoint head.projection.weight (400, 2304)" in m for m in report.messages)
    assert any(re.fullmatch(r"PySlowFast layout: renamed \d+ keys to mmaction2 names", m) for m in report.messages)
    assert not report.missing and not report.unexpected
    _assert_backbone_equal(model.backbone, src)
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x), src(x))
    # the same file into mmaction2-style laterals (no BN + ReLU) is refused, naming the option
    with pytest.raises(
        CheckpointError, match=re.escape(f"{path}: ") + r".*fusion='conv_bn_relu'.*PySlowFast.*option fusion='conv_bn_relu'"
    ):
        build_classifier(backbone="slowfast_r50", num_classes=7, frames=8, size=(32, 32), pretrained=str(path))


def test_alphaction_checkpoint_into_a_bare_backbone(tmp_path, sources):
    src = sources["conv_bias"]
    # AlphAction's FrozenBatchNorm3d keeps no num_batches_tracked; its detector has ROI-head tensors too
    state = {"backbone." + _to_alphaction(k): v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert "backbone.slow.res_nl4.res_0.shortcut.bn.running_mean" in state and "backbone.fast.Tconv4.conv.bias" in state
    state["roi_heads.action.predictor.cls_score.weight"] = torch.randn(80, 1024)
    path = tmp_path / "resnet50_4x16f_baseline.pth"
    torch.save({"model": state, "iteration": 90000}, path)
    model = build_backbone("slowfast_r50", frames=8, size=(32, 32), fusion="conv_bias", stem_pool_padding=False).eval()
    report = load_pretrained(model, path)
    assert any(m.startswith("AlphAction layout: renamed") for m in report.messages)
    assert not report.missing and report.unexpected == ["roi_heads.action.predictor.cls_score.weight"]
    _assert_backbone_equal(model, src)
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), src(x))


def test_lateral_kernel_of_the_checkpoint_must_match(tmp_path):
    src = create_slowfast(fusion_kernel=7)
    assert src.slow_path.layer2_lateral.conv.kernel_size == (7, 1, 1) and src.slow_path.layer2_lateral.conv.padding == (3, 0, 0)
    path = tmp_path / "slowfast_fusion7.pth"
    torch.save({"state_dict": {"backbone." + k: v for k, v in src.state_dict().items()}}, path)
    with pytest.raises(CheckpointError, match="temporal kernel 7 .*fusion_kernel=5; build it with the option fusion_kernel=7"):
        load_pretrained(build_backbone("slowfast_r50", frames=8, size=(32, 32)), path)
    model = build_backbone("slowfast_r50", frames=8, size=(32, 32), fusion_kernel=7)
    report = load_pretrained(model, path)
    assert not report.missing and not report.unexpected
    with pytest.raises(ValueError, match="fusion_kernel must be odd"):
        create_slowfast(fusion_kernel=4)


def _to_pytorchvideo(key: str) -> str:
    """This model's key -> pytorchvideo's ``create_slowfast`` (``blocks.{stage}.multipathway_blocks.{pathway}``)."""
    path = {"slow_path": "0", "fast_path": "1"}
    kind = {"conv": "conv", "bn": "norm"}
    m = re.match(r"^(slow_path|fast_path)\.conv1\.(conv|bn)\.(\w+)$", key)
    if m:
        return f"blocks.0.multipathway_blocks.{path[m[1]]}.{kind[m[2]]}.{m[3]}"
    m = re.match(r"^slow_path\.(conv1|layer(\d))_lateral\.(conv|bn)\.(\w+)$", key)
    if m:
        stage = 0 if m[1] == "conv1" else int(m[2])
        return f"blocks.{stage}.multipathway_fusion.{'conv_fast_to_slow' if m[3] == 'conv' else 'norm'}.{m[4]}"
    m = re.match(r"^(slow_path|fast_path)\.layer(\d)\.(\d+)\.downsample\.(conv|bn)\.(\w+)$", key)
    if m:
        return f"blocks.{m[2]}.multipathway_blocks.{path[m[1]]}.res_blocks.{m[3]}.branch1_{kind[m[4]]}.{m[5]}"
    m = re.match(r"^(slow_path|fast_path)\.layer(\d)\.(\d+)\.conv([123])\.(conv|bn)\.(\w+)$", key)
    assert m, key
    return f"blocks.{m[2]}.multipathway_blocks.{path[m[1]]}.res_blocks.{m[3]}.branch2.{kind[m[5]]}_{'abc'[int(m[4]) - 1]}.{m[6]}"


def test_pytorchvideo_checkpoint_with_another_class_count(tmp_path, sources):
    src = sources["conv_bn_relu"]
    state = {_to_pytorchvideo(k): v for k, v in src.state_dict().items()}
    assert "blocks.3.multipathway_fusion.conv_fast_to_slow.weight" in state
    assert "blocks.4.multipathway_blocks.1.res_blocks.0.branch1_norm.running_var" in state
    state["blocks.6.proj.weight"] = torch.randn(400, 2304)
    state["blocks.6.proj.bias"] = torch.randn(400)
    path = tmp_path / "SLOWFAST_8x8_R50.pyth"
    torch.save({"model_state": state}, path)
    model = build_classifier(backbone="slowfast_r50", num_classes=3, frames=8, size=(32, 32), pretrained=str(path),
                             backbone_options={"fusion": "conv_bn_relu"}).eval()  # fmt: skip
    report = model.load_report
    assert report.skipped_head == ["blocks.6.proj.weight", "blocks.6.proj.bias"]
    assert any(m.startswith("pytorchvideo layout: renamed") for m in report.messages)
    assert not report.missing and not report.unexpected
    _assert_backbone_equal(model.backbone, src)
