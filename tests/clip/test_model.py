"""Tiny / named CLIP builders and the BPE tokenizer (open_clip classes, nothing downloaded)."""

from __future__ import annotations

import pytest
import torch
from open_clip.model import CLIP, build_model_from_openai_state_dict
from open_clip.transformer import QuickGELU

from replaylab.clip.model import VOCAB_SIZE, TinyClipConfig, build_named_clip, build_tiny_clip, named_clip_models, tokenizer

SMALL = TinyClipConfig(embed_dim=64, image_size=32, patch_size=8, vision_width=64, vision_layers=1, text_width=64, text_layers=1)


def test_config_rejects_widths_off_the_head_size_and_ragged_patches():
    with pytest.raises(ValueError, match="vision_width=96 is not a multiple of 64"):
        TinyClipConfig(vision_width=96)
    with pytest.raises(ValueError, match="text_width=100"):
        TinyClipConfig(text_width=100)
    with pytest.raises(ValueError, match="image_size=60 is not a multiple of patch_size=8"):
        TinyClipConfig(image_size=60)
    with pytest.raises(ValueError, match="vision_layers must be a positive integer"):
        TinyClipConfig(vision_layers=0)


def test_tiny_clip_has_heads_of_64_channels_quick_gelu_and_the_bpe_vocabulary():
    cfg = TinyClipConfig()
    model = build_tiny_clip(cfg=cfg, seed=0)
    assert isinstance(model, CLIP) and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.visual.transformer.resblocks[0].attn.num_heads == cfg.vision_width // 64
    assert model.transformer.resblocks[0].attn.num_heads == cfg.text_width // 64
    assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert model.token_embedding.num_embeddings == VOCAB_SIZE and model.context_length == cfg.context_length
    with torch.no_grad():
        img = model.encode_image(torch.randn(2, 3, cfg.image_size, cfg.image_size))
        txt = model.encode_text(tokenizer(context_length=cfg.context_length)(["a red clip", "a header"]))
    assert img.shape == txt.shape == (2, cfg.embed_dim)


def test_tiny_clip_init_follows_the_seed_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = (build_tiny_clip(cfg=SMALL, seed=s).state_dict() for s in (1, 1, 2))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["visual.proj"], c["visual.proj"])


def test_openai_rebuild_from_the_state_dict_gives_the_same_architecture():
    model = build_tiny_clip(cfg=SMALL, seed=0)
    rebuilt = build_model_from_openai_state_dict(dict(model.state_dict()), cast_dtype=None)  # heads = width // 64, QuickGELU
    assert repr(rebuilt) == repr(model)
    rebuilt.float()
    x = torch.randn(2, 3, SMALL.image_size, SMALL.image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.encode_image(x), model.encode_image(x), atol=2e-2, rtol=2e-2)


def test_named_clip_builds_an_open_clip_config_with_random_weights():
    model = build_named_clip(name="ViT-S-32")
    assert isinstance(model, CLIP) and not model.training
    assert model.visual.image_size == (224, 224) and model.context_length == 77
    assert "ViT-B-32" in named_clip_models() and "coca_ViT-B-32" not in named_clip_models()


def test_named_clip_errors_suggest_valid_names():
    with pytest.raises(ValueError, match=r"unknown open_clip model 'ViT-B32'.*ViT-B-32"):
        build_named_clip(name="ViT-B32")
    with pytest.raises(ValueError, match="CoCa"):
        build_named_clip(name="coca_ViT-B-32")
    with pytest.raises(ValueError, match="schemas"):
        build_named_clip(name="hf-hub:someone/clip")


def test_tokenizer_pads_and_cuts_to_the_context_length():
    tok = tokenizer(context_length=8)
    ids = tok(["a red clip", "one two three four five six seven eight nine"])
    assert ids.dtype == torch.long and ids.shape == (2, 8)
    sot, eot = 49406, 49407
    assert ids[0, 0] == sot and ids[0, 4] == eot and ids[0, 5:].eq(0).all()  # a, red, clip: one token each
    assert ids[1, 0] == sot and ids[1, -1] == eot  # cut, still ending with the end token
    with pytest.raises(ValueError, match="context_length=1"):
        tokenizer(context_length=1)
