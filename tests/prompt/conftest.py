"""Fixtures of the prompt-tuning tests: a tiny frozen open_clip CLIP and its tokenizer, and a tiny recognition
clip cache + splits (UCF101 layout, from the session's synthetic world, with its captions) and prompt params."""

from __future__ import annotations

import pytest
import torch

from replaylab.clip.model import TinyClipConfig, build_tiny_clip, tokenizer

TINY = TinyClipConfig(embed_dim=64, image_size=32, patch_size=8, vision_width=64, vision_layers=2, text_width=64,
                      text_layers=1, context_length=24)  # fmt: skip


@pytest.fixture(scope="session")
def tiny_clip():
    clip = build_tiny_clip(cfg=TINY, seed=0)
    clip.eval().requires_grad_(False)
    return clip


@pytest.fixture(scope="session")
def tok():
    return tokenizer(context_length=TINY.context_length)


def prompt_params(root) -> dict:
    """Params of the prompt stages on the tiny recognition data under ``root`` (ThrowIn held out)."""
    return {
        "seed": 3,
        "cache_clips": {"out_dir": str(root / "cache"),
                        "recognition": {"source": {"format": "ucf101", "root": str(root / "ucf101")},
                                        "frames": 8, "size": [32, 32]}},
        "split": {"out_dir": str(root / "splits"), "recognition": {"strategy": "official",
                                                                    "fractions": {"train": 0.7, "val": 0.3, "test": 0.0}}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live")},
        "evaluate": {"out_dir": str(root / "reports")},
        "prompt": {"unseen_classes": ["ThrowIn"],
                   "clip": {"checkpoint": str(root / "models" / "clip" / "clip.pt")},
                   "pretrain": {"tiny": {"embed_dim": 64, "image_size": 32, "patch_size": 8, "vision_width": 64,
                                         "vision_layers": 2, "text_width": 64, "text_layers": 1, "context_length": 24},
                                "epochs": 2, "batch_size": 4, "frames": 2},
                   "frames": 4, "num_temporal_views": 2, "k_train": 2, "k_val": 1, "epochs": 2, "batch_size": 2,
                   "threads": 1, "ctx_len": 2,
                   "sweep": {"runs": {"zero_shot": {"method": "zero_shot"}, "coop": {"method": "video_coop"},
                                      "dual": {"method": "dual_coop"}},
                             "k": [1, 2], "seeds": [1, 2]}},
    }  # fmt: skip


@pytest.fixture(scope="session")
def prompt_world(tiny_world, tmp_path_factory):
    """(root, params dict): the tiny world's UCF101 folder (with captions.csv), its clip cache and splits."""
    import shutil

    from replaylab import params as P
    from replaylab.data.cache import build_cache, spec_from_params
    from replaylab.data.samples import read_csv
    from replaylab.data.sources import task_index
    from replaylab.data.task_splits import make_splits, write_splits

    root = tmp_path_factory.mktemp("prompt")
    shutil.copytree(tiny_world[0] / "ucf101", root / "ucf101")
    data = prompt_params(root)
    params = P.validate(data)
    cfg = params.cache_clips.recognition
    spec = spec_from_params(cfg)
    build_cache(task_index("recognition", cfg, seed=3, margin_s=spec.half_window_s()), spec, out_h5=root / "cache/recognition.h5",
                out_index=root / "cache/recognition_index.csv", work_dir=root / "w", progress=False, task="recognition")  # fmt: skip
    by = make_splits(read_csv(root / "cache/recognition_index.csv"), strategy="official",
                     fractions={"train": 0.7, "val": 0.3, "test": 0.0}, seed=3, task="recognition")  # fmt: skip
    write_splits(by, root / "splits/recognition", task="recognition")
    return root, data


def frames(n: int, t: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random normalised frames (n * t, 3, size, size)."""
    return torch.randn(n * t, 3, size, size, generator=torch.Generator().manual_seed(seed))
