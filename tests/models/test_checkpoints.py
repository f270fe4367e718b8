"""Loading local checkpoints: torchvision, VideoMAE-v2 (fine-tuned and pre-trained), mmaction2 CSN, this
project's own, directories and safetensors; head skipping; refusing checkpoints that do not fit."""

from __future__ import annotations

import argparse
import logging

import pytest
import torch
from torch import nn
from torchvision.models.video import mvit_v2_s, r3d_18, s3d

from replaylab.models import CheckpointError, build_backbone, build_classifier, find_checkpoint_file, load_pretrained
from replaylab.models.checkpoints import convert_trusted_checkpoint
from replaylab.models.checkpoints import main as checkpoints_main


def _perturb_bn(model: nn.Module) -> None:
    """Non-default BN statistics, so that loading them is visible in the outputs."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)


@pytest.fixture(scope="module")
def torchvision_r3d(tmp_path_factory):
    torch.manual_seed(3)
    net = r3d_18(weights=None).eval()
    _perturb_bn(net)
    path = tmp_path_factory.mktemp("tv") / "r3d_18-b3a52bd7.pth"
    torch.save(net.state_dict(), path)
    return net, path


# ------------------------------------------------------------------------------------------ torchvision
def test_torchvision_state_dict_round_trip(torchvision_r3d, caplog):
    net, path = torchvision_r3d
    with caplog.at_level(logging.INFO, logger="replaylab.models.checkpoints"):
        model = build_classifier(backbone="r3d_18", num_classes=400, frames=4, size=(32, 32), pretrained=str(path)).eval()
    report = model.load_report
    assert report.path == str(path) and not report.missing and not report.unexpected and not report.skipped_head
    assert "head.weight" in report.loaded and "backbone.layer4.1.conv2.0.weight" in report.loaded
    assert str(path) in caplog.text
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(x))
    theirs = net.state_dict()
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, theirs[k]), k


def test_head_of_another_class_count_is_skipped(torchvision_r3d):
    net, path = torchvision_r3d
    torch.manual_seed(5)
    model = build_classifier(backbone="r3d_18", num_classes=2, frames=4, size=(32, 32))
    fresh = model.head.weight.clone()
    with torch.no_grad():
        model.head.weight.fill_(7.0)  # whatever the head held is replaced by a fresh initialisation
    report = load_pretrained(model, path)
    assert report.skipped_head == ["fc.weight", "fc.bias"]
    msg = next(m for m in report.messages if m.startswith("head skipped"))
    assert "fc.weight (400, 512)" in msg and "head.weight (2, 512)" in msg
    assert not torch.equal(model.head.weight, torch.full_like(fresh, 7.0)) and model.head.weight.abs().max() < 0.1
    assert torch.equal(model.backbone.stem[0].weight, net.stem[0].weight)
    assert "head.weight" not in report.loaded


def test_shape_mismatch_and_unrelated_checkpoints_raise_naming_the_file(torchvision_r3d, tmp_path):
    _, path = torchvision_r3d
    mc3 = build_classifier(backbone="mc3_18", num_classes=400, frames=4, size=(32, 32))
    with pytest.raises(CheckpointError, match=rf"{path}: does not fit backbone mc3_18: .* e\.g\. layer2\.0\.conv1\.0\.weight"):
        load_pretrained(mc3, path)
    # without strict_backbone the tensors that fit load and the others are reported
    report = load_pretrained(mc3, path, strict_backbone=False)
    assert "backbone.stem.0.weight" in report.loaded and "backbone.layer2.0.conv1.0.weight" in report.missing
    assert any("another shape" in m for m in report.messages)

    other = tmp_path / "unrelated.pt"
    torch.save({"encoder.layers.0.weight": torch.zeros(3, 3), "fc.weight": torch.zeros(2, 3)}, other)
    with pytest.raises(CheckpointError, match=rf"{other}: not a checkpoint of backbone compact3d: only 0 of its"):
        load_pretrained(build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32)), other)


def test_s3d_conv_head_and_a_bare_backbone(tmp_path):
    net = s3d(weights=None)
    path = tmp_path / "s3d.pth"
    torch.save(net.state_dict(), path)
    model = build_classifier(backbone="s3d", num_classes=400, frames=8, size=(32, 32))
    report = load_pretrained(model, path)
    assert torch.equal(model.head.weight, net.classifier[1].weight.flatten(1)) and not report.unexpected
    bare = build_backbone("s3d", frames=8, size=(32, 32))
    report = load_pretrained(bare, path)
    assert report.skipped_head == ["classifier.1.weight", "classifier.1.bias"] and len(report.loaded) == len(bare.state_dict())


def test_mvit_relative_positions_are_resampled(tmp_path):
    """A torchvision mvit_v2_s state dict (16x224x224 layout, random values) into an MViT built for 4x32x32."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in mvit_v2_s(weights=None).state_dict().items()}
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(s, generator=g) * 0.02 for k, s in shapes.items()}
    path = tmp_path / "mvit_v2_s.pth"
    torch.save(state, path)
    model = build_classifier(backbone="mvit_v2_s", num_classes=400, frames=4, size=(32, 32), pretrained=str(path))
    report = model.load_report
    assert any("resampled" in m and "relative position" in m for m in report.messages)
    assert not report.missing and not report.unexpected
    ours = model.backbone.state_dict()
    assert ours["blocks.0.attn.rel_pos_h"].shape[0] == 15 and state["blocks.0.attn.rel_pos_h"].shape[0] == 111
    assert torch.equal(ours["blocks.5.attn.qkv.weight"], state["blocks.5.attn.qkv.weight"])
    assert torch.equal(model.head.weight, state["head.1.weight"])


