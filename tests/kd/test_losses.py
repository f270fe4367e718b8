"""Converter losses (MSE, cosine, CKA, similarity matching) and metrics (R^2 against scikit-learn, cosine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score as sk_r2

from replaylab.kd.losses import (
    converter_loss,
    converter_metrics,
    linear_cka,
    mean_cosine,
    r2_score,
    regression_loss,
    similarity_matching,
)


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


def test_mse_matches_the_mean_squared_error():
    p, t = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert regression_loss(p, t, kind="mse").item() == pytest.approx((4 + 9) / 4)


def test_cosine_loss_is_zero_for_parallel_vectors_and_one_for_orthogonal():
    t = torch.randn(5, 7)
    scale = torch.rand(5, 1) * 3 + 0.1
    assert regression_loss(t * scale, t, kind="cosine").item() == pytest.approx(0.0, abs=1e-6)
    assert regression_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]), kind="cosine").item() == pytest.approx(1.0)
    assert regression_loss(-t, t, kind="cosine").item() == pytest.approx(2.0, abs=1e-6)


def test_cka_is_one_for_identical_features_and_invariant_to_rotation_and_scale():
    x = torch.randn(32, 6, dtype=torch.float64)
    y = x @ torch.randn(6, 6, dtype=torch.float64) + 0.5 * torch.randn(32, 6, dtype=torch.float64)
    assert linear_cka(x, x).item() == pytest.approx(1.0, abs=1e-12)
    base = linear_cka(x, y).item()
    assert 0.0 < base < 1.0
    assert linear_cka(x @ _orthogonal(6, 0), y).item() == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, 7.5 * y @ _orthogonal(6, 1)).item() == pytest.approx(base, abs=1e-12)
    assert linear_cka(x + 3.0, y).item() == pytest.approx(base, abs=1e-12)  # centring removes offsets


def test_cka_against_the_hsic_formula():
    """Linear CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with K = X X^T, L = Y Y^T, H the centring matrix."""
    x, y = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    h = torch.eye(10, dtype=torch.float64) - 1.0 / 10
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    expected = (k * l_).sum() / torch.sqrt((k * k).sum() * (l_ * l_).sum())
    assert linear_cka(x, y).item() == pytest.approx(expected.item(), abs=1e-12)


def test_similarity_matching_is_zero_under_rotation_and_positive_otherwise():
    x = torch.randn(8, 5, dtype=torch.float64)
    assert similarity_matching(x @ _orthogonal(5, 2) * 4.0, x).item() == pytest.approx(0.0, abs=1e-12)
    assert similarity_matching(torch.randn(8, 5, dtype=torch.float64), x).item() > 0.01


@pytest.mark.parametrize("relational", ["none", "cka", "similarity"])
@pytest.mark.parametrize("kind", ["mse", "cosine"])
def test_converter_loss_combines_and_has_gradients(kind, relational):
    torch.manual_seed(0)
    pred, target = torch.randn(6, 4, requires_grad=True), torch.randn(6, 4)
    loss = converter_loss(pred, target, kind=kind, relational=relational, weight=0.5)
    base = regression_loss(pred, target, kind=kind)
    extra = {"none": 0.0, "cka": 0.5 * (1 - linear_cka(pred, target)), "similarity": 0.5 * similarity_matching(pred, target)}
    assert loss.item() == pytest.approx(float((base + extra[relational]).detach()), rel=1e-6)
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert converter_loss(target.clone(), target, kind=kind, relational=relational, weight=0.5).item() == pytest.approx(
        0.0, abs=1e-5
    )


def test_bad_arguments_are_named():
    p = torch.randn(3, 2)
    with pytest.raises(ValueError, match="unknown regression loss 'l1'"):
        regression_loss(p, p, kind="l1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown relational term 'kl'"):
        converter_loss(p, p, relational="kl", weight=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same shape"):
        converter_loss(p, torch.randn(3, 4))
    with pytest.raises(ValueError, match="at least 2"):
        linear_cka(torch.randn(1, 2), torch.randn(1, 2))


CASES = {
    "noisy": lambda rng: (lambda t: (t, t + 0.5 * rng.normal(size=t.shape)))(rng.normal(size=(20, 5)) * [1, 2, 3, 4, 5]),
    "constant_dims": lambda rng: (
        np.array([[1.0, 2.0, 0.0]] * 6) + np.c_[rng.normal(size=6), np.zeros(6), np.zeros(6)],
        np.array([[1.0, 2.0, 0.0]] * 6) + np.c_[rng.normal(size=6), np.zeros(6), np.r_[1.0, np.zeros(5)]],
    ),
    "all_constant": lambda rng: (np.ones((4, 2)), np.array([[2.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])),
    "worse_than_mean": lambda rng: (lambda t: (t, -t))(rng.normal(size=(10, 3))),
}


@pytest.mark.parametrize("multioutput", ["uniform_average", "variance_weighted"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_r2_matches_sklearn(case, multioutput):
    target, pred = CASES[case](np.random.default_rng(0))
    ours = r2_score(torch.tensor(pred), torch.tensor(target), multioutput=multioutput)
    assert ours == pytest.approx(sk_r2(target, pred, multioutput=multioutput), abs=1e-12)


def test_metrics():
    t = torch.randn(9, 4)
    assert mean_cosine(2 * t, t) == pytest.approx(1.0)
    assert converter_metrics(t, t) == pytest.approx({"r2": 1.0, "cosine": 1.0})
