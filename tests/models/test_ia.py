"""Interaction aggregation: the attention unit and the three AlphAction forms on actor features."""

from __future__ import annotations

import math

import pytest
import torch

from replaylab.models.ia import IAStructure, InteractionUnit

D = 12
FORMS = [
    ("serial", ("P", "O", "M", "P", "O", "M")),
    ("dense", ("P", "O", "M", "P", "O", "M")),
    ("parallel", ("P", "O", "M")),
    ("parallel", ("POM", "POM")),
    ("serial", ("P",)),
    ("dense", ("M", "P")),
]


def _inputs(n_per_clip=(2, 3), m=4, length=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = sum(n_per_clip)
    actors = torch.randn(n, D, generator=g)
    batch_index = torch.cat([torch.full((k,), b) for b, k in enumerate(n_per_clip)])
    context = torch.randn(len(n_per_clip), m, D, generator=g)
    memory = torch.randn(n, length, D, generator=g)
    memory_mask = torch.rand(n, length, generator=g) > 0.3
    offsets = torch.randint(-2, 3, (n, length), generator=g)
    return actors, batch_index, dict(context=context, memory=memory, memory_mask=memory_mask, memory_offsets=offsets)


def _model(structure, blocks, **kw):
    # zero_init_out=False: a zero-initialised output map makes every block the identity, which tests nothing
    options = dict(dim_in=D, dim_inner=8, blocks=blocks, structure=structure, memory_length=2, zero_init_out=False, init_std=0.3)
    options.update(kw)
    return IAStructure(**options).eval()


@pytest.mark.parametrize(("structure", "blocks"), FORMS)
def test_shapes_fusion_and_gradients(structure, blocks):
    actors, bi, extra = _inputs()
    model = _model(structure, blocks).train()
    actors.requires_grad_(True)
    out = model(actors, bi, **extra)
    assert out.shape == (5, D) and torch.isfinite(out).all()
    out.square().sum().backward()
    assert actors.grad is not None and actors.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        if name.startswith(("context_reduce", "memory_reduce", "person_key_reduce", "person_reduce")) or ".out." in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    concat = _model(structure, blocks, fusion="concat", dim_out=7)
    assert concat(actors.detach(), bi, **extra).shape == (5, D + 7) and concat.out_dim == D + 7
    alone = _model(structure, blocks, fusion="none", dim_out=7)
    assert alone(actors.detach(), bi, **extra).shape == (5, 7)


@pytest.mark.parametrize(("structure", "blocks"), FORMS)
def test_zero_initialised_output_maps_make_every_block_the_identity(structure, blocks):
    actors, bi, extra = _inputs()
    model = IAStructure(
        dim_in=D, dim_inner=8, blocks=blocks, structure=structure, memory_length=2, dim_out=5, fusion="none"
    ).eval()
    reduced = model.person_reduce(actors)
    want = model.blocks[-1].shortcut(reduced)  # each block passes its query; the last maps 8 -> 5
    if structure == "parallel":  # the last layer's branches (each with its own shortcut) are summed
        want = sum(block.shortcut(reduced) for block in model.blocks[-len(model.layers[0]) :])
    torch.testing.assert_close(model(actors, bi, **extra), want)


def test_dense_weights_start_on_the_previous_block():
    model = IAStructure(dim_in=D, dim_inner=8, blocks=("P", "O", "M", "P"), structure="dense", memory_length=2)
    assert [tuple(p.shape) for p in model.dense_logits] == [(2, 8), (3, 8)]
    weights = torch.softmax(model.dense_logits[1], 0)
    torch.testing.assert_close(weights[2], torch.full((8,), 1 - 2e-5), atol=1e-6, rtol=0)
    torch.testing.assert_close(weights[:2], torch.full((2, 8), 1e-5), atol=1e-7, rtol=0)
    assert not IAStructure(dim_in=D, blocks=("P", "O"), structure="serial").dense_logits


@pytest.mark.parametrize(("structure", "blocks"), FORMS)
def test_eval_is_deterministic_and_train_mode_uses_dropout(structure, blocks):
    actors, bi, extra = _inputs()
    model = _model(structure, blocks, dropout=0.5)
    torch.testing.assert_close(model(actors, bi, **extra), model(actors, bi, **extra), rtol=0, atol=0)
    model.train()
    torch.manual_seed(1)
    a = model(actors, bi, **extra)
    torch.manual_seed(2)
    assert not torch.equal(a, model(actors, bi, **extra))


@pytest.mark.parametrize(("structure", "blocks"), FORMS)
def test_padded_tokens_do_not_change_outputs(structure, blocks):
    actors, bi, extra = _inputs()
    model = _model(structure, blocks)
    base = model(actors, bi, **extra)
    padded = dict(extra)
    n, length, _ = extra["memory"].shape
    padded["memory"] = torch.cat((extra["memory"], 50 * torch.randn(n, 3, D)), 1)
    padded["memory_mask"] = torch.cat((extra["memory_mask"], torch.zeros(n, 3, dtype=torch.bool)), 1)
    padded["memory_offsets"] = torch.cat((extra["memory_offsets"], torch.full((n, 3), 99)), 1)  # ignored: invalid
    padded["context"] = torch.cat((extra["context"], 50 * torch.randn(2, 2, D)), 1)
    padded["context_mask"] = torch.cat((torch.ones(2, 4, dtype=torch.bool), torch.zeros(2, 2, dtype=torch.bool)), 1)
    torch.testing.assert_close(model(actors, bi, **padded), base)
    # what masked slots hold is never read, not even NaN
    changed = dict(extra)
    changed["memory"] = extra["memory"].masked_fill(~extra["memory_mask"][..., None], float("nan"))
    torch.testing.assert_close(model(actors, bi, **changed), base)


@pytest.mark.parametrize(("structure", "blocks"), FORMS)
def test_clips_do_not_see_each_other(structure, blocks):
    actors, bi, extra = _inputs(n_per_clip=(2, 3, 1))
    model = _model(structure, blocks)
    base = model(actors, bi, **extra)
    other = actors.clone()
    other[bi == 1] += 5 * torch.randn(3, D)
    changed = dict(extra)
    changed["context"] = extra["context"].clone()
    changed["context"][1] += 5
    out = model(other, bi, **changed)
    keep = bi != 1
    torch.testing.assert_close(out[keep], base[keep])
    assert not torch.allclose(out[~keep], base[~keep])


def test_person_block_sees_the_other_actors_of_its_clip_and_a_lone_actor_is_fine():
    actors, bi, _ = _inputs(n_per_clip=(3, 1))
    model = _model("serial", ("P",))
    base = model(actors, bi)
    other = actors.clone()
    other[1] += 5
    out = model(other, bi)
    assert not torch.allclose(out[0], base[0])  # actor 0 attends to actor 1
    torch.testing.assert_close(out[3], base[3])  # the lone actor of clip 1 sees only itself
    assert torch.isfinite(model(actors[3:], torch.zeros(1, dtype=torch.long))).all()
    # no actors at all
    assert model(actors[:0], bi[:0]).shape == (0, D)


def test_max_person_and_max_object_keep_the_first_tokens():
    actors, bi, extra = _inputs(n_per_clip=(4,))
    model = _model("serial", ("P", "O"), max_person=2, max_object=2)
    base = model(actors, bi, **extra)
    other, changed = actors.clone(), dict(extra)
    other[3] += 5  # the 4th actor is no key of anyone: only actor 3's own output changes
    changed["context"] = extra["context"].clone()
    changed["context"][0, 2:] += 5  # context tokens 2 and 3 are beyond max_object
    out = model(other, bi, **changed)
    torch.testing.assert_close(out[:3], base[:3])
    assert not torch.allclose(out[3], base[3])


def test_interaction_unit_masking_lone_rows_and_temporal_position():
    torch.manual_seed(0)
    unit = InteractionUnit(6, dim_inner=4, dim_out=5, num_positions=3, zero_init_out=False, init_std=0.5).eval()
    q, tokens = torch.randn(3, 6), torch.randn(3, 4, 6)
    mask = torch.tensor([[True, True, False, False], [False] * 4, [True, False, True, True]])
    pos = torch.tensor([[0, 2, 0, 0], [0, 0, 0, 0], [1, 1, 2, 0]])
    out = unit(q, tokens, mask, pos)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    torch.testing.assert_close(out[1], unit.shortcut(q[1]))  # no valid token: zero update, not NaN
    # by hand for row 0: softmax over its two valid tokens, LN without affine, ReLU, out, residual
    with torch.no_grad():
        unit.position_key.normal_()
        unit.position_value.normal_()
        out = unit(q, tokens, mask, pos)
        k = unit.key(tokens[0, :2]) + unit.position_key[pos[0, :2]]
        v = unit.value(tokens[0, :2]) + unit.position_value[pos[0, :2]]
        w = torch.softmax(k @ unit.query(q[0]) / math.sqrt(4), 0)
        a = w @ v
        a = (a - a.mean()) / torch.sqrt(a.var(unbiased=False) + 1e-5)
        want = unit.shortcut(q[0]) + unit.out(torch.relu(a))
    torch.testing.assert_close(out[0], want)
    with pytest.raises(ValueError, match="positions"):
        unit(q, tokens, mask)
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        unit(q, tokens, mask.float(), pos)
    empty = unit(q, tokens[:, :0], mask[:, :0], pos[:, :0])
    torch.testing.assert_close(empty, unit.shortcut(q))


def test_bad_arguments_and_missing_tokens_are_named():
    actors, bi, extra = _inputs()
    with pytest.raises(ValueError, match="block 'O' \\(person-object"):
        _model("serial", ("P", "O"))(actors, bi)
    with pytest.raises(ValueError, match="block 'M' \\(memory\\)"):
        _model("serial", ("M",))(actors, bi, context=extra["context"])
    with pytest.raises(ValueError, match="memory_offsets"):
        _model("serial", ("M",))(actors, bi, memory=extra["memory"])
    bad = dict(extra, memory_offsets=torch.full_like(extra["memory_offsets"], 3))
    with pytest.raises(ValueError, match="-2..2"):
        _model("serial", ("M",))(actors, bi, **bad)
    with pytest.raises(ValueError, match="unknown interaction block 'X'"):
        IAStructure(dim_in=D, blocks=("P", "X"))
    with pytest.raises(ValueError, match="structure must be one of"):
        IAStructure(dim_in=D, structure="stacked")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one block kind per entry"):
        IAStructure(dim_in=D, blocks=("PO", "M"))
    with pytest.raises(ValueError, match="same branches"):
        IAStructure(dim_in=D, blocks=("PO", "PM"), structure="parallel")
    with pytest.raises(ValueError, match="fusion 'add' needs dim_out == dim_in"):
        IAStructure(dim_in=D, dim_out=D + 1)
    with pytest.raises(ValueError, match="dropout must be in"):
        IAStructure(dim_in=D, dropout=1.0)
    with pytest.raises(ValueError, match=r"actors must be \(N, 12\)"):
        _model("serial", ("P",))(torch.randn(3, 5), bi[:3])
    with pytest.raises(ValueError, match="context has 2 clips"):
        _model("serial", ("O",))(actors, bi + 1, context=extra["context"])


def test_reads_a_memory_bank_gather():
    from replaylab.features.memory import MemoryBank

    g = torch.Generator().manual_seed(4)
    features = {("v", t): torch.randn(2, D, generator=g).numpy() for t in range(0, 8)}
    bank = MemoryBank(features, span_s=4, max_per_sec=2, stride_s=2)
    mem = bank.gather([("v", 3), ("v", 4)], [2, 1])
    model = _model("dense", ("P", "M", "P", "M"), memory_length=bank.steps)
    actors, bi = torch.randn(3, D, generator=g), torch.tensor([0, 0, 1])
    out = model(actors, bi, memory=mem.tokens, memory_mask=mem.mask, memory_offsets=mem.offsets)
    assert out.shape == (3, D) and torch.isfinite(out).all()


def test_memory_rows_give_the_same_output_as_memory_repeated_per_actor():
    torch.manual_seed(0)
    ia = IAStructure(dim_in=12, dim_inner=8, blocks=("P", "M"), dropout=0.0, memory_length=2, dim_memory=6,
                     zero_init_out=False).eval()  # fmt: skip
    actors, batch_index = torch.randn(5, 12), torch.tensor([0, 0, 1, 1, 1])
    memory, mask = torch.randn(2, 4, 6), torch.tensor([[True, True, False, False], [True, True, True, True]])
    offsets = torch.tensor([[-1, 0, 0, 0], [-2, -1, 1, 2]])
    shared = ia(actors, batch_index, memory=memory, memory_mask=mask, memory_offsets=offsets, memory_rows=batch_index)
    repeated = ia(actors, batch_index, memory=memory[batch_index], memory_mask=mask[batch_index],
                  memory_offsets=offsets[batch_index])  # fmt: skip
    torch.testing.assert_close(shared, repeated)
    with pytest.raises(ValueError, match="memory_rows"):
        ia(
            actors,
            batch_index,
            memory=memory,
            memory_mask=mask,
            memory_offsets=offsets,
            memory_rows=torch.tensor([0, 0, 1, 1, 2]),
        )
