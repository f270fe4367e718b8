"""Group-disjoint, label-stratified train / val / test splits.

A *group* is the unit that must never straddle two splits (a match, a video): clips cut from one match
share the pitch, the kits and the light, so a model evaluated on a match it has trained on looks better
than it is. Within that hard constraint the split follows the label distribution as closely as the
groups allow, and each split's size (in samples) follows its fraction.

:func:`grouped_split` works on plain sequences; :func:`split_index` applies it to a
:class:`~replaylab.data.samples.SampleIndex`; :func:`split_header_tool_csv` is the replacement of the
header tool's ``tools/split_dataset.py`` (``replaylab split`` on the command line); its CSVs are read and
written with pandas (:mod:`replaylab.tables`).

Why :func:`grouped_split` is not a scikit-learn splitter: ``StratifiedGroupKFold`` makes k folds of equal
size (a 0.8 / 0.1 / 0.1 split would need 10 folds merged, with no guarantee that each non-empty split gets a
group when there are few), takes one class per sample (AVA keyframes are multi-label) and balances class
shares but not split sizes; ``GroupShuffleSplit`` draws a fraction of the *groups* (not of the samples) and
does not stratify. The greedy assignment here keeps all four guarantees: grouped, stratified as far as the
groups allow (multi-label included), sizes by fraction with every non-empty split holding a group, and
deterministic for a seed. The cross-validation folds of the header filters, which are k equal folds of
single-label rows, do use ``StratifiedGroupKFold`` (:func:`replaylab.filters.xgb.grouped_folds`).
"""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from pathlib import Path

from ..tables import read_table, write_table
from .samples import Sample, SampleIndex

LabelFn = Callable[[Sample], Sequence[int]]

# Weight of the split-size term relative to one label's term in the assignment cost.
_SIZE_WEIGHT = 0.5
# Extra weight of the squared part of a split's size beyond its target (overshoot costs more than shortfall).
_OVERSHOOT_WEIGHT = 1.0


def _check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    if not fractions:
        raise ValueError("split fractions: at least one split is needed, got {}")
    fr = dict(fractions)
    bad = {k: v for k, v in fr.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"split fractions must be finite numbers >= 0, got {bad} in {fr}")
    total = sum(fr.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fr} (sum {total:.6g})")
    return {k: float(v) for k, v in fr.items()}


