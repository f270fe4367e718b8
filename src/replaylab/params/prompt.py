"""The ``prompt`` section: CLIP video prompt tuning on the recognition clips (``pretrain@clip``, ``prompt_tune``,
``prompt_fewshot``; docs/tasks/prompt.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Section

__all__ = ["ClipParams", "PretrainParams", "PromptParams", "PromptRunOverrides", "SweepParams", "TinyClipParams", "METHODS"]

METHODS = ("zero_shot", "video_coop", "dual_coop", "stt")


class TinyClipParams(Section):
    """The small open_clip ViT + text transformer that ``pretrain@clip`` trains (widths: multiples of 64, so the
    OpenAI state-dict layout it is saved in rebuilds the same network: open_clip infers heads = width / 64)."""

    embed_dim: int = Field(128, ge=8, le=4096)
    image_size: int = Field(64, ge=8, le=1024)
    patch_size: int = Field(8, ge=2, le=64)
    vision_width: int = Field(128, ge=64, le=4096, multiple_of=64)
    vision_layers: int = Field(3, ge=1, le=48)
    text_width: int = Field(128, ge=64, le=4096, multiple_of=64)
    text_layers: int = Field(2, ge=1, le=48)
    context_length: int = Field(32, ge=8, le=77)

    @model_validator(mode="after")
    def _grid(self) -> TinyClipParams:
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        return self


class ClipParams(Section):
    """The frozen CLIP every method shares."""

    model: str = "tiny"  # tiny (prompt.pretrain.tiny) | an open_clip model name (ViT-B-32, ViT-B-16, ...)
    # a local file: OpenAI state dict or TorchScript (the architecture comes from the file), or an open_clip
    # checkpoint (architecture: `model`); null = random weights. Missing / unexpected keys are reported.
    checkpoint: str | None = "models/clip/clip.pt"
    layout: Literal["auto", "openai_jit", "openai_state_dict", "open_clip"] = "auto"


class PretrainParams(Section):
    """``pretrain@clip``: contrastive video-text pretraining of the tiny CLIP on captioned synthetic clips (the
    recognition train split, minus every clip of ``prompt.unseen_classes``)."""

    tiny: TinyClipParams = TinyClipParams()
    captions: str = "captions.csv"  # relative to cache_clips.recognition.source.root: path,caption rows
    # the rows whose `mentions` column is one of these (what a caption names besides the action); null = every row
    mentions: list[Literal["action", "action+kit", "action+camera", "action+kit+camera"]] | None = Field(["action"], min_length=1)
    frames: int = Field(4, ge=1, le=64)  # frames per clip per step (random, in time order), mean-pooled
    flip: bool = False  # mirror half the clips left-right each step (augmentation)
    epochs: int = Field(40, ge=1, le=10000)
    warmup_epochs: int = Field(2, ge=0, le=1000)
    batch_size: int = Field(32, ge=2, le=4096)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(0.1, ge=0.0, le=10.0)
    seed: int | None = Field(None, ge=0)  # null = the top-level seed


class SttParams(Section):
    """STT: a small spatio-temporal transformer over frame tokens on top of the frozen image encoder."""

    layers: int = Field(1, ge=1, le=12)
    heads: int = Field(2, ge=1, le=64)  # must divide the CLIP embedding width
    grid: int = Field(2, ge=1, le=32)  # patch tokens average-pooled to grid x grid per frame (+ the class token)


class PromptRunOverrides(Section):
    """One row of the few-shot table: its method and the keys of ``prompt`` it changes (the rest as in ``prompt``;
    ``k_train``, ``seed`` and ``continue_from`` come from the sweep instead)."""

    method: Literal["zero_shot", "video_coop", "dual_coop", "stt"] | None = None
    pooling: Literal["mean", "attention"] | None = None
    ctx_len: int | None = Field(None, ge=1, le=64)
    class_specific: bool | None = None
    visual_prompts: int | None = Field(None, ge=1, le=256)
    videomix: Literal["none", "spatial", "temporal"] | None = None


class SweepParams(Section):
    """``prompt_fewshot``: every run in ``runs`` at every K in ``k`` with every seed in ``seeds``."""

    runs: dict[str, PromptRunOverrides] = Field(
        default_factory=lambda: {
            "zero_shot": PromptRunOverrides(method="zero_shot", pooling="mean"),
            "video_coop_mean": PromptRunOverrides(method="video_coop", pooling="mean"),
            "video_coop_attention": PromptRunOverrides(method="video_coop", pooling="attention"),
            "dual_coop": PromptRunOverrides(method="dual_coop", pooling="mean"),
        },
        min_length=1,
    )
    k: list[int] = Field(default_factory=lambda: [1, 4, 16], min_length=1)  # shots per class
    seeds: list[int] = Field(default_factory=lambda: [42, 43, 44], min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> SweepParams:
        unnamed = [name for name, run in self.runs.items() if run.method is None]
        if unnamed:
            raise ValueError(f"runs: {unnamed} need a method (the table does not follow prompt.method)")
        if any(k < 1 for k in self.k) or len(set(self.k)) != len(self.k):
            raise ValueError(f"k: distinct shot counts >= 1, got {self.k}")
        if any(s < 0 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: distinct seeds >= 0, got {self.seeds}")
        return self


class PromptParams(Section):
    """CLIP video prompt tuning, few-shot, on the recognition task's clips and splits."""

    # classes never named as a pretraining caption's action (their clips are left out of pretraining); the
    # tables report them apart. Must be classes of the recognition data.
    unseen_classes: list[str] = Field(default_factory=lambda: ["Dive", "Celebration", "ChestControl"])
    clip: ClipParams = ClipParams()
    pretrain: PretrainParams = PretrainParams()
    template: str = "a video of a {}."  # zero-shot / STT text prompt; {} = the class name in words
    method: Literal["zero_shot", "video_coop", "dual_coop", "stt"] = "video_coop"
    pooling: Literal["mean", "attention"] = "attention"  # frame features over time: mean or a learned attention pool
    ctx_len: int = Field(4, ge=1, le=64)  # learnable text context vectors (video_coop, dual_coop)
    class_specific: bool = True  # one context per class instead of one shared context
    ctx_init: str | None = None  # initialise the context from these words' embeddings (as many words as ctx_len)
    visual_prompts: int = Field(4, ge=1, le=256)  # dual_coop: learnable tokens inserted in the image transformer
    # dual_coop: the block they are inserted before (negative: from the end; 0 = the input, VPT-shallow). The
    # blocks before it are frozen and run once per frame (cached); only the blocks from here on run per step.
    visual_prompt_layer: int = -1
    stt: SttParams = SttParams()
    frames: int = Field(4, ge=1, le=256)  # frames per temporal view (spread over the cached clip)
    num_temporal_views: int = Field(2, ge=1, le=16)  # views averaged at test time; training draws one per clip
    videomix: Literal["none", "spatial", "temporal"] = "none"  # mix a box of patches / a span of frames of 2 clips
    videomix_prob: float = Field(0.5, ge=0.0, le=1.0)  # share of training batches mixed
    k_train: int | None = Field(16, ge=1)  # training clips per class, drawn with the seed; null = all
    k_val: int | None = Field(4, ge=1)  # validation clips per class for selection; null = all
    epochs: int = Field(20, ge=1, le=10000)
    batch_size: int = Field(8, ge=1, le=4096)
    batches_per_backprop: int = Field(1, ge=1, le=4096)  # gradient accumulation: optimizer step every N batches
    lr: float = Field(2e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0, ge=0.0, le=10.0)
    seed: int | None = Field(None, ge=0)  # null = the top-level seed
    # resume: a prompt checkpoint (models/prompt/<method>/best.pt or last.pt, or its run folder) whose learned
    # parameters start this run; the method and shapes must match
    continue_from: str | None = None
    threads: int = Field(0, ge=0, le=256)  # torch CPU threads (0 = all cores)
    sweep: SweepParams = SweepParams()

    @model_validator(mode="after")
    def _checks(self) -> PromptParams:
        if self.template.count("{}") != 1:
            raise ValueError(f"template: needs exactly one {{}} for the class name, got {self.template!r}")
        if self.ctx_init is not None and len(self.ctx_init.split()) != self.ctx_len:
            raise ValueError(f"ctx_init: {len(self.ctx_init.split())} words for ctx_len {self.ctx_len}")
        if len(set(self.unseen_classes)) != len(self.unseen_classes):
            raise ValueError(f"unseen_classes: listed twice in {self.unseen_classes}")
        return self
