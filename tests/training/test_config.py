from __future__ import annotations

import dataclasses

import pytest

from replaylab.training import TrainConfig
from replaylab.training.config import RESUME_IGNORED_FIELDS


def test_defaults_are_valid_and_frozen():
    cfg = TrainConfig()
    assert cfg.optimizer in ("adam", "adamw", "sgd")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [{"optimizer": "lamb"}, {"schedule": "linear"}, {"amp_dtype": "fp8"}, {"loss": "mse"}, {"class_weights": "sqrt"},
     {"monitor_mode": "up"}, {"device": "tpu"}, {"epochs": 0}, {"batch_size": 0}, {"accumulate": 0}, {"lr_head": 0.0},
     {"momentum": 1.0}, {"gamma": 0.0}, {"label_smoothing": 1.0}, {"grad_clip": -1.0}, {"warmup_epochs": -0.5},
     {"early_stop_patience": -1}, {"monitor": ""}, {"log_every": 0}, {"seed": -1}],
)  # fmt: skip
def test_invalid_values_are_rejected_with_the_field_named(changes):
    (name,) = changes
    with pytest.raises(ValueError, match=name):
        TrainConfig(**changes)


def test_from_dict_skips_unknown_keys_and_none_and_applies_overrides():
    cfg = TrainConfig.from_dict({"epochs": 5, "lr_backbone": None, "backbone": "x3d", "threshold": 0.5}, seed=3)
    assert (cfg.epochs, cfg.lr_backbone, cfg.seed) == (5, TrainConfig().lr_backbone, 3)
    with pytest.raises(ValueError, match="backbone"):
        TrainConfig.from_dict({"backbone": "x3d"}, ignore_unknown=False)


def test_dict_round_trip_and_resume_signature():
    cfg = TrainConfig(epochs=7, warmup_epochs=0.5, amp=True)
    assert TrainConfig(**cfg.to_dict()) == cfg
    sig = cfg.resume_signature()
    assert "epochs" in RESUME_IGNORED_FIELDS and "epochs" not in sig
    assert sig == cfg.replace(epochs=99).resume_signature()
    assert sig != cfg.replace(lr_head=0.5).resume_signature()
