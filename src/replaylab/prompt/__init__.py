"""CLIP video prompt tuning, few-shot (Video-CoOp, Dual-CoOp, STT, zero-shot) on a frozen open_clip CLIP.

Modules: :mod:`.text` (class words, template prompts, CoOp's learnable context), :mod:`.visual` (the frozen image
tower split into a cached prefix and a suffix that takes visual prompts), :mod:`.pooling` (mean / attention over
time), :mod:`.stt` (the spatio-temporal transformer), :mod:`.methods` (the four methods and their registry),
:mod:`.videomix`, :mod:`.fewshot` (K shots per class), :mod:`.loop` (the shared training loop), :mod:`.scoring`,
:mod:`.checkpoint` (learned parameters only), :mod:`.bank` (clips and their cached frozen tokens), :mod:`.run` (one
run), :mod:`.corpus` (the captioned pretraining corpus), and the stage logic :mod:`.pretraining`
(``pretrain@clip``), :mod:`.tune` (``prompt_tune``) and :mod:`.sweep` (``prompt_fewshot``).
"""
