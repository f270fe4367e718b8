"""Converters: shapes for pooled and token inputs, masks, gradients, the registry, and learning a known map."""

from __future__ import annotations

import pytest
import torch

from replaylab.kd.converters import CONVERTERS, ConverterBank, LinearConverter, build_converter, masked_mean
from replaylab.kd.losses import converter_loss, r2_score

SMALL = {"linear": {}, "mlp": {"hidden": 16, "depth": 2}, "transformer": {"width": 16, "heads": 2, "layers": 1, "max_tokens": 8}}


def _randomised(conv: torch.nn.Module) -> torch.nn.Module:
    """Every parameter drawn afresh (the nonlinear branches start at zero, which would hide them)."""
    with torch.no_grad():
        for p in conv.parameters():
            p.normal_(0.0, 0.3)
    return conv


def test_registry_lists_the_three_kinds():
    assert set(CONVERTERS) == {"linear", "mlp", "transformer"}


@pytest.mark.parametrize("kind", sorted(SMALL))
@pytest.mark.parametrize("shape", [(3, 12), (3, 5, 12)])
def test_shapes_and_gradients(kind, shape):
    torch.manual_seed(0)
    conv = _randomised(build_converter(kind, in_dim=12, out_dim=7, **SMALL[kind]))
    x = torch.randn(*shape, requires_grad=True)
    y = conv(x)
    assert y.shape == (3, 7)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in conv.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_masked_tokens_do_not_change_the_output(kind):
    torch.manual_seed(0)
    conv = _randomised(build_converter(kind, in_dim=6, out_dim=4, **SMALL[kind])).eval()
    x = torch.randn(2, 5, 6)
    mask = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])
    y = conv(x, mask)
    x2 = x.clone()
    x2[0, 3:] = 100.0  # padding content must not matter
    torch.testing.assert_close(conv(x2, mask), y)
    torch.testing.assert_close(conv(x[:1, :3]), y[:1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["mlp", "transformer"])
def test_nonlinear_converters_start_as_their_affine_skip(kind):
    torch.manual_seed(0)
    conv = build_converter(kind, in_dim=6, out_dim=4, **SMALL[kind])
    x = torch.randn(3, 5, 6)
    torch.testing.assert_close(conv(x), conv.skip(x.mean(dim=1)))


def test_masked_mean():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(x, torch.tensor([[True, True, False]])).item() == 2.0
    assert masked_mean(x).item() == pytest.approx(104 / 3)


def test_linear_on_tokens_equals_mapping_each_token_then_pooling():
    torch.manual_seed(0)
    conv = LinearConverter(in_dim=4, out_dim=3)
    x = torch.randn(2, 6, 4)
    torch.testing.assert_close(conv(x), conv.proj(x).mean(dim=1))


def test_bad_inputs_are_named():
    conv = build_converter("linear", in_dim=4, out_dim=2)
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        conv(torch.randn(2, 5))
    with pytest.raises(ValueError, match="at least one unmasked"):
        conv(torch.randn(2, 3, 4), torch.tensor([[True, False, False], [False, False, False]]))
    with pytest.raises(KeyError, match="unknown converter kind 'gru'"):
        build_converter("gru", in_dim=4, out_dim=2)
    with pytest.raises(TypeError, match="converter 'mlp'"):
        build_converter("mlp", in_dim=4, out_dim=2, heads=3)
    with pytest.raises(ValueError, match="max_tokens"):
        build_converter("transformer", in_dim=4, out_dim=2, width=8, heads=2, max_tokens=2)(torch.randn(1, 3, 4))


def test_bank_builds_one_converter_per_teacher():
    bank = ConverterBank(kind="mlp", in_dim=8, teacher_dims={"i3d": 5, "videomae_small": 3}, hidden=8)
    out = bank(torch.randn(4, 8))
    assert bank.teachers == ["i3d", "videomae_small"]
    assert {k: v.shape for k, v in out.items()} == {"i3d": (4, 5), "videomae_small": (4, 3)}


@pytest.mark.parametrize(("kind", "lr"), [("linear", 5e-2), ("mlp", 2e-2)])
def test_learns_a_known_linear_map(kind, lr):
    torch.manual_seed(0)
    a, b = torch.randn(16, 8), torch.randn(8)
    x_train, x_test = torch.randn(256, 16), torch.randn(128, 16)
    conv = build_converter(kind, in_dim=16, out_dim=8, **SMALL[kind])
    opt = torch.optim.Adam(conv.parameters(), lr=lr)
    for _ in range(300):
        opt.zero_grad()
        converter_loss(conv(x_train), x_train @ a + b, kind="mse").backward()
        opt.step()
    conv.eval()
    with torch.no_grad():
        pred = conv(x_test)
    assert r2_score(pred, x_test @ a + b) > 0.99


def test_transformer_learns_a_map_of_the_last_token_which_the_linear_converter_cannot():
    """Target = a linear map of the LAST time step: the transformer uses order (position embedding), the
    linear converter sees only the token mean."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(8, 4, generator=g)
    x_train, x_test = torch.randn(256, 4, 8, generator=g), torch.randn(128, 4, 8, generator=g)
    scores = {}
    for kind, opts in (("linear", {}), ("transformer", {"width": 32, "heads": 2, "layers": 1, "max_tokens": 8})):
        torch.manual_seed(0)
        conv = build_converter(kind, in_dim=8, out_dim=4, **opts)
        opt = torch.optim.Adam(conv.parameters(), lr=3e-3)
        for _ in range(300):
            opt.zero_grad()
            converter_loss(conv(x_train), x_train[:, -1] @ a, kind="mse").backward()
            opt.step()
        conv.eval()
        with torch.no_grad():
            scores[kind] = r2_score(conv(x_test), x_test[:, -1] @ a)
    assert scores["transformer"] > 0.98
    assert scores["linear"] < 0.5
