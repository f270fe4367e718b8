from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replaylab.training import TrainConfig
from replaylab.training.schedule import LRSchedule, build_optimizer, lr_columns, resolve_param_groups


def _opt(cfg: TrainConfig, lrs=(1.0,)):
    groups = [{"params": [nn.Parameter(torch.zeros(1))], "lr": lr, "name": f"g{i}"} for i, lr in enumerate(lrs)]
    return build_optimizer(cfg, groups)


def _trace(sched: LRSchedule, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(sched.current_lrs()[0])
        sched.step()
    return out


def test_warmup_then_cosine_values_at_known_steps():
    cfg = TrainConfig(schedule="cosine", warmup_epochs=1, epochs=3, min_lr=0.0)
    opt = _opt(cfg)
    sched = LRSchedule(opt, cfg, steps_per_epoch=4)  # W = 4 warmup steps, T = 12
    lrs = _trace(sched, 12)
    assert lrs[:4] == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5])
    assert lrs[4] == pytest.approx(1.0)
    assert lrs[8] == pytest.approx(0.5)  # halfway through the 8 cosine steps
    assert lrs[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 8)))
    assert sched.current_lrs()[0] == pytest.approx(0.0)  # after the last step: min_lr
    assert opt.param_groups[0]["lr"] == sched.current_lrs()[0]


def test_fractional_warmup_is_per_step_and_cosine_respects_min_lr():
    cfg = TrainConfig(schedule="cosine", warmup_epochs=0.5, epochs=2, min_lr=0.1)
    sched = LRSchedule(_opt(cfg), cfg, steps_per_epoch=4)
    assert sched.warmup_steps == 2
    lrs = _trace(sched, 8)
    assert lrs[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert min(lrs) > 0.1 and sched.current_lrs()[0] == pytest.approx(0.1)


def test_step_schedule_decays_every_step_size_epochs():
    cfg = TrainConfig(schedule="step", step_size=2, gamma=0.5, min_lr=0.2, epochs=10)
    sched = LRSchedule(_opt(cfg, lrs=(1.0, 0.1)), cfg, steps_per_epoch=3)
    trace = []
    for _ in range(18):
        trace.append(sched.current_lrs())
        sched.step()
    assert [t[0] for t in trace[::3]] == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    assert trace[17][0] == pytest.approx(0.25)  # floor 0.2 not reached yet
    assert [t[1] for t in trace] == pytest.approx([0.1] * 18)  # base below min_lr: stays at base
    for _ in range(6):
        sched.step()
    assert sched.current_lrs()[0] == pytest.approx(0.2)


def test_plateau_reduces_after_patience_epochs_without_improvement():
    cfg = TrainConfig(schedule="plateau", plateau_patience=1, gamma=0.1, monitor_mode="max", min_lr=1e-4)
    sched = LRSchedule(_opt(cfg), cfg, steps_per_epoch=5)
    for value, expected in [(0.5, 1.0), (0.7, 1.0), (0.6, 1.0), (0.65, 0.1), (float("nan"), 0.1), (0.69, 0.01), (0.8, 0.01)]:
        sched.epoch_end(value)
        assert sched.current_lrs()[0] == pytest.approx(expected), value
    cfg_min = cfg.replace(monitor_mode="min")
    sched = LRSchedule(_opt(cfg_min), cfg_min, steps_per_epoch=5)
    for v in (1.0, 0.5, 0.4):
        sched.epoch_end(v)
    assert sched.current_lrs()[0] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["none", "step", "cosine", "plateau"])
def test_state_round_trip_continues_identically(kind):
    cfg = TrainConfig(schedule=kind, warmup_epochs=0.5, epochs=4, step_size=1, gamma=0.5, plateau_patience=0)
    a = LRSchedule(_opt(cfg, (1.0, 0.3)), cfg, steps_per_epoch=3)
    for epoch in range(2):
        for _ in range(3):
            a.step()
        a.epoch_end(1.0 - epoch * 0.0)  # no improvement at the 2nd epoch
    state = a.state_dict()
    b = LRSchedule(_opt(cfg, (1.0, 0.3)), cfg, steps_per_epoch=3)
    assert b.current_lrs() != a.current_lrs() or kind == "none"
    b.load_state_dict(state)
    for _ in range(5):
        assert b.current_lrs() == pytest.approx(a.current_lrs())
        a.step()
        b.step()
    with pytest.raises(ValueError):
        LRSchedule(_opt(cfg.replace(schedule="none" if kind != "none" else "step")), cfg.replace(schedule="none" if kind != "none" else "step"),
                   steps_per_epoch=3).load_state_dict(state)  # fmt: skip


def test_optimizers_and_param_groups():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    model[0].bias.requires_grad_(False)
    cfg = TrainConfig(optimizer="sgd", momentum=0.8, lr_backbone=0.01, lr_head=0.1, weight_decay=0.0)
    groups = resolve_param_groups(model, [{"params": model[0].parameters(), "name": "backbone"},
                                          {"params": model[1].parameters(), "name": "head", "lr": 0.5}], cfg)  # fmt: skip
    opt = build_optimizer(cfg, groups)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.8
    assert [len(g["params"]) for g in opt.param_groups] == [1, 2]  # the frozen bias is left out
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.5]
    assert lr_columns(opt) == ["lr_backbone", "lr_head"]
    single = build_optimizer(
        TrainConfig(optimizer="adamw", lr_head=0.3), resolve_param_groups(model, None, cfg.replace(lr_head=0.3))
    )
    assert isinstance(single, torch.optim.AdamW) and lr_columns(single) == ["lr"]
    assert single.param_groups[0]["lr"] == 0.3 and len(single.param_groups[0]["params"]) == 3
    assert isinstance(build_optimizer(TrainConfig(optimizer="adam"), groups), torch.optim.Adam)
    with pytest.raises(ValueError, match="repeats"):
        resolve_param_groups(model, [{"params": model.parameters()}, {"params": model[1].parameters()}], cfg)


def test_alphaction_warmup_and_multistep_decay_at_iterations():
    # AlphAction / maskrcnn-benchmark WarmupMultiStepLR: factor f -> 1 linearly over W iterations, then
    # the rate drops by gamma after each milestone (counted in optimiser steps, not epochs)
    cfg = TrainConfig(schedule="multistep", warmup_iters=4, warmup_factor=0.2, milestones=(6, 9), gamma=0.1, min_lr=0.0)
    sched = LRSchedule(_opt(cfg), cfg, steps_per_epoch=5)
    lrs = _trace(sched, 11)
    assert lrs[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert lrs[4:6] == pytest.approx([1.0, 1.0])
    assert lrs[6:9] == pytest.approx([0.1, 0.1, 0.1])
    assert lrs[9:] == pytest.approx([0.01, 0.01])


def test_multistep_needs_increasing_milestones():
    with pytest.raises(ValueError, match="milestones"):
        TrainConfig(schedule="multistep")
    with pytest.raises(ValueError, match="milestones"):
        TrainConfig(schedule="multistep", milestones=(5, 3))
    with pytest.raises(ValueError, match="warmup_factor"):
        TrainConfig(warmup_factor=0.0)
    assert TrainConfig(schedule="multistep", milestones=[3, 7]).milestones == (3, 7)  # lists from params become tuples
