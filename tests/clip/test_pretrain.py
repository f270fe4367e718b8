"""Contrastive video-text pre-training on a tiny synthetic problem: solid-colour clips and their colour names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from replaylab.clip import pretrain as pretrain_module
from replaylab.clip.model import TinyClipConfig, build_tiny_clip, tokenizer
from replaylab.clip.pretrain import MAX_LOGIT_SCALE, pretrain_contrastive

CFG = TinyClipConfig(
    embed_dim=64, image_size=16, patch_size=8, vision_width=64, vision_layers=1, text_width=64, text_layers=1, context_length=8
)
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}


def _data(n: int = 16, *, two_captions: bool = False) -> tuple[np.ndarray, list[list[str]]]:
    rng = np.random.default_rng(0)
    names = list(COLOURS)
    clips = np.empty((n, 4, 12, 12, 3), dtype=np.uint8)
    captions = []
    for i in range(n):
        name = names[i % len(names)]
        noise = rng.integers(-20, 21, size=clips.shape[1:])
        clips[i] = np.clip(np.array(COLOURS[name]) + noise, 0, 255)
        captions.append([f"a {name} clip", f"{name}"] if two_captions else [f"a {name} clip"])
    return clips, captions


def _train(seed: int, *, epochs: int, two_captions: bool = False, on_epoch=None, flip: bool = False,
           clips: np.ndarray | None = None) -> tuple[list[dict], torch.nn.Module]:  # fmt: skip
    data, captions = _data(two_captions=two_captions)
    clips = data if clips is None else clips
    model = build_tiny_clip(cfg=CFG, seed=0)
    history = pretrain_contrastive(
        model=model,
        clips=clips,
        captions=captions,
        tokenize=tokenizer(context_length=CFG.context_length),
        frames=2,
        epochs=epochs,
        batch_size=8,
        lr=2e-3,
        weight_decay=0.1,
        warmup_epochs=1,
        seed=seed,
        flip=flip,
        progress=False,
        on_epoch=on_epoch,
    )
    return history, model


def test_training_lowers_the_loss_and_learns_to_retrieve_the_colour():
    seen = []
    history, model = _train(0, epochs=8, on_epoch=lambda epoch, row: seen.append((epoch, row["loss"])))
    assert [h["epoch"] for h in history] == list(range(8)) and seen == [(h["epoch"], h["loss"]) for h in history]
    # 8 clips of 4 colours a batch: same-colour pairs share a caption, so the loss bottoms out near ln 2, not 0
    assert history[0]["loss"] > 1.8 and max(h["loss"] for h in history[-2:]) < 1.0
    assert min(h["top1"] for h in history[-2:]) >= 0.9 and history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert history[-1]["logit_scale"] <= np.exp(MAX_LOGIT_SCALE) + 1e-3
    assert not model.training


@pytest.mark.parametrize("flip", [False, True])
def test_flip_mirrors_whole_clips_left_right(flip, monkeypatch):
    seen = []
    real = pretrain_module.frames_to_input

    def spy(*, clips, image_size):
        seen.append(clips.clone())
        return real(clips=clips, image_size=image_size)

    monkeypatch.setattr(pretrain_module, "frames_to_input", spy)
    clips = np.zeros((16, 4, 12, 12, 3), np.uint8)
    clips[:, :, :, :4] = 255  # bright on the left only
    _train(0, epochs=3, flip=flip, clips=clips)
    batch = torch.cat(seen)  # (clips drawn, frames, H, W, 3)
    left = batch[:, :, :, :4].flatten(1).float().mean(1)
    right = batch[:, :, :, -4:].flatten(1).float().mean(1)
    mirrored = (right == 255) & (left == 0)
    assert bool(((left == 255) & (right == 0) | mirrored).all())  # every frame of a clip alike
    assert (0 < int(mirrored.sum()) < len(batch)) if flip else int(mirrored.sum()) == 0


def test_training_is_deterministic_for_a_seed():
    a, model_a = _train(1, epochs=2, two_captions=True)  # a caption drawn per clip and step
    b, model_b = _train(1, epochs=2, two_captions=True)
    c, _ = _train(2, epochs=2, two_captions=True)
    assert a == b and a != c
    assert all(torch.equal(x, y) for x, y in zip(model_a.state_dict().values(), model_b.state_dict().values()))


def test_bad_inputs_are_rejected():
    clips, captions = _data(4)
    model = build_tiny_clip(cfg=CFG, seed=0)
    kwargs = dict(
        tokenize=tokenizer(context_length=8), epochs=1, batch_size=2, lr=1e-3, weight_decay=0.0, warmup_epochs=0, seed=0
    )
    with pytest.raises(ValueError, match="3 caption lists for 4 clips"):
        pretrain_contrastive(model=model, clips=clips, captions=captions[:3], frames=2, **kwargs)
    with pytest.raises(ValueError, match=r"captions\[1\] must be a non-empty list"):
        pretrain_contrastive(model=model, clips=clips, captions=[captions[0], [], *captions[2:]], frames=2, **kwargs)
    with pytest.raises(ValueError, match=r"frames=5 must be in 1..4"):
        pretrain_contrastive(model=model, clips=clips, captions=captions, frames=5, **kwargs)
    with pytest.raises(ValueError, match="uint8 array"):
        pretrain_contrastive(model=model, clips=clips.astype(np.float32), captions=captions, frames=2, **kwargs)