def _label_tuple(value: int | Sequence[int], pos: int) -> tuple[int, ...]:
    """A sample's labels as a tuple; -1 (no single label) and an empty sequence count no label."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return (int(value),) if value >= 0 else ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"sample {pos}: label {value!r} is neither an int nor a sequence of ints")
    out = []
    for v in value:
        if not isinstance(v, Integral) or isinstance(v, bool) or v < 0:
            raise ValueError(f"sample {pos}: multi-label entry {v!r} is not a class index >= 0")
        out.append(int(v))
    return tuple(out)


def grouped_split(
    groups: Sequence[str],
    labels: Sequence[int | Sequence[int]],
    *,
    fractions: Mapping[str, float],
    seed: int,
) -> dict[str, list[int]]:
    """Split sample positions ``0..len(groups)-1`` into the named splits of ``fractions``.

    - No group is in two splits, and every sample is in exactly one split.
    - Stratified: each split's label counts follow its fraction of each label's total as far as the
      groups allow. A label is an int (-1 = none) or, for multi-label samples, a sequence of ints, each
      of which counts.
    - Each split's sample count follows its fraction; a split with fraction > 0 gets at least one group,
      one with fraction 0 gets nothing.
    - Deterministic for a given ``seed`` (and input); the seed only breaks ties between similar groups.

    Returns ``{split: sorted positions}`` in the order of ``fractions``.
    Raises ValueError for fractions that are negative or do not sum to 1, and for fewer groups than
    splits with a fraction > 0.
    """
    fr = _check_fractions(fractions)
    if len(groups) != len(labels):
        raise ValueError(f"grouped_split: {len(groups)} groups but {len(labels)} labels; need one of each per sample")

    members: dict[str, list[int]] = {}
    group_labels: dict[str, Counter] = {}
    for pos, (g, lab) in enumerate(zip(groups, labels)):
        members.setdefault(g, []).append(pos)
        group_labels.setdefault(g, Counter()).update(_label_tuple(lab, pos))

    active = sorted((s for s, f in fr.items() if f > 0), key=lambda s: -fr[s])  # largest first (stable)
    n_groups = len(members)
    if n_groups < len(active):
        empty = active[n_groups:]
        raise ValueError(
            f"only {n_groups} group(s) for {len(active)} non-empty splits {active}: "
            f"split{'s' if len(empty) > 1 else ''} {', '.join(repr(s) for s in empty)} would be empty "
            "(a group never straddles two splits); use fewer splits or give the empty ones fraction 0"
        )

    n_samples = len(groups)
    label_total: Counter = Counter()
    for c in group_labels.values():
        label_total.update(c)

    # Order: shuffle (seeded), then the groups that are hardest to place first -- the large ones and
    # those holding a big share of a rare label. The stable sort keeps the shuffled order among equals.
    order = sorted(members, key=str)
    random.Random(seed).shuffle(order)

    def difficulty(g: str) -> float:
        share = sum(c / label_total[lab] for lab, c in group_labels[g].items())
        return share + len(members[g]) / max(n_samples, 1)

    order.sort(key=difficulty, reverse=True)

    # Targets (float) and current counts per split.
    size_target = {s: fr[s] * n_samples for s in active}
    label_target = {s: {lab: fr[s] * t for lab, t in label_total.items()} for s in active}
    size_now = dict.fromkeys(active, 0)
    label_now: dict[str, Counter] = {s: Counter() for s in active}
    n_groups_in = dict.fromkeys(active, 0)
    assigned: dict[str, list[int]] = {s: [] for s in fr}

    def cost(s: str, g: str) -> float:
        # Change of a chi-square-like misfit sum((now - target)^2 / target) over the split's label
        # counts and its size, plus an explicit penalty for growing beyond the size target.
        total = 0.0
        for lab, c in group_labels[g].items():
            t = label_target[s][lab]
            d = label_now[s][lab] - t
            total += c * (2 * d + c) / t
        n = len(members[g])
        t = size_target[s]
        d = size_now[s] - t
        total += _SIZE_WEIGHT * n * (2 * d + n) / t
        total += _OVERSHOOT_WEIGHT * (max(0.0, d + n) ** 2 - max(0.0, d) ** 2) / t
        return total

    for i, g in enumerate(order):
        remaining = n_groups - i  # including g
        still_empty = [s for s in active if n_groups_in[s] == 0]
        candidates = still_empty if remaining <= len(still_empty) else active

        # Lowest cost wins; ties: the split furthest below its size target (relative), then fraction order.
        best = min(candidates, key=lambda s, g=g: (round(cost(s, g), 12), size_now[s] / size_target[s]))
        assigned[best].extend(members[g])
        size_now[best] += len(members[g])
        label_now[best].update(group_labels[g])
        n_groups_in[best] += 1

    return {s: sorted(p) for s, p in assigned.items()}


def _sample_labels(sample: Sample, label_fn: LabelFn | None) -> list[int]:
    if label_fn is not None:
        return list(label_fn(sample))
    return [sample.label] if sample.label >= 0 else []


def split_index(
    index: SampleIndex,
    *,
    fractions: Mapping[str, float],
    seed: int,
    label_fn: LabelFn | None = None,
) -> dict[str, SampleIndex]:
    """Split a sample index by ``sample.group``, stratified by ``sample.label`` (or ``label_fn(sample)``,
    a list of class indices, for multi-label tasks). Samples keep their order within each split."""
    groups = [s.group for s in index.samples]
    labels = [_sample_labels(s, label_fn) for s in index.samples]
    positions = grouped_split(groups, labels, fractions=fractions, seed=seed)
    return {name: index.subset([index.samples[p].sample_id for p in pos]) for name, pos in positions.items()}


def class_counts(index_by_split: Mapping[str, SampleIndex], *, label_fn: LabelFn | None = None) -> dict[str, dict[str, int]]:
    """Per split: the count of each class name (every class of the index, zeros included; multi-label
    samples count once per label), plus ``n_samples`` and ``n_groups``."""
    out: dict[str, dict[str, int]] = {}
    for name, idx in index_by_split.items():
        counts = dict.fromkeys(idx.classes, 0)
        for s in idx.samples:
            for lab in _sample_labels(s, label_fn):
                if not 0 <= lab < len(idx.classes):
                    raise ValueError(f"split {name!r}: sample {s.sample_id} has label {lab} outside 0..{len(idx.classes) - 1}")
                counts[idx.classes[lab]] += 1
        counts["n_samples"] = len(idx.samples)
        counts["n_groups"] = len({s.group for s in idx.samples})
        out[name] = counts
    return out


def check_disjoint(index_by_split: Mapping[str, SampleIndex]) -> None:
    """Raise ValueError naming the first group found in two splits."""
    seen: dict[str, str] = {}
    for name, idx in index_by_split.items():
        for s in idx.samples:
            other = seen.setdefault(s.group, name)
            if other != name:
                raise ValueError(f"group {s.group!r} is in split {other!r} and in split {name!r} (sample {s.sample_id})")


# --- the header tool's tools/split_dataset.py -------------------------------------------------------------


def split_header_tool_csv(
    *,
    input_csv: str | os.PathLike,
    output_dir: str | os.PathLike,
    root_dir: str | os.PathLike,
    val_split: float,
    seed: int,
) -> dict:
    """Split the header tool's clip CSV (``path,label[,video_id,...]``) into ``output_dir/train.csv`` and
    ``output_dir/val.csv``.

    All columns are kept, in order; ``path`` becomes the absolute path ``root_dir/path`` (absolute paths
    are kept) and must exist. Groups are the ``video_id`` column, or each clip's parent directory when
    there is none (the summary says which). The split is stratified by ``label``. Returns a summary
    with the sample count per split, ``grouped_by``, group and class counts and the written files.
    """
    input_csv = Path(input_csv)
    output_dir = Path(output_dir)
    root = Path(root_dir)
    if isinstance(val_split, bool) or not isinstance(val_split, (int, float)) or not 0 < val_split < 1:
        raise ValueError(f"val_split must be between 0 and 1 (exclusive), got {val_split!r}")
    table = read_table(input_csv, what="input CSV")
    if table.shape[1] == 0:
        raise ValueError(f"{input_csv}: empty CSV (expected a header with path,label[,video_id,...])")
    header = [str(h).strip() for h in table.columns]
    missing = [c for c in ("path", "label") if c not in header]
    if missing:
        raise ValueError(f"{input_csv}: missing column(s) {missing}; header is {header}")
    i_path, i_label = header.index("path"), header.index("label")
    i_group = header.index("video_id") if "video_id" in header else None

    out_rows: list[list[str]] = []
    groups: list[str] = []
    label_values: list[str] = []
    # row numbers as in the file (header = row 1, blank lines not counted); read_table rejects ragged rows
    for n, row in enumerate(table.itertuples(index=False, name=None), start=2):
        if not any(cell.strip() for cell in row):
            continue
        rel = row[i_path].strip()
        if not rel:
            raise ValueError(f"{input_csv}, row {n}: empty path")
        p = Path(rel)
        full = p if p.is_absolute() else (root / p).resolve()
        if not full.is_file():
            raise ValueError(f"{input_csv}, row {n}: clip {rel!r} not found (looked at {full})")
        label = row[i_label].strip()
        if not label:
            raise ValueError(f"{input_csv}, row {n}: empty label")
        if i_group is not None:
            group = row[i_group].strip()
            if not group:
                raise ValueError(f"{input_csv}, row {n}: empty video_id")
        else:
            group = str(full.parent)
        row = list(row)
        row[i_path] = str(full)
        out_rows.append(row)
        groups.append(group)
        label_values.append(label)
    if not out_rows:
        raise ValueError(f"{input_csv}: no clips listed")

    # Labels are usually 0/1 but any strings work: numeric ones sort numerically.
    def label_key(v: str):
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)

    names = sorted(set(label_values), key=label_key)
    code = {v: i for i, v in enumerate(names)}
    try:
        parts = grouped_split(
            groups, [code[v] for v in label_values], fractions={"train": 1.0 - val_split, "val": val_split}, seed=seed
        )
    except ValueError as e:
        what = "video_id" if i_group is not None else "parent directory"
        raise ValueError(f"{input_csv}: cannot split by {what}: {e}") from e

    summary: dict = {}
    files = {}
    for name in ("train", "val"):
        pos = parts[name]
        path = output_dir / f"{name}.csv"
        write_table(path, header, [out_rows[p] for p in pos])
        summary[name] = len(pos)
        files[name] = str(path)
    summary["grouped_by"] = "video_id" if i_group is not None else "parent_dir"
    if i_group is None:
        summary["note"] = "no video_id column: clips are grouped by their parent directory"
    summary["groups"] = {name: len({groups[p] for p in parts[name]}) for name in ("train", "val")}
    summary["class_counts"] = {
        name: {v: sum(1 for p in parts[name] if label_values[p] == v) for v in names} for name in ("train", "val")
    }
    summary["files"] = files
    return summary
