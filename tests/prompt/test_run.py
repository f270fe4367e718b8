from __future__ import annotations

import numpy as np
import pytest

from replaylab import params as P
from replaylab.params.prompt import PromptRunOverrides
from replaylab.prompt.run import encoder_split, run_once, run_settings
from replaylab.prompt.setup import prompt_data

from .conftest import prompt_params


def test_settings_from_params_overrides_k_and_seed(tmp_path):
    p = P.validate(prompt_params(tmp_path)).prompt
    s = run_settings(p, seed=9)
    assert (s.method.method, s.k_train, s.loop.seed, s.method.pooling) == ("video_coop", 2, 9, "attention")
    o = run_settings(p, PromptRunOverrides(method="dual_coop", pooling="mean", videomix="temporal"), k=1, seed=4)
    assert (o.method.method, o.method.pooling, o.k_train, o.loop.videomix, o.method.ctx_len) == (
        "dual_coop",
        "mean",
        1,
        "temporal",
        2,
    )
    assert encoder_split(o, 2) == 1  # visual_prompt_layer -1: the last block
    assert encoder_split(run_settings(p, PromptRunOverrides(videomix="spatial"), seed=1), 2) == 0
    assert encoder_split(s, 2) == 2


def test_run_once_trains_scores_and_repeats(prompt_world, tiny_clip, tok):
    root, data = prompt_world
    params = P.validate(data)
    d = prompt_data(params)
    results = []
    for _ in range(2):
        s = run_settings(params.prompt, PromptRunOverrides(method="dual_coop"), k=2, seed=5)
        results.append(run_once(s, clip=tiny_clip, tokenize=tok, data=d, banks={}, progress=False))
    r = results[0]
    assert len(r.train_ids) == 6 and len(r.loop.history) == 2
    assert set(r.test) >= {"top1", "top5", "mean_class_accuracy", "top1_unseen", "top1_seen"}
    assert r.test["clips"] == len(d.test.ids) and r.test_logits.shape == (len(d.test.ids), 3)
    assert np.array_equal(r.test_logits, results[1].test_logits)
    assert r.train_ids == results[1].train_ids


def test_zero_shot_needs_no_training_and_frames_are_checked(prompt_world, tiny_clip, tok):
    root, data = prompt_world
    params = P.validate(data)
    d = prompt_data(params)
    s = run_settings(params.prompt, PromptRunOverrides(method="zero_shot"), seed=1)
    r = run_once(s, clip=tiny_clip, tokenize=tok, data=d, banks={}, progress=False)
    assert r.loop is None and 0.0 <= r.test["top1"] <= 1.0
    p = P.validate({**data, "prompt": {**data["prompt"], "frames": 9}}).prompt
    with pytest.raises(ValueError, match="prompt.frames 9 is more than the 8 frames"):
        run_once(run_settings(p, seed=1), clip=tiny_clip, tokenize=tok, data=d, banks={}, progress=False)


@pytest.mark.parametrize(("method", "mix"), [("stt", "none"), ("video_coop", "spatial"), ("dual_coop", "temporal")])
def test_other_methods_and_videomix_run(prompt_world, tiny_clip, tok, method, mix):
    root, data = prompt_world
    params = P.validate({**data, "prompt": {**data["prompt"], "videomix_prob": 1.0}})
    d = prompt_data(params)
    s = run_settings(params.prompt, PromptRunOverrides(method=method, videomix=mix), k=1, seed=2)
    r = run_once(s, clip=tiny_clip, tokenize=tok, data=d, banks={}, progress=False)
    assert len(r.loop.history) == 2 and np.isfinite(r.test_logits).all()
