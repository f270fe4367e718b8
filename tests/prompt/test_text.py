from __future__ import annotations

import pytest
import torch

from replaylab.prompt.text import ContextPrompts, class_words, template_features


@pytest.mark.parametrize(("name", "words"), [("ChestControl", "chest control"), ("ThrowIn", "throw in"), ("Dive", "dive"),
                                             ("ApplyEyeMakeup", "apply eye makeup"), ("throw_in", "throw in"),
                                             ("YoYo", "yo yo"), ("PlayingDaf", "playing daf")])  # fmt: skip
def test_class_words(name, words):
    assert class_words(name) == words


def test_template_features_are_clips_own_text_features(tiny_clip, tok):
    feats = template_features(tiny_clip, tok, ["Header", "ChestControl"], "a video of a {}.")
    want = tiny_clip.encode_text(tok(["a video of a header.", "a video of a chest control."]), normalize=True)
    assert feats.shape == (2, 64)
    assert torch.allclose(feats, want, atol=1e-5)


def test_context_initialised_from_the_template_words_gives_the_template_features(tiny_clip, tok):
    classes = ["Header", "Kick", "ChestControl"]
    ctx = ContextPrompts(clip=tiny_clip, tokenize=tok, classes=classes, ctx_len=4, class_specific=False,
                         ctx_init="a video of a", generator=torch.Generator().manual_seed(0))  # fmt: skip
    with torch.no_grad():
        got = ctx()
    assert torch.allclose(got, template_features(tiny_clip, tok, classes, "a video of a {}."), atol=1e-5)


def test_only_the_context_is_learned_and_it_gets_gradients(tiny_clip, tok):
    for specific, shape in ((False, (3, 64)), (True, (2, 3, 64))):
        ctx = ContextPrompts(clip=tiny_clip, tokenize=tok, classes=["Header", "Kick"], ctx_len=3, class_specific=specific,
                             ctx_init=None, generator=torch.Generator().manual_seed(1))  # fmt: skip
        assert list(ctx.state_dict()) == ["ctx"] and tuple(ctx.ctx.shape) == shape
        ctx().sum().backward()
        assert ctx.ctx.grad is not None and ctx.ctx.grad.abs().sum() > 0
        assert all(p.grad is None for p in tiny_clip.parameters())


def test_class_specific_contexts_change_one_class_only(tiny_clip, tok):
    ctx = ContextPrompts(clip=tiny_clip, tokenize=tok, classes=["Header", "Kick"], ctx_len=2, class_specific=True,
                         ctx_init=None, generator=torch.Generator().manual_seed(1))  # fmt: skip
    before = ctx().detach()
    with torch.no_grad():
        ctx.ctx[1] += 1.0
    after = ctx().detach()
    assert torch.allclose(before[0], after[0]) and not torch.allclose(before[1], after[1])


def test_bad_prompts_are_named(tiny_clip, tok):
    with pytest.raises(ValueError, match="ctx_init .* is 2 text tokens, ctx_len is 3"):
        ContextPrompts(clip=tiny_clip, tokenize=tok, classes=["Header"], ctx_len=3, class_specific=False, ctx_init="a video",
                       generator=torch.Generator())  # fmt: skip
    with pytest.raises(ValueError, match="does not fit"):
        template_features(tiny_clip, tok, ["Header"], "{} " + "very " * 30)
