from __future__ import annotations

import pytest
import torch

from replaylab.prompt.loop import LoopConfig, predict, train_prompt, view_indices
from replaylab.prompt.methods import MethodConfig, build_method
from replaylab.prompt.visual import SplitImageEncoder

CLASSES = ["Header", "Kick", "ThrowIn"]


def _problem(tiny_clip, tok, n_per: int = 6, t: int = 4, seed: int = 0, pooling: str = "attention"):
    """Frame embeddings near each class's text feature under a random rotation (zero-shot gets it wrong)."""
    gen = torch.Generator().manual_seed(seed)
    enc = SplitImageEncoder(tiny_clip.visual, split=2)
    model = build_method(cfg=MethodConfig(method="video_coop", pooling=pooling, ctx_len=2), clip=tiny_clip, tokenize=tok,
                         classes=CLASSES, encoder=enc, frames=2, seed=seed)  # fmt: skip
    centres = torch.randn(3, 64, generator=gen)
    y = torch.arange(3).repeat_interleave(n_per)
    x = centres[y].unsqueeze(1) + 0.3 * torch.randn(len(y), t, 64, generator=gen)
    return model, x, y


def _cfg(**kw) -> LoopConfig:
    base = dict(epochs=25, batch_size=6, batches_per_backprop=1, lr=0.05, weight_decay=0.0, frames=2, views=2, seed=0)
    return LoopConfig(**{**base, **kw})


def test_training_learns_and_keeps_the_best_val_epoch(tiny_clip, tok):
    model, x, y = _problem(tiny_clip, tok)
    before = float((predict(model, x, frames=2, views=2).argmax(1) == y).float().mean())
    rows = []
    res = train_prompt(model, train_x=x, train_y=y, val_x=x, val_y=y, cfg=_cfg(), progress=False, on_epoch=rows.append)
    assert len(res.history) == 25 and rows == res.history
    best = max(res.history, key=lambda r: (r["val_top1"], -r["val_loss"]))
    assert res.best_epoch == best["epoch"]
    model.load_state_dict(res.best_state)
    after = float((predict(model, x, frames=2, views=2).argmax(1) == y).float().mean())
    assert after == pytest.approx(best["val_top1"]) and after > max(before, 0.8)
    assert set(res.best_state) == set(model.state_dict())


def test_gradient_accumulation_equals_the_larger_batch(tiny_clip, tok):
    states = []
    for bs, acc in ((6, 1), (3, 2), (2, 3)):
        # mean pooling: Adam turns the float noise of near-zero gradients (the attention pool's zero-started last
        # layer) into visible steps; the context's gradients are far from zero
        model, x, y = _problem(tiny_clip, tok, n_per=2, pooling="mean")
        # views=1: no per-clip draw, so every setting sees the same clips in the same order
        res = train_prompt(model, train_x=x, train_y=y, val_x=x, val_y=y, progress=False,
                           cfg=_cfg(epochs=3, batch_size=bs, batches_per_backprop=acc, views=1))  # fmt: skip
        states.append(res.last_state)
    for other in states[1:]:
        assert all(torch.allclose(states[0][k], other[k], atol=1e-5) for k in states[0])


def test_same_seed_same_run_and_views(tiny_clip, tok):
    runs = []
    for _ in range(2):
        model, x, y = _problem(tiny_clip, tok)
        runs.append(train_prompt(model, train_x=x, train_y=y, val_x=x, val_y=y, cfg=_cfg(epochs=3, videomix="temporal",
                                 videomix_prob=1.0), progress=False).history)  # fmt: skip
    assert runs[0] == runs[1]
    assert view_indices(8, 4, 2).tolist() != [[0, 2, 4, 6]] * 2 and view_indices(8, 4, 2).shape == (2, 4)


def test_nothing_to_train(tiny_clip, tok):
    enc = SplitImageEncoder(tiny_clip.visual, split=2)
    zs = build_method(cfg=MethodConfig(method="zero_shot"), clip=tiny_clip, tokenize=tok, classes=CLASSES, encoder=enc,
                      frames=2, seed=0)  # fmt: skip
    with pytest.raises(ValueError, match="no learned parameters"):
        train_prompt(zs, train_x=torch.zeros(3, 2, 64), train_y=torch.zeros(3, dtype=torch.long), val_x=torch.zeros(3, 2, 64),
                     val_y=torch.zeros(3, dtype=torch.long), cfg=_cfg(), progress=False)  # fmt: skip
