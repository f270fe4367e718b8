"""VideoClassifier, fine-tuning modes and optimiser groups."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replaylab.models import VideoClassifier, build_classifier, normalisation_of, param_groups, set_finetune_mode
from replaylab.models.heads import PoolingHead
from replaylab.training.config import TrainConfig
from replaylab.training.schedule import build_optimizer, resolve_param_groups


def _csn(**kw) -> VideoClassifier:
    return build_classifier(backbone="csn26", num_classes=3, frames=4, size=(32, 32), dropout=0.2,
                            backbone_options={"base_width": 8, **kw})  # fmt: skip


def _step(model: nn.Module, lr: float = 0.1) -> None:
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss = F.cross_entropy(model(torch.randn(4, 3, 4, 32, 32)), torch.tensor([0, 1, 2, 0]))
    opt.zero_grad()
    loss.backward()
    opt.step()


def _layers(block: nn.Module) -> list[nn.Module]:
    """The modules of a block that hold tensors (blocks() may return a fresh BlockGroup view each call)."""
    return [
        m
        for m in block.modules()
        if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))
    ]


def _bn_stats(module: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for n, b in module.named_buffers() if "running" in n]


def test_build_classifier():
    model = build_classifier(backbone="compact3d", num_classes=2, frames=8, size=(32, 32), dropout=0.3)
    assert isinstance(model, VideoClassifier) and isinstance(model.head, nn.Linear)
    # compact3d: a 128-channel map, pooled by mean and max into 256 features
    assert model.backbone.feature_dim == 128 and model.head.in_features == model.feature_dim == 256
    assert model.head.out_features == 2 and isinstance(model.head, PoolingHead)
    assert model.dropout.p == 0.3 and model.load_report is None and model.backbone_name == "compact3d"
    assert [k for k in model.state_dict() if k.startswith("head")] == ["head.weight", "head.bias"]
    model.eval()
    x = torch.randn(2, 3, 8, 32, 32)
    fmap = model.feature_map(x)
    assert fmap.shape == (2, 128, 2, 2, 2)
    pooled = torch.cat((fmap.mean(dim=(2, 3, 4)), fmap.amax(dim=(2, 3, 4))), 1)
    torch.testing.assert_close(model.features(x), pooled)
    torch.testing.assert_close(model(x), pooled @ model.head.weight.T + model.head.bias)
    with pytest.raises(ValueError, match="num_classes"):
        build_classifier(backbone="compact3d", num_classes=0, frames=8, size=(32, 32))


def test_frozen_keeps_backbone_weights_and_bn_statistics():
    model = _csn()
    set_finetune_mode(model, mode="frozen")
    model.train()
    assert model.training and not model.backbone.training
    assert not any(m.training for m in model.backbone.modules())
    weights = copy.deepcopy(model.backbone.state_dict())
    head = model.head.weight.clone()
    _step(model)
    after = model.backbone.state_dict()
    assert all(torch.equal(weights[k], after[k]) for k in weights)  # weights and running statistics
    assert not torch.equal(head, model.head.weight)
    assert all(not p.requires_grad for p in model.backbone.parameters())


def test_partial_trains_only_the_last_blocks():
    model = _csn()
    set_finetune_mode(model, mode="partial", partial_blocks=2)
    blocks = model.backbone.blocks()  # stem, layer1 .. layer4
    frozen, trained = blocks[:-2], blocks[-2:]
    assert all(not p.requires_grad for b in frozen for p in b.parameters())
    assert all(p.requires_grad for b in trained for p in b.parameters())
    model.train()
    assert all(not m.training for b in frozen for m in _layers(b)) and all(m.training for b in trained for m in _layers(b))
    before_frozen = [(_bn_stats(b), [p.clone() for p in b.parameters()]) for b in frozen]
    before_trained = [p.clone() for b in trained for p in b.parameters()]
    _step(model)
    for b, (stats, params) in zip(frozen, before_frozen):
        assert all(torch.equal(x, y) for x, y in zip(stats, _bn_stats(b)))
        assert all(torch.equal(x, y) for x, y in zip(params, b.parameters()))
    assert any(not torch.equal(x, y) for x, y in zip(before_trained, (p for b in trained for p in b.parameters())))
    with pytest.raises(ValueError, match=r"partial_blocks must be in 1..5"):
        set_finetune_mode(model, mode="partial", partial_blocks=6)
    with pytest.raises(ValueError, match="finetune mode"):
        set_finetune_mode(model, mode="half")  # type: ignore[arg-type]
    set_finetune_mode(model, mode="full")
    model.train()
    assert all(p.requires_grad for p in model.parameters()) and all(m.training for m in model.modules())


def test_modes_respect_parameters_the_backbone_keeps_fixed():
    model = _csn(bn_frozen=True)
    set_finetune_mode(model, mode="full")
    bn = model.backbone.conv1.bn
    assert not bn.weight.requires_grad and model.backbone.conv1.conv.weight.requires_grad
    model.train()
    assert not bn.training
    clone = copy.deepcopy(model)
    set_finetune_mode(clone, mode="partial", partial_blocks=1)
    assert not clone.backbone.layer4[0].conv1.bn.weight.requires_grad and clone.backbone.layer4[0].conv1.conv.weight.requires_grad


def test_videomae_head_applies_the_backbone_fc_norm_after_pooling():
    """VideoMAE's fc_norm stays a backbone tensor (key, optimiser group, frozen with the backbone) and the
    pooling head applies it to the pooled tokens: logits = linear(fc_norm(token mean))."""
    model = build_classifier(backbone="videomae_tiny", num_classes=2, frames=4, size=(32, 32)).eval()
    assert "backbone.fc_norm.weight" in model.state_dict() and not any("norm" in k for k in model.head.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    fmap = model.feature_map(x)
    assert fmap.shape == (2, 192, 2, 2, 2)
    pooled = model.backbone.fc_norm(fmap.flatten(2).mean(2))
    torch.testing.assert_close(model.features(x), pooled)
    torch.testing.assert_close(model(x), pooled @ model.head.weight.T + model.head.bias)
    groups = {g["name"]: {id(p) for p in g["params"]} for g in param_groups(model, lr_backbone=1, lr_head=1, weight_decay=0)}
    assert id(model.backbone.fc_norm.weight) in groups["backbone_no_decay"]
    clone = copy.deepcopy(model)  # the head's pool follows the copy's own backbone
    assert clone.head.pool.norm is clone.backbone.fc_norm


def test_param_groups():
    model = build_classifier(backbone="videomae_tiny", num_classes=2, frames=2, size=(16, 16),
                             backbone_options={"pos_embed": "learned", "pool": "cls"})  # fmt: skip
    groups = param_groups(model, lr_backbone=1e-4, lr_head=1e-2, weight_decay=0.05)
    by_name = {g["name"]: g for g in groups}
    assert list(by_name) == ["backbone", "backbone_no_decay", "head", "head_no_decay"]
    assert by_name["backbone"]["lr"] == by_name["backbone_no_decay"]["lr"] == 1e-4
    assert by_name["head"]["lr"] == by_name["head_no_decay"]["lr"] == 1e-2
    assert by_name["backbone"]["weight_decay"] == by_name["head"]["weight_decay"] == 0.05
    assert by_name["backbone_no_decay"]["weight_decay"] == by_name["head_no_decay"]["weight_decay"] == 0.0
    no_decay = {id(p) for p in by_name["backbone_no_decay"]["params"]}
    bb = model.backbone
    for p in (
        bb.pos_embed,
        bb.cls_token,
        bb.norm.weight,
        bb.layers[0].attn.q_bias,
        bb.layers[0].attn.proj.bias,
        bb.patch_embed.proj.bias,
    ):
        assert id(p) in no_decay
    assert id(bb.layers[0].attn.qkv.weight) in {id(p) for p in by_name["backbone"]["params"]}
    assert by_name["head"]["params"] == [model.head.weight] and by_name["head_no_decay"]["params"] == [model.head.bias]
    n = sum(len(g["params"]) for g in groups)
    assert n == len(list(model.parameters()))
    # the training loop takes them as they are
    opt = build_optimizer(TrainConfig(optimizer="adamw"), resolve_param_groups(model, groups, TrainConfig()))
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-4, 1e-2, 1e-2]
    # frozen parameters are left out
    set_finetune_mode(model, mode="frozen")
    assert [g["name"] for g in param_groups(model, lr_backbone=1e-4, lr_head=1e-2, weight_decay=0.05)] == [
        "head",
        "head_no_decay",
    ]


def test_normalisation_of():
    assert normalisation_of("compact3d") == "imagenet" and normalisation_of("csn152") == "imagenet"
    assert normalisation_of("r3d_18") == "kinetics" and normalisation_of("mvit_v2_s") == "kinetics"
    assert normalisation_of("videomae_base") == "videomae"
