"""The trained header classifier as a scoring function: ``models/header/{config.yaml, best.pt}`` -> header
probability of uint8 clips, with the normalisation, crop mode and clip spec the model was trained with.

A head trained on stored features (``input: features``) is put back on its frozen backbone (named, with its
checkpoint, options and input size, in the config's ``features``); clips are resampled to that input inside."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.augment import normalisation
from ..data.cache import ClipSpec
from ..training.checkpoint import BEST


@dataclass
class HeaderModel:
    model: torch.nn.Module
    spec: ClipSpec  # the clips it was trained on
    classes: list[str]
    positive: int  # the header column of the logits
    norm: str
    crop_on: str  # how training clips were cropped (ball, ball_track, player, none, precut)
    track_smooth_s: float
    device: torch.device
    path: Path

    @torch.no_grad()
    def score(self, clips: np.ndarray) -> np.ndarray:
        """Header probability of each uint8 (B, T, H, W, 3) clip."""
        if clips.ndim != 5 or tuple(clips.shape[1:4]) != (self.spec.frames, *self.spec.size):
            raise ValueError(
                f"{self.path}: the model takes clips of {self.spec.frames} x {self.spec.size}, got {clips.shape[1:4]}"
            )
        mean, std = normalisation(self.norm)
        x = torch.from_numpy(np.ascontiguousarray(clips)).float().permute(0, 4, 1, 2, 3).div(255.0)
        x = (x - torch.tensor(mean).view(1, 3, 1, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1, 1)
        logits = self.model(x.to(self.device)).float()
        return torch.softmax(logits, 1)[:, self.positive].cpu().numpy()


def read_config(model_dir: str | os.PathLike) -> dict:
    from ruamel.yaml import YAML

    path = Path(model_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (train the header model first: dvc repro train@header)")
    return YAML(typ="safe", pure=True).load(path.read_text())


def load_header_model(model_dir: str | os.PathLike, *, device: str = "cpu") -> HeaderModel:
    """The selected checkpoint (``best.pt``) of a ``train@header`` run, in eval mode."""
    from ..models import build_classifier

    model_dir = Path(model_dir)
    cfg = read_config(model_dir)
    train, spec_d, classes = cfg["train"], cfg["cache_spec"], list(cfg["classes"])
    spec = ClipSpec(frames=spec_d["frames"], size=tuple(spec_d["size"]), stride=spec_d["stride"], fps=spec_d["fps"],
                    crop_px=spec_d["crop_px"], views=spec_d.get("views", 1))  # fmt: skip
    ckpt_path = model_dir / BEST
    features = cfg.get("features") if cfg.get("input") == "features" else None
    if features is not None:  # a head trained on stored features: rebuild the frozen backbone it was featurized with
        from ..features.heads import frozen_classifier

        model = frozen_classifier(features, num_classes=len(classes), dropout=train["dropout"], where=str(ckpt_path),
                                  head_norm=train.get("head_norm", "none"))  # fmt: skip
    else:
        model = build_classifier(backbone=train["backbone"], num_classes=len(classes), frames=spec.frames, size=spec.size,
                                 dropout=train["dropout"], backbone_options=dict(train.get("backbone_options") or {}),
                                 head_norm=train.get("head_norm", "none"))  # fmt: skip
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"{ckpt_path}: not found")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    try:
        if features is not None:
            from ..features.heads import load_head

            load_head(model.model, ckpt["model"], str(ckpt_path))
        else:
            model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise ValueError(f"{ckpt_path}: does not match the model described in {model_dir / 'config.yaml'}: {e}") from None
    dev = torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")
    model.to(dev).eval()
    positive = classes.index("header") if "header" in classes else 1
    crop = cfg.get("crop") or {"crop_on": "ball", "track_smooth_s": 0.0}
    return HeaderModel(model=model, spec=spec, classes=classes, positive=positive, norm=cfg["normalisation"],
                       crop_on=crop["crop_on"], track_smooth_s=float(crop.get("track_smooth_s", 0.0)), device=dev,
                       path=model_dir)  # fmt: skip