# ------------------------------------------------------------------------------------------ VideoMAE
def _videomae_pretraining_checkpoint(path, *, frames: int, pos_embed: str = "learned") -> dict[str, torch.Tensor]:
    """A VideoMAE-v2 pre-training checkpoint as released: ``model`` wrapper, ``encoder.`` prefix, decoder
    keys, VideoMAE's ``q_bias`` / ``v_bias`` and layer-scale ``gamma_1`` / ``gamma_2``."""
    torch.manual_seed(11)
    enc = build_backbone("videomae_tiny", frames=frames, size=(32, 32), pos_embed=pos_embed, init_values=0.1)
    state = {}
    for k, v in enc.state_dict().items():
        v = v + 0.05 * torch.randn_like(v)  # nothing left at its initial value (q/v biases, norms ...)
        state["encoder." + k.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2")] = v
    state.pop("encoder.fc_norm.weight")
    state.pop("encoder.fc_norm.bias")
    state["encoder.norm.weight"] = torch.ones(192)  # the pre-training encoder ends in norm, not fc_norm
    state["encoder.norm.bias"] = torch.zeros(192)
    state |= {"decoder.blocks.0.attn.qkv.weight": torch.randn(288, 96), "decoder.norm.weight": torch.ones(96),
              "decoder.head.weight": torch.randn(1536, 96), "encoder_to_decoder.weight": torch.randn(96, 192),
              "mask_token": torch.zeros(1, 1, 96)}  # fmt: skip
    torch.save({"model": state, "epoch": 800, "args": {"model": "pretrain_videomae_tiny"}}, path)
    return state


def test_videomae_pretraining_checkpoint_with_another_frame_count(tmp_path):
    path = tmp_path / "vit_t_k710_pretrain.pth"
    saved = _videomae_pretraining_checkpoint(path, frames=4)  # 2x2x2 tokens
    torch.manual_seed(0)
    random_init = build_classifier(backbone="videomae_tiny", num_classes=2, frames=8, size=(32, 32),
                                   backbone_options={"pos_embed": "learned", "init_values": 0.1}).eval()  # fmt: skip
    torch.manual_seed(0)
    model = build_classifier(backbone="videomae_tiny", num_classes=2, frames=8, size=(32, 32), pretrained=str(path),
                             backbone_options={"pos_embed": "learned", "init_values": 0.1}).eval()  # fmt: skip
    report = model.load_report
    assert any("decoder" in m for m in report.messages)
    assert any("pos_embed resampled from a 2x2x2 to a 4x2x2 token grid" in m for m in report.messages)
    assert report.unexpected == ["norm.weight", "norm.bias"]  # mean pooling uses fc_norm, which stays as initialised
    assert set(report.missing) == {"backbone.fc_norm.weight", "backbone.fc_norm.bias"}
    ours = model.backbone.state_dict()
    assert torch.equal(ours["blocks.1.attn.q_bias"], saved["encoder.blocks.1.attn.q_bias"])
    assert torch.equal(ours["blocks.1.attn.v_bias"], saved["encoder.blocks.1.attn.v_bias"])
    assert torch.equal(ours["blocks.2.ls2.gamma"], saved["encoder.blocks.2.gamma_2"])
    for k, v in saved.items():
        name = k.removeprefix("encoder.").replace(".gamma_1", ".ls1.gamma").replace(".gamma_2", ".ls2.gamma")
        if k.startswith("encoder.") and name in ours and ours[name].shape == v.shape:
            assert torch.equal(ours[name], v), k
    pos = ours["pos_embed"].reshape(1, 4, 2, 2, 192)
    src = saved["encoder.pos_embed"].reshape(1, 2, 2, 2, 192)
    torch.testing.assert_close(pos[:, 0], src[:, 0])  # trilinear, half-pixel: the first new step equals the first old one
    torch.testing.assert_close(pos[:, 1], 0.75 * src[:, 0] + 0.25 * src[:, 1])
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model.backbone(x), random_init.backbone(x))


