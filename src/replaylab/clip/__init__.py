"""CLIP models through the ``open_clip`` library (nothing downloaded at run time):

* :mod:`.model`: a tiny ViT CLIP (:class:`TinyClipConfig`, :func:`build_tiny_clip`), any built-in open_clip
  architecture (:func:`build_named_clip`), and open_clip's BPE :func:`tokenizer`;
* :mod:`.checkpoint`: :func:`load_clip` from OpenAI TorchScript archives, OpenAI-layout state dicts or open_clip
  training checkpoints (architecture from the tensor shapes or by name, a :class:`LoadReport` of what loaded),
  and :func:`save_openai_state_dict`;
* :mod:`.frames`: uint8 clips to normalised CLIP input (:func:`frames_to_input`) and evenly spread frame
  indices per temporal view (:func:`pick_frames`);
* :mod:`.pretrain`: contrastive video-text training (:func:`pretrain_contrastive`).
"""

from __future__ import annotations

from .checkpoint import LAYOUTS, LoadReport, infer_openai_architecture, load_clip, save_openai_state_dict
from .frames import OPENAI_MEAN, OPENAI_STD, frames_to_input, pick_frames
from .model import VOCAB_SIZE, TinyClipConfig, build_named_clip, build_tiny_clip, named_clip_models, tokenizer
from .pretrain import pretrain_contrastive

__all__ = [
    "LAYOUTS",
    "OPENAI_MEAN",
    "OPENAI_STD",
    "VOCAB_SIZE",
    "LoadReport",
    "TinyClipConfig",
    "build_named_clip",
    "build_tiny_clip",
    "frames_to_input",
    "infer_openai_architecture",
    "load_clip",
    "named_clip_models",
    "pick_frames",
    "pretrain_contrastive",
    "save_openai_state_dict",
    "tokenizer",
]
