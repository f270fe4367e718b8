from __future__ import annotations

import pytest
import torch

from replaylab.prompt.methods import METHODS, MethodConfig, build_method
from replaylab.prompt.visual import SplitImageEncoder

from .conftest import frames

CLASSES = ["Header", "Kick", "ThrowIn"]


def _tokens(enc: SplitImageEncoder, b: int = 2, t: int = 3) -> torch.Tensor:
    with torch.no_grad():
        return enc.prefix(frames(b, t)).view(b, t, 17, 64)


def _build(tiny_clip, tok, method: str, split: int = 2, **kw):
    enc = SplitImageEncoder(tiny_clip.visual, split=split)
    cfg = MethodConfig(method=method, ctx_len=2, visual_prompts=3, stt_grid=2, stt_heads=2, **kw)
    return enc, build_method(cfg=cfg, clip=tiny_clip, tokenize=tok, classes=CLASSES, encoder=enc, frames=3, seed=0)


def test_the_registry():
    assert set(METHODS) == {"zero_shot", "video_coop", "dual_coop", "stt"}


@pytest.mark.parametrize(("method", "pooling", "learned"), [
    ("zero_shot", "mean", set()),
    ("video_coop", "mean", {"prompts.ctx"}),
    ("video_coop", "attention", {"prompts.ctx", "pool.score.0.weight"}),
    ("dual_coop", "mean", {"prompts.ctx", "visual_prompts"}),
    ("stt", "mean", {"stt.time", "stt.out.weight"}),
])  # fmt: skip
def test_logits_and_learned_parameters(tiny_clip, tok, method, pooling, learned):
    enc, model = _build(tiny_clip, tok, method, split=1 if method == "dual_coop" else 2, pooling=pooling)
    x = model.precompute(_tokens(enc))
    logits = model(x)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    keys = set(model.state_dict())
    assert learned <= keys
    assert not any(k.startswith(("visual.", "transformer.", "token_embedding")) for k in keys)  # never the CLIP
    if method != "zero_shot":
        logits.sum().backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_zero_shot_is_clip(tiny_clip, tok):
    enc, model = _build(tiny_clip, tok, "zero_shot")
    imgs = frames(2, 3)
    logits = model(model.precompute(enc.prefix(imgs).view(2, 3, 17, 64)))
    with torch.no_grad():
        video = torch.nn.functional.normalize(tiny_clip.encode_image(imgs).view(2, 3, -1).mean(1), dim=-1)
        text = tiny_clip.encode_text(tok([f"a video of a {c}." for c in ("header", "kick", "throw in")]), normalize=True)
        scale = tiny_clip.logit_scale.exp()
    assert torch.allclose(logits, scale * video @ text.t(), atol=1e-4)


def test_precompute_of_each_method(tiny_clip, tok):
    enc, coop = _build(tiny_clip, tok, "video_coop")
    assert coop.precompute(_tokens(enc)).shape == (2, 3, 64)
    enc, dual = _build(tiny_clip, tok, "dual_coop", split=1)
    toks = _tokens(enc)
    assert dual.precompute(toks) is toks
    enc, stt = _build(tiny_clip, tok, "stt")
    assert stt.precompute(_tokens(enc)).shape == (2, 3, 5, 64)


def test_same_seed_same_start(tiny_clip, tok):
    a = _build(tiny_clip, tok, "dual_coop", split=1)[1].state_dict()
    b = _build(tiny_clip, tok, "dual_coop", split=1)[1].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_method(tiny_clip, tok):
    with pytest.raises(ValueError, match="expected one of zero_shot, video_coop"):
        _build(tiny_clip, tok, "vita")
