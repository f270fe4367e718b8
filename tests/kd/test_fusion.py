"""Fusion heads: shapes, gradients, source weights, the concat head against a hand-built MLP, bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

from replaylab.kd.fusion import FUSIONS, ConcatFusion, build_fusion

DIMS = {"student_dim": 6, "teacher_dims": [4, 5], "num_classes": 3}
OPTS = {"concat": {"hidden": 8}, "gated": {"width": 8, "gate_hidden": 4}, "attention": {"width": 8}}


def _inputs(b: int = 4, grad: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(b, 6, generator=g, requires_grad=grad)
    return s, [torch.randn(b, 4, generator=g, requires_grad=grad), torch.randn(b, 5, generator=g, requires_grad=grad)]


def test_registry_lists_the_three_kinds():
    assert set(FUSIONS) == {"concat", "gated", "attention"}


@pytest.mark.parametrize("kind", sorted(OPTS))
def test_shapes_and_gradients(kind):
    torch.manual_seed(0)
    head = build_fusion(kind, **DIMS, **OPTS[kind])
    s, conv = _inputs(grad=True)
    logits = head(s, conv)
    assert logits.shape == (4, 3)
    logits.square().sum().backward()
    for x in (s, *conv):
        assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


@pytest.mark.parametrize("kind", ["gated", "attention"])
def test_source_weights_are_a_distribution_over_student_and_teachers(kind):
    torch.manual_seed(0)
    head = build_fusion(kind, **DIMS, **OPTS[kind])
    s, conv = _inputs(b=7)
    logits, w = head.forward_with_weights(s, conv)
    assert w is not None and w.shape == (7, 3)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(dim=1), torch.ones(7))
    torch.testing.assert_close(logits, head(s, conv))
    assert not torch.allclose(w, w[:1].expand_as(w))  # weights depend on the sample


def test_gates_depend_on_the_student_only_and_attention_on_the_teachers_too():
    torch.manual_seed(0)
    gated, attn = build_fusion("gated", **DIMS, **OPTS["gated"]), build_fusion("attention", **DIMS, **OPTS["attention"])
    s, conv = _inputs()
    other = [c + torch.randn_like(c) for c in conv]
    torch.testing.assert_close(gated.forward_with_weights(s, conv)[1], gated.forward_with_weights(s, other)[1])
    assert not torch.allclose(attn.forward_with_weights(s, conv)[1], attn.forward_with_weights(s, other)[1])


def test_attention_weights_by_hand():
    torch.manual_seed(0)
    head = build_fusion("attention", **DIMS, **OPTS["attention"])
    s, conv = _inputs(b=2)
    proj = [p(x) for p, x in zip(head.proj, [s, *conv])]
    q = head.query(s)
    scores = torch.stack([(q * head.key(p)).sum(dim=1) for p in proj], dim=1) / math.sqrt(8)
    w = scores.softmax(dim=1)
    fused = sum(w[:, i : i + 1] * proj[i] for i in range(3))
    logits, got = head.forward_with_weights(s, conv)
    torch.testing.assert_close(got, w)
    torch.testing.assert_close(logits, head.classifier(head.norm(fused)))


def test_concat_equals_a_hand_built_mlp():
    g = torch.Generator().manual_seed(3)
    w1, b1 = torch.randn(8, 15, generator=g), torch.randn(8, generator=g)
    w2, b2 = torch.randn(3, 8, generator=g), torch.randn(3, generator=g)
    head = ConcatFusion(**DIMS, hidden=8)
    with torch.no_grad():
        head.mlp[0].weight.copy_(w1)
        head.mlp[0].bias.copy_(b1)
        head.mlp[3].weight.copy_(w2)
        head.mlp[3].bias.copy_(b2)
    s, conv = _inputs()
    x = torch.cat([s, *conv], dim=1)
    h = x @ w1.T + b1
    h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))  # exact GELU
    expected = h @ w2.T + b2
    logits, weights = head.forward_with_weights(s, conv)
    torch.testing.assert_close(logits, expected)
    assert weights is None


def test_bad_inputs_are_named():
    head = build_fusion("gated", **DIMS, **OPTS["gated"])
    s, conv = _inputs()
    with pytest.raises(ValueError, match="expected 2 converted teacher features, got 1"):
        head(s, conv[:1])
    with pytest.raises(ValueError, match=r"converted\[1\]: expected shape \(4, 5\), got \(4, 6\)"):
        head(s, [conv[0], torch.randn(4, 6)])
    with pytest.raises(KeyError, match="unknown fusion kind 'sum'"):
        build_fusion("sum", **DIMS)
    with pytest.raises(TypeError, match="fusion 'concat'"):
        build_fusion("concat", **DIMS, width=4)
    with pytest.raises(ValueError, match="positive sizes"):
        build_fusion("concat", student_dim=4, teacher_dims=[0], num_classes=2)
    alone = build_fusion("concat", student_dim=4, teacher_dims=[], num_classes=2)  # the student-alone reference head
    assert alone(torch.randn(3, 4), []).shape == (3, 2)


@pytest.mark.parametrize("kind", sorted(OPTS))
def test_learns_a_label_carried_by_one_teacher_and_weights_that_teacher_most(kind):
    """Labels depend on teacher 2's features only (student and teacher 1 are noise)."""
    g = torch.Generator().manual_seed(0)
    s, t1, t2 = torch.randn(256, 6, generator=g), torch.randn(256, 4, generator=g), torch.randn(256, 5, generator=g)
    y = (t2[:, 0] + t2[:, 1] > 0).long()
    torch.manual_seed(0)
    opts = {"hidden": 16} if kind == "concat" else {"width": 16}
    head = build_fusion(kind, **DIMS | {"num_classes": 2}, **opts)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(head(s, [t1, t2]), y).backward()
        opt.step()
    with torch.no_grad():
        logits, w = head.forward_with_weights(s, [t1, t2])
    assert (logits.argmax(dim=1) == y).float().mean() > 0.85
    if w is not None:
        assert w.mean(dim=0).argmax().item() == 2