def test_videomae_sinusoidal_checkpoint_and_finetuned_head(tmp_path):
    """A fine-tuned VideoMAE-v2 layout (bare, ``module`` wrapper, 400-class ``head``, no pos_embed saved)."""
    src = build_classifier(backbone="videomae_tiny", num_classes=400, frames=4, size=(32, 32))
    state = {k.removeprefix("backbone."): v for k, v in src.state_dict().items()}
    path = tmp_path / "vit_t_k400_ft.pth"
    torch.save({"module": state}, path)
    model = build_classifier(backbone="videomae_tiny", num_classes=400, frames=8, size=(32, 32), pretrained=str(path))
    assert not model.load_report.missing and not model.load_report.unexpected
    assert torch.equal(model.head.weight, src.head.weight) and torch.equal(
        model.backbone.fc_norm.weight, src.backbone.fc_norm.weight
    )
    assert model.backbone.pos_embed.shape == (1, 16, 192)  # regenerated for 4x2x2 tokens
    three = build_classifier(backbone="videomae_tiny", num_classes=3, frames=4, size=(32, 32))
    report = load_pretrained(three, path)
    assert report.skipped_head == ["head.weight", "head.bias"] and "head.weight (400, 192)" in report.messages[-1]


# ------------------------------------------------------------------------------------------ mmaction2 CSN
@pytest.mark.parametrize("depthwise_name", ["conv2.0.conv", "conv2.conv"])
def test_mmaction2_csn_checkpoint(tmp_path, depthwise_name):
    torch.manual_seed(2)
    src = build_backbone("csn26", frames=4, size=(32, 32), base_width=8).eval()
    _perturb_bn(src)
    prefix = depthwise_name.removesuffix("conv")  # "conv2.0." as mmaction2 saves it, or "conv2." without the index
    state = {"backbone." + k.replace("conv2.0.", prefix): v for k, v in src.state_dict().items()}
    state["cls_head.fc_cls.weight"] = torch.randn(400, src.feature_dim)
    state["cls_head.fc_cls.bias"] = torch.randn(400)
    path = tmp_path / "ircsn_r26.pth"
    torch.save({"meta": {"mmcv_version": "1.3.0", "CLASSES": None}, "state_dict": state}, path)
    model = build_classifier(backbone="csn26", num_classes=400, frames=4, size=(32, 32), pretrained=str(path),
                             backbone_options={"base_width": 8}).eval()  # fmt: skip
    report = model.load_report
    assert not report.missing and not report.unexpected and not report.skipped_head
    assert torch.equal(model.head.weight, state["cls_head.fc_cls.weight"])
    if depthwise_name == "conv2.conv":
        assert "backbone.layer1.0.conv2.conv.weight" in state and any("renamed" in m for m in report.messages)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x), src(x))


# ------------------------------------------------------------------------------------------ files
def test_checkpoint_directories_and_safetensors(tmp_path, torchvision_r3d):
    net, _ = torchvision_r3d
    d = tmp_path / "checkpoints" / "R3D-18"
    d.mkdir(parents=True)
    (d / "README.md").write_text("weights")
    with pytest.raises(CheckpointError, match=rf"checkpoint directory {d} holds no weight files"):
        find_checkpoint_file(d)
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(d / "model.safetensors"))
    assert find_checkpoint_file(d) == d / "model.safetensors"
    model = build_classifier(backbone="r3d_18", num_classes=400, frames=4, size=(32, 32), pretrained=str(d))
    assert model.load_report.path.endswith("model.safetensors") and torch.equal(model.head.bias, net.fc.bias)
    torch.save(net.state_dict(), d / "copy.pth")
    with pytest.raises(CheckpointError, match=rf"{d} holds 2 weight files .*copy\.pth, model\.safetensors"):
        load_pretrained(model, d)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(model, tmp_path / "missing.pth")


def test_full_pickle_checkpoint_is_refused_and_converts_by_hand(tmp_path):
    src = build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32))
    _perturb_bn(src)
    path = tmp_path / "best.pt"
    torch.save({"format": "replaylab.training/1", "model": src.state_dict(), "epoch": 3,
                "args": argparse.Namespace(lr=0.1)}, path)  # fmt: skip
    model = build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32))
    with pytest.raises(CheckpointError, match=r"best\.pt: a full-pickle checkpoint .*python -m replaylab\.models\.checkpoints"):
        load_pretrained(model, path)
    converted = convert_trusted_checkpoint(path, tmp_path / "converted.pth")
    report = load_pretrained(model, converted)
    assert not report.missing and not report.unexpected
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert checkpoints_main([str(path), str(tmp_path / "cli.pth")]) == 0
    assert load_pretrained(model, tmp_path / "cli.pth").loaded == report.loaded


class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    net = build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32))
    for name, obj in {"wrapped.pth": {"model": net.state_dict(), "x": _Payload(marker)},
                      "bare.pt": _Payload(marker)}.items():  # fmt: skip
        torch.save(obj, tmp_path / name)
        with pytest.raises(CheckpointError, match="full-pickle checkpoint"):
            load_pretrained(net, tmp_path / name)
        with pytest.raises(CheckpointError, match="full-pickle checkpoint"):
            build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32), pretrained=str(tmp_path / name))
        assert not marker.exists()
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        load_pretrained(net, tmp_path / "garbage.pth")
    assert not marker.exists()
