from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from replaylab.training import TrainConfig, build_loss
from replaylab.training.losses import FocalLoss, WeightedCrossEntropy, inverse_frequency_weights

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-0.5, 1.5, 0.0], [1.0, -1.0, 2.0]])
TARGETS = torch.tensor([0, 2, 1, 1])


def test_inverse_frequency_weights_have_mean_one():
    w = inverse_frequency_weights([10, 30, 60])
    raw = [1 / 10, 1 / 30, 1 / 60]
    mean = sum(raw) / 3
    assert torch.allclose(w, torch.tensor([r / mean for r in raw]), atol=1e-6)
    assert w.mean().item() == pytest.approx(1.0)
    assert w[0] > w[1] > w[2]


def test_zero_count_class_gets_weight_zero_with_a_warning():
    with pytest.warns(UserWarning, match="no training examples"):
        w = inverse_frequency_weights([5, 0, 20])
    assert w[1] == 0
    assert w[[0, 2]].mean().item() == pytest.approx(1.0)
    assert w[0].item() == pytest.approx(2 * (1 / 5) / (1 / 5 + 1 / 20))
    with pytest.raises(ValueError):
        inverse_frequency_weights([0, 0])


def test_weighted_cross_entropy_equals_the_manual_formula():
    w = torch.tensor([0.5, 2.0, 1.0])
    got = WeightedCrossEntropy(w)(LOGITS, TARGETS)
    logp = LOGITS.log_softmax(1)
    num = sum(-w[y] * logp[i, y] for i, y in enumerate(TARGETS.tolist()))
    den = sum(w[y] for y in TARGETS.tolist())
    assert got.item() == pytest.approx((num / den).item(), rel=1e-6)
    # by hand for the first sample alone: -log softmax([2, .5, -1])[0]
    first = -(2.0 - math.log(math.exp(2.0) + math.exp(0.5) + math.exp(-1.0)))
    assert WeightedCrossEntropy(w)(LOGITS[:1], TARGETS[:1]).item() == pytest.approx(first, rel=1e-6)


@pytest.mark.parametrize("weight", [None, torch.tensor([0.5, 2.0, 1.0])])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_focal_with_gamma_zero_equals_cross_entropy(weight, smoothing):
    focal = FocalLoss(0.0, weight, label_smoothing=smoothing)(LOGITS, TARGETS)
    ce = F.cross_entropy(LOGITS, TARGETS, weight=weight, label_smoothing=smoothing)
    assert focal.item() == pytest.approx(ce.item(), rel=1e-6)


def test_focal_down_weights_easy_examples_by_hand():
    p = LOGITS.softmax(1)[torch.arange(4), TARGETS]
    expected = ((1 - p) ** 2 * -p.log()).mean()
    got = FocalLoss(2.0)(LOGITS, TARGETS)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    assert got < F.cross_entropy(LOGITS, TARGETS)


def test_focal_weights_act_as_alpha():
    w = torch.tensor([1.0, 3.0, 0.5])
    p = LOGITS.softmax(1)[torch.arange(4), TARGETS]
    a = w[TARGETS]
    expected = (a * (1 - p) ** 1.5 * -p.log()).sum() / a.sum()
    assert FocalLoss(1.5, w)(LOGITS, TARGETS).item() == pytest.approx(expected.item(), rel=1e-6)


def test_build_loss_from_config():
    assert isinstance(build_loss(TrainConfig(loss="ce")), WeightedCrossEntropy)
    focal = build_loss(TrainConfig(loss="focal", focal_gamma=1.0, class_weights="inverse_frequency"), class_counts=[3, 1])
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.0
    assert torch.allclose(focal.weight, torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="class_counts"):
        build_loss(TrainConfig(class_weights="inverse_frequency"))
    smooth = build_loss(TrainConfig(label_smoothing=0.2))
    assert smooth(LOGITS, TARGETS).item() == pytest.approx(F.cross_entropy(LOGITS, TARGETS, label_smoothing=0.2).item())
    # bf16 logits (autocast) are computed in float32
    assert smooth(LOGITS.bfloat16(), TARGETS).dtype == torch.float32
