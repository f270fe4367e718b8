"""Phase 1 of train@kd: converters fitted from student to teacher features, with early stopping on the val loss."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from replaylab.tasks.kd.distill import converter_options, fit_converters, floored_std, standardise

BASE = dict(kind="linear", hidden=32, depth=1, width=16, layers=1, heads=2, dropout=0.0, loss="mse", relational="none",
            relational_weight=0.1, epochs=300, patience=20, batch_size=32, lr=1e-2, weight_decay=0.0)  # fmt: skip


def _cfg(**kw):
    return SimpleNamespace(**{**BASE, **kw})


def _world(seed=0, n=(200, 60, 60), ds=12, dt=8, noise=0.05):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(ds, dt)), rng.normal(size=(ds, 5))
    inputs, ta, tb = {}, {}, {}
    for split, m in zip(("train", "val", "test"), n):
        x = rng.normal(size=(m, ds)).astype(np.float32) * 3.0 + 1.0
        inputs[split] = x
        ta[split] = (x @ a + noise * rng.normal(size=(m, dt))).astype(np.float32) * 10.0  # any scale: standardised
        tb[split] = np.tanh(x @ b).astype(np.float32)
    return inputs, {"a": ta, "b": tb}


def test_a_linear_teacher_is_recovered_and_metrics_are_reported():
    inputs, teachers = _world()
    fit = fit_converters(inputs, teachers, _cfg(), seed=0, progress=False)
    assert fit.bank.teachers == ["a", "b"]
    assert fit.metrics["test"]["a"]["r2"] > 0.98 and fit.metrics["test"]["a"]["cosine"] > 0.98
    assert 0.3 < fit.metrics["test"]["b"]["r2"] < fit.metrics["test"]["a"]["r2"]  # tanh: not all linear
    assert set(fit.metrics) == {"train", "val", "test"}
    assert np.allclose(fit.mean["a"], teachers["a"]["train"].mean(0), atol=1e-4)
    with torch.no_grad():  # the converters map standardised student inputs to standardised teacher features
        out = fit.bank(torch.as_tensor(standardise(inputs["test"], fit.in_mean, fit.in_std)))["a"].numpy()
    target = standardise(teachers["a"]["test"], fit.mean["a"], fit.std["a"])
    assert 1 - ((out - target) ** 2).sum() / ((target - target.mean(0)) ** 2).sum() == pytest.approx(
        fit.metrics["test"]["a"]["r2"], abs=1e-4
    )


def test_early_stopping_keeps_the_best_val_epoch():
    inputs, teachers = _world(n=(24, 40, 10), ds=40, noise=2.0)  # few samples, many inputs: overfits
    fit = fit_converters(inputs, {"a": teachers["a"]}, _cfg(patience=5, lr=5e-2), seed=0, progress=False)
    losses = [h["val_loss"] for h in fit.history]
    assert fit.epochs_run < 300 and fit.epochs_run == fit.best_epoch + 5
    assert min(losses) == losses[fit.best_epoch - 1]


def test_same_seed_same_converters_and_every_kind_trains():
    inputs, teachers = _world(n=(64, 16, 16))
    one = fit_converters(inputs, teachers, _cfg(epochs=5), seed=3, progress=False)
    two = fit_converters(inputs, teachers, _cfg(epochs=5), seed=3, progress=False)
    for k, v in one.bank.state_dict().items():
        assert torch.equal(v, two.bank.state_dict()[k])
    for kind in ("mlp", "transformer"):
        fit = fit_converters(inputs, teachers, _cfg(kind=kind, epochs=3, relational="cka"), seed=0, progress=False)
        assert fit.epochs_run == 3 and np.isfinite(fit.metrics["val"]["a"]["r2"])
    tokens = {s: np.repeat(x[:, None, :], 3, axis=1) for s, x in inputs.items()}  # (N, T, Ds): time tokens
    fit = fit_converters(tokens, teachers, _cfg(kind="transformer", epochs=2), seed=0, progress=False)
    assert fit.bank(torch.zeros(2, 3, 12))["a"].shape == (2, 8)
    assert converter_options(_cfg(kind="transformer"), tokens=3)["max_tokens"] == 3


def test_a_constant_train_dimension_is_not_blown_up():
    std = floored_std(np.array([1.0, 2.0, 0.0], np.float32))
    assert std[2] == pytest.approx(0.01, rel=1e-4) and std[1] == 2.0
