"""Interaction aggregation (IA) on per-actor features, after AlphAction's IA structure (Tang et al., ECCV 2020).

Each actor's pooled ROI feature (N, D) (:meth:`replaylab.models.heads.RoiHead.roi_features`) is refined by
*interaction blocks* that attend from the actor to a set of tokens:

* ``"P"`` person-person: the actors of the same clip, **self included** (AlphAction's person keys are all the
  boxes of the clip, the query's own among them; it also keeps a lone actor's block well defined). At most
  ``max_person`` actors of a clip are keys: the first ones in ``actors`` order (AlphAction samples a random
  subset; a fixed rule keeps training and evaluation deterministic). The keys are the block's *input* states
  of all the clip's actors (as AlphAction: the first P block reads a separately reduced copy of the actor
  features, a later one the states the previous block made);
* ``"O"`` person-object / context: the clip's context tokens (object boxes' features, or the spatial cells of
  the clip's temporally pooled map), at most ``max_object`` valid ones (the first ones);
* ``"M"`` memory: the actor features of neighbouring keyframes of the same video
  (:class:`replaylab.features.memory.MemoryBank`), one token set per actor.

One block (:class:`InteractionUnit`), as AlphAction's ``InteractionBlock``: query / key / value linear maps to
``dim_inner``; scaled dot-product weights ``softmax(q . k / sqrt(dim_inner))`` over the valid tokens; the
weighted sum of values; LayerNorm without affine parameters over ``dim_inner`` (``layer_norm``, where
AlphAction puts it: on the aggregated value, before the ReLU); ReLU; output linear to ``dim_out``
(zero-initialised, so a new block starts as the identity, AlphAction's ``USE_ZERO_INIT_CONV``); dropout;
residual add of the query (through a linear shortcut when ``dim_out`` differs). Memory tokens may carry a
learned temporal position (AlphAction's ``TEMPORAL_POSITION``): one zero-initialised vector per relative
offset for keys and one for values, added after the key / value maps.

Differences from AlphAction, on purpose: invalid (padding) tokens are masked out of the softmax (AlphAction
pads with zero features that take part in it); an actor with no valid token gets a zero update (its
input passes unchanged); the person / object caps take the first tokens rather than a random subset.

:class:`IAStructure` reduces the actor features to ``dim_inner`` (linear + dropout; separate maps for the
query and the first P keys, the context and the memory, as AlphAction's ``*_dim_reduce`` layers), runs the
blocks in one of AlphAction's three forms, and fuses the result with the input (``fusion``):

* ``"serial"``: blocks one after another, each reading the previous block's output;
* ``"dense"`` (AlphAction's dense serial): block 0 reads the reduced input, block 1 block 0's output, block
  ``i >= 2`` a learned per-channel softmax-weighted sum of the outputs of blocks ``0 .. i-1`` (weights
  initialised so that the previous block's output has weight ~1: logits 0 for it, ``-5 ln 10`` for the others);
* ``"parallel"``: layers of branches; every branch of the first layer reads the reduced input, branch ``j``
  of layer ``k`` reads branch ``j`` of layer ``k-1``, the last layer's outputs are summed. ``blocks`` of
  single letters is one layer (``("P", "O", "M")``: three blocks reading the same input, outputs summed);
  multi-letter strings are layers (``("POM", "POM")`` = AlphAction's ``[["P","O","M"],["P","O","M"]]``),
  every layer with the same branch kinds.

Blocks of the last layer map to ``dim_out``; earlier ones stay at ``dim_inner``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

__all__ = ["BLOCK_KINDS", "STRUCTURES", "IAStructure", "InteractionUnit"]

BLOCK_KINDS: tuple[str, ...] = ("P", "O", "M")
STRUCTURES: tuple[str, ...] = ("serial", "parallel", "dense")
Structure = Literal["serial", "parallel", "dense"]
Fusion = Literal["add", "concat", "none"]
_BLOCK_NAMES = {"P": "person-person", "O": "person-object (context)", "M": "memory"}


def _linear(dim_in: int, dim_out: int, *, bias: bool, init_std: float) -> nn.Linear:
    layer = nn.Linear(dim_in, dim_out, bias=bias)
    if init_std == 0:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.normal_(layer.weight, std=init_std)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class InteractionUnit(nn.Module):
    """Attention from query features (N, ``dim``) to tokens (N, L, ``dim_kv``) -> (N, ``dim_out``).

    ``forward(query, tokens, mask, positions=None)``: ``mask`` (N, L) bool, True = a valid token; an actor
    without one gets ``shortcut(query)`` (a zero update). ``positions`` (N, L) long in
    ``0 .. num_positions - 1`` (needed when ``num_positions > 0``) index the learned temporal embeddings
    (their values at invalid tokens are ignored). See the module docstring for the steps."""

    def __init__(
        self,
        dim: int,
        *,
        dim_inner: int,
        dim_kv: int | None = None,
        dim_out: int | None = None,
        dropout: float = 0.0,
        layer_norm: bool = True,
        num_positions: int = 0,
        bias: bool = True,
        init_std: float = 0.01,
        zero_init_out: bool = True,
    ) -> None:
        super().__init__()
        dim_kv = dim if dim_kv is None else dim_kv
        dim_out = dim if dim_out is None else dim_out
        for name, value in (("dim", dim), ("dim_inner", dim_inner), ("dim_kv", dim_kv), ("dim_out", dim_out)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if num_positions < 0:
            raise ValueError(f"num_positions must be >= 0 (0 = no temporal position), got {num_positions}")
        if init_std < 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.dim, self.dim_inner, self.dim_kv, self.dim_out = int(dim), int(dim_inner), int(dim_kv), int(dim_out)
        self.num_positions = int(num_positions)
        self.scale = self.dim_inner**-0.5
        self.query = _linear(dim, dim_inner, bias=bias, init_std=init_std)
        self.key = _linear(dim_kv, dim_inner, bias=bias, init_std=init_std)
        self.value = _linear(dim_kv, dim_inner, bias=bias, init_std=init_std)
        self.out = _linear(dim_inner, dim_out, bias=bias, init_std=0.0 if zero_init_out else init_std)
        self.norm = nn.LayerNorm(dim_inner, elementwise_affine=False) if layer_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.shortcut = _linear(dim, dim_out, bias=bias, init_std=init_std) if dim != dim_out else nn.Identity()
        if self.num_positions:
            self.position_key = nn.Parameter(torch.zeros(self.num_positions, self.dim_inner))
            self.position_value = nn.Parameter(torch.zeros(self.num_positions, self.dim_inner))

    def forward(
        self, query: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor | None = None,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """``rows`` (N,): the tokens (and mask, positions) hold R rows shared by several queries (e.g. one per clip),
        query i reads row ``rows[i]``; keys and values are computed once per row. Without it R = N."""
        n = query.shape[0]
        if query.ndim != 2 or query.shape[1] != self.dim:
            raise ValueError(f"query must be (N, {self.dim}), got shape {tuple(query.shape)}")
        r = n if rows is None else tokens.shape[0]
        if rows is not None and rows.shape != (n,):
            raise ValueError(f"rows must be ({n},), got shape {tuple(rows.shape)}")
        if tokens.ndim != 3 or tokens.shape[0] != r or tokens.shape[2] != self.dim_kv:
            raise ValueError(f"tokens must be ({r}, L, {self.dim_kv}), got shape {tuple(tokens.shape)}")
        if mask.shape != tokens.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor {tuple(tokens.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
        shortcut = self.shortcut(query)
        if tokens.shape[1] == 0:
            return shortcut
        q = self.query(query)  # (N, I)
        tokens = tokens.masked_fill(~mask[..., None], 0.0)  # whatever padding holds (even NaN) is never read
        k = self.key(tokens)  # (N, L, I)
        v = self.value(tokens)
        if self.num_positions:
            if positions is None:
                raise ValueError("positions (N, L) are needed: this unit has a temporal position embedding")
            if positions.shape != mask.shape:
                raise ValueError(f"positions must be {tuple(mask.shape)}, got {tuple(positions.shape)}")
            positions = positions.masked_fill(~mask, 0)
            if len(positions) and (positions.min() < 0 or positions.max() >= self.num_positions):
                raise ValueError(f"positions of valid tokens must be in 0..{self.num_positions - 1}")
            k = k + self.position_key[positions]
            v = v + self.position_value[positions]
        if rows is not None:
            k, v, mask = k[rows], v[rows], mask[rows]
        logits = torch.einsum("nli,ni->nl", k, q) * self.scale
        logits = logits.masked_fill(~mask, float("-inf"))
        any_valid = mask.any(dim=1, keepdim=True)  # (N, 1)
        weights = torch.softmax(logits.masked_fill(~any_valid, 0.0), dim=1).masked_fill(~mask, 0.0)
        attended = torch.einsum("nl,nli->ni", weights, v)
        update = self.dropout(self.out(torch.relu(self.norm(attended))))
        return shortcut + update * any_valid.to(update.dtype)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, dim_kv={self.dim_kv}, dim_inner={self.dim_inner}, dim_out={self.dim_out}, positions={self.num_positions}"


def _layers(blocks: Sequence[str], structure: str) -> list[str]:
    if isinstance(blocks, str) or not len(blocks):
        raise ValueError(f"blocks must be a non-empty sequence of block kinds ({', '.join(BLOCK_KINDS)}), got {blocks!r}")
    for item in blocks:
        if not isinstance(item, str) or not item or any(c not in BLOCK_KINDS for c in item):
            raise ValueError(f"unknown interaction block {item!r}: kinds are {', '.join(BLOCK_KINDS)}")
    if structure != "parallel":
        bad = [b for b in blocks if len(b) != 1]
        if bad:
            raise ValueError(f"structure {structure!r} takes one block kind per entry, got {bad!r}")
        return list(blocks)
    layers = ["".join(blocks)] if all(len(b) == 1 for b in blocks) else list(blocks)
    if any(layer != layers[0] for layer in layers):
        raise ValueError(f"parallel layers must have the same branches in the same order, got {layers!r}")
    return layers


class IAStructure(nn.Module):
    """AlphAction's interaction aggregation on actor features; see the module docstring.

    ``forward(actors (N, dim_in), batch_index (N,) long, *, context (B, M, dim_context), context_mask (B, M)
    bool, memory (N, L, dim_memory), memory_mask (N, L) bool, memory_offsets (N, L) long, memory_rows (N,) long)``
    (with ``memory_rows``, ``memory`` / its mask / offsets hold R rows, e.g. one per keyframe, and actor i reads
    row ``memory_rows[i]``: the memory is reduced once per row instead of once per actor) -> (N,
    ``out_dim``): ``dim_in`` (``fusion="add"``), ``dim_in + dim_out`` (``"concat"``) or ``dim_out``
    (``"none"``, the aggregated features alone). ``batch_index`` names each actor's clip (0 .. B - 1; B is
    ``context``'s first size when given, else ``max(batch_index) + 1``). Masks default to all valid.
    ``memory_offsets`` are the tokens' time offsets in memory steps (``MemoryBank.gather``'s ``offsets``),
    needed when ``memory_length`` is set and ``temporal_position`` is on: offsets in ``-memory_length ..
    memory_length`` pick one of ``2 * memory_length + 1`` learned embeddings (AlphAction's ``LENGTH``
    before / after, symmetric here; with a :class:`~replaylab.features.memory.MemoryBank` pass its ``steps``).
    ``memory_length=None`` or ``temporal_position=False``: no temporal position, offsets not needed."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_inner: int = 256,
        dim_out: int | None = None,
        blocks: Sequence[str] = ("P", "O", "M"),
        structure: Structure = "serial",
        dropout: float = 0.2,
        layer_norm: bool = True,
        max_person: int = 25,
        max_object: int = 16,
        memory_length: int | None = None,
        temporal_position: bool = True,
        dim_context: int | None = None,
        dim_memory: int | None = None,
        fusion: Fusion = "add",
        bias: bool = True,
        init_std: float = 0.01,
        zero_init_out: bool = True,
    ) -> None:
        super().__init__()
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {', '.join(STRUCTURES)}, got {structure!r}")
        if fusion not in ("add", "concat", "none"):
            raise ValueError(f"fusion must be 'add', 'concat' or 'none', got {fusion!r}")
        dim_out = dim_in if dim_out is None else dim_out
        dim_context = dim_in if dim_context is None else dim_context
        dim_memory = dim_in if dim_memory is None else dim_memory
        for name, value in (
            ("dim_in", dim_in),
            ("dim_inner", dim_inner),
            ("dim_out", dim_out),
            ("dim_context", dim_context),
            ("dim_memory", dim_memory),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if fusion == "add" and dim_out != dim_in:
            raise ValueError(f"fusion 'add' needs dim_out == dim_in, got {dim_out} and {dim_in}")
        if max_person < 1 or max_object < 1:
            raise ValueError(f"max_person and max_object must be >= 1, got {max_person} and {max_object}")
        if memory_length is not None and memory_length < 0:
            raise ValueError(f"memory_length must be >= 0 or None, got {memory_length}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.layers = _layers(blocks, structure)
        self.structure = structure
        self.fusion = fusion
        self.dim_in, self.dim_inner, self.dim_out = int(dim_in), int(dim_inner), int(dim_out)
        self.max_person, self.max_object = int(max_person), int(max_object)
        self.memory_length = memory_length
        self.kinds = set("".join(self.layers))
        self.out_dim = {"add": self.dim_in, "concat": self.dim_in + self.dim_out, "none": self.dim_out}[fusion]
        num_positions = 2 * memory_length + 1 if (memory_length is not None and temporal_position) else 0
        self.num_positions = num_positions

        lin = dict(bias=bias, init_std=init_std)
        self.reduce_dropout = nn.Dropout(dropout)
        self.person_reduce = _linear(dim_in, dim_inner, **lin)
        # the first layer's P blocks read a separately reduced copy of the actors as keys (later ones: states)
        self.person_key_reduce = _linear(dim_in, dim_inner, **lin) if "P" in self.layers[0] else None
        self.context_reduce = _linear(dim_context, dim_inner, **lin) if "O" in self.kinds else None
        self.memory_reduce = _linear(dim_memory, dim_inner, **lin) if "M" in self.kinds else None

        self.blocks = nn.ModuleList()
        self.block_kinds: list[str] = []
        for depth, layer in enumerate(self.layers):
            last = depth == len(self.layers) - 1
            for kind in layer:
                self.blocks.append(
                    InteractionUnit(
                        dim_inner,
                        dim_inner=dim_inner,
                        dim_out=dim_out if last else dim_inner,
                        dropout=dropout,
                        layer_norm=layer_norm,
                        num_positions=num_positions if kind == "M" else 0,
                        bias=bias,
                        init_std=init_std,
                        zero_init_out=zero_init_out,
                    )
                )
                self.block_kinds.append(kind)
        self.dense_logits = nn.ParameterList()
        if structure == "dense":
            for idx in range(2, len(self.layers)):
                init = torch.full((idx, dim_inner), -5 * math.log(10))
                init[idx - 1] = 0.0
                self.dense_logits.append(nn.Parameter(init))

    # ----------------------------------------------------------------------------------------------- tokens
    def _person_tokens(self, states: torch.Tensor, batch_index: torch.Tensor, clips: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per clip the states of its actors (B, Lp, I) and their mask (first ``max_person`` per clip)."""
        n = states.shape[0]
        order = torch.argsort(batch_index, stable=True)
        counts = torch.bincount(batch_index, minlength=clips)
        starts = torch.cumsum(counts, 0) - counts
        sorted_clip = batch_index[order]
        rank = torch.arange(n, device=states.device) - starts[sorted_clip]
        keep = rank < self.max_person
        width = int(min(int(counts.max()), self.max_person)) if n else 0
        padded = states.new_zeros((clips, width, states.shape[1]))
        valid = torch.zeros((clips, width), dtype=torch.bool, device=states.device)
        padded = padded.index_put((sorted_clip[keep], rank[keep]), states[order][keep])
        valid[sorted_clip[keep], rank[keep]] = True
        return padded, valid  # per clip; actor i reads row batch_index[i]

    def _context_tokens(self, context: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = mask & (torch.cumsum(mask.long(), dim=1) <= self.max_object)
        width = int(keep.sum(dim=1).max()) if keep.numel() else 0
        # move the kept tokens to the front (stable), then cut to the widest clip
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
        tokens = torch.gather(context, 1, order[..., None].expand(-1, -1, context.shape[2]))
        return tokens, torch.gather(keep, 1, order)

    # ---------------------------------------------------------------------------------------------- forward
    def forward(
        self,
        actors: torch.Tensor,
        batch_index: torch.Tensor,
        *,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        memory_offsets: torch.Tensor | None = None,
        memory_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if actors.ndim != 2 or actors.shape[1] != self.dim_in:
            raise ValueError(f"actors must be (N, {self.dim_in}), got shape {tuple(actors.shape)}")
        n = actors.shape[0]
        if batch_index.shape != (n,) or batch_index.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"batch_index must be an integer tensor ({n},), got {batch_index.dtype} {tuple(batch_index.shape)}")
        batch_index = batch_index.long()
        if n and batch_index.min() < 0:
            raise ValueError("batch_index must be >= 0")
        clips = int(batch_index.max()) + 1 if n else 0

        context_tokens = context_valid = None
        if "O" in self.kinds:
            if context is None:
                raise ValueError(f"block 'O' ({_BLOCK_NAMES['O']}) needs context tokens (B, M, D); none were given")
            if context.ndim != 3 or context.shape[2] != self.context_reduce.in_features:
                raise ValueError(f"context must be (B, M, {self.context_reduce.in_features}), got shape {tuple(context.shape)}")
            if clips > context.shape[0]:
                raise ValueError(f"batch_index names clip {clips - 1}, but context has {context.shape[0]} clips")
            clips = context.shape[0]
            if context_mask is None:
                context_mask = torch.ones(context.shape[:2], dtype=torch.bool, device=context.device)
            elif context_mask.shape != context.shape[:2] or context_mask.dtype != torch.bool:
                raise ValueError(
                    f"context_mask must be a bool tensor {tuple(context.shape[:2])}, got {context_mask.dtype} {tuple(context_mask.shape)}"
                )
            reduced = self.reduce_dropout(self.context_reduce(context))
            tokens, valid = self._context_tokens(reduced, context_mask)
            context_tokens, context_valid = tokens, valid  # per clip; actor i reads row batch_index[i]

        memory_tokens = memory_valid = positions = memory_index = None
        if "M" in self.kinds:
            if memory is None:
                raise ValueError(f"block 'M' ({_BLOCK_NAMES['M']}) needs memory tokens (N, L, D); none were given")
            rows_n = n if memory_rows is None else memory.shape[0]
            if memory_rows is not None and (
                memory_rows.shape != (n,) or (n and (memory_rows.min() < 0 or memory_rows.max() >= rows_n))
            ):
                raise ValueError(
                    f"memory_rows must be ({n},) indices into the {rows_n} memory rows, got {tuple(memory_rows.shape)}"
                )
            if memory.ndim != 3 or memory.shape[0] != rows_n or memory.shape[2] != self.memory_reduce.in_features:
                raise ValueError(
                    f"memory must be ({rows_n}, L, {self.memory_reduce.in_features}), got shape {tuple(memory.shape)}"
                )
            if memory_mask is None:
                memory_mask = torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device)
            elif memory_mask.shape != memory.shape[:2] or memory_mask.dtype != torch.bool:
                raise ValueError(
                    f"memory_mask must be a bool tensor {tuple(memory.shape[:2])}, got {memory_mask.dtype} {tuple(memory_mask.shape)}"
                )
            memory_tokens, memory_valid = self.reduce_dropout(self.memory_reduce(memory)), memory_mask
            if self.num_positions:
                if memory_offsets is None:
                    raise ValueError("memory_offsets (N, L) are needed: temporal position is on (memory_length is set)")
                if memory_offsets.shape != memory.shape[:2]:
                    raise ValueError(f"memory_offsets must be {tuple(memory.shape[:2])}, got {tuple(memory_offsets.shape)}")
                span = self.memory_length
                bad = memory_mask & (memory_offsets.abs() > span)
                if bool(bad.any()):
                    raise ValueError(f"memory_offsets of valid tokens must be in -{span}..{span}")
                positions = memory_offsets.long() + span
            memory_index = memory_rows.long() if memory_rows is not None else None  # shared rows: reduced once each

        if n == 0:
            return actors.new_zeros((0, self.out_dim))
        query = self.reduce_dropout(self.person_reduce(actors))
        first_person_keys = self.reduce_dropout(self.person_key_reduce(actors)) if self.person_key_reduce is not None else None

        def run(block: InteractionUnit, kind: str, state: torch.Tensor, first: bool) -> torch.Tensor:
            if kind == "P":
                keys = first_person_keys if first else state
                tokens, valid = self._person_tokens(keys, batch_index, clips)
                return block(state, tokens, valid, rows=batch_index)
            if kind == "O":
                return block(state, context_tokens, context_valid, rows=batch_index)
            return block(state, memory_tokens, memory_valid, positions, rows=memory_index)

        if self.structure == "parallel":
            width = len(self.layers[0])
            states = [query] * width
            index = 0
            for depth, layer in enumerate(self.layers):
                states = [run(self.blocks[index + j], kind, states[j], depth == 0) for j, kind in enumerate(layer)]
                index += width
            out = torch.stack(states).sum(0)
        else:
            history: list[torch.Tensor] = []
            state = query
            for idx, (block, kind) in enumerate(zip(self.blocks, self.block_kinds)):
                if self.structure == "dense" and idx >= 2:
                    weights = torch.softmax(self.dense_logits[idx - 2], dim=0)  # (idx, I)
                    state = (torch.stack(history, dim=1) * weights).sum(dim=1)
                state = run(block, kind, state, idx == 0)
                history.append(state)
            out = state

        if self.fusion == "add":
            return actors + out
        if self.fusion == "concat":
            return torch.cat((actors, out), dim=1)
        return out
