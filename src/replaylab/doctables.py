"""Result tables of the docs, generated from the metrics files of a run.

A table is a named renderer over the JSON files the pipeline writes (``metrics/<stage>.json``) and the
benchmark results (``benchmarks/results/<name>.json``). In a Markdown file a table sits between
``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``, each marker a line of its own: :func:`write_docs` rewrites those blocks, and
:func:`check_docs` names every block that differs from what the files give, and every value a table
expects that the files lack. A missing value renders as ``—``.

Rounding: 3 decimals for 0-1 metrics, 1 decimal for percentages, thousands separators for counts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import write_text

MISSING = "—"
METRICS_DIR = "metrics"
BENCH_DIR = "benchmarks/results"
BENCH_PREFIX = "bench/"  # source names of benchmark results: bench/<file stem>

_BEGIN = re.compile(r"^<!-- table:([A-Za-z0-9_.-]+) -->[ \t]*$", re.MULTILINE)  # a marker is a line of its own


class DocTablesError(Exception):
    """A metrics file that is not JSON, an unknown table or an unterminated marker (names the file)."""


# ----------------------------------------------------------------------------------------------- sources


def load_sources(root: str | Path) -> dict[str, Any]:
    """Parsed metrics and benchmark files under ``root``: ``{"train_header": {...}, "bench/clip_pipeline": {...}}``."""
    root = Path(root)
    sources: dict[str, Any] = {}
    for folder, prefix in ((root / METRICS_DIR, ""), (root / BENCH_DIR, BENCH_PREFIX)):
        for path in sorted(folder.glob("*.json")):
            try:
                sources[prefix + path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise DocTablesError(f"{path}: not a JSON file: {e}") from e
    return sources


def source_path(name: str) -> str:
    """The file a source name comes from, relative to the repository root."""
    if name.startswith(BENCH_PREFIX):
        return f"{BENCH_DIR}/{name[len(BENCH_PREFIX) :]}.json"
    return f"{METRICS_DIR}/{name}.json"


# ----------------------------------------------------------------------------------------------- formats


def _num(fmt: str) -> Callable[[Any], str]:
    def render(v: Any) -> str:
        v = float(v)
        return "NaN" if math.isnan(v) else format(v, fmt)

    return render


prob = _num(".3f")  # a 0-1 metric
pct = _num(".1f")  # a value already in percent
rate = _num(",.1f")  # throughput, seconds
seconds = _num(",.3f")  # short durations


signed = _num("+.3f")  # a difference of 0-1 metrics


def frac_pct(v: Any) -> str:
    """A 0-1 share as a percentage."""
    return pct(100.0 * float(v)) + "%"


def count(v: Any) -> str:
    return f"{int(v):,}"


def times(v: Any) -> str:
    return rate(v) + "x"


def megabytes(v: Any) -> str:
    return f"{float(v) / 1e6:,.0f} MB"


def mega(v: Any) -> str:
    return f"{float(v) / 1e6:.2f} M"


def shape(v: Any) -> str:
    return " x ".join(str(int(d)) for d in v)


def text(v: Any) -> str:
    return str(v)


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown pipe table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ tables


def _dotted(keys: Sequence[str | int]) -> str:
    return ".".join(f"[{k}]" if isinstance(k, int) else k for k in keys).replace(".[", "[")


@dataclass
class Ctx:
    """Lookups of one rendering; records the values a table expects and the files lack."""

    sources: Mapping[str, Any]
    missing: list[str] = field(default_factory=list)

    def get(self, source: str, *keys: str | int, expected: bool = True) -> Any:
        node = self.sources.get(source)
        if node is None:
            if expected:
                self._miss(f"{source_path(source)} is missing")
            return None
        for i, key in enumerate(keys):
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
            else:
                if expected:
                    self._miss(f"{source_path(source)} has no {_dotted(keys[: i + 1])}")
                return None
        return node

    def cell(self, fmt: Callable[[Any], str], source: str, *keys: str | int, expected: bool = True) -> str:
        value = self.get(source, *keys, expected=expected)
        if value is None:
            return MISSING
        try:
            return fmt(value)
        except (TypeError, ValueError):
            if expected:
                self._miss(f"{source_path(source)}: {_dotted(keys)} = {value!r} is not a {fmt.__name__} value")
            return MISSING

    def _miss(self, message: str) -> None:
        if message not in self.missing:
            self.missing.append(message)


@dataclass(frozen=True)
class TableSpec:
    name: str
    summary: str
    render: Callable[[Ctx], str]


TABLES: dict[str, TableSpec] = {}


def _table(name: str, summary: str):
    def register(fn: Callable[[Ctx], str]) -> Callable[[Ctx], str]:
        TABLES[name] = TableSpec(name, summary, fn)
        return fn

    return register


@dataclass(frozen=True)
class Rendered:
    name: str
    text: str
    missing: tuple[str, ...]


def render_table(name: str, sources: Mapping[str, Any]) -> Rendered:
    """Render one registered table from parsed sources (see :func:`load_sources`)."""
    spec = TABLES.get(name)
    if spec is None:
        raise DocTablesError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}")
    ctx = Ctx(sources)
    return Rendered(name, spec.render(ctx), tuple(ctx.missing))


_TASK_ORDER = ("header", "foul", "actions", "recognition", "kd")
# the tasks with a cache and splits of their own (kd reads recognition's)
_DATA_TASKS = ("header", "foul", "actions", "recognition")


def _tasks(sources: Mapping[str, Any], prefix: str, default: Sequence[str] = _TASK_ORDER) -> list[str]:
    """Tasks with a ``<prefix><task>`` metrics file, the built-in ones first (in :data:`_TASK_ORDER`)."""
    found = [k[len(prefix) :] for k in sources if k.startswith(prefix)]
    if not found:
        found = list(default)  # nothing there: the tasks the pipeline makes these files for, reported missing
    return sorted(found, key=lambda t: (_TASK_ORDER.index(t) if t in _TASK_ORDER else len(_TASK_ORDER), t))


_VARIANTS = {
    "pre_filter": "pre-filter alone",
    "cnn": "CNN alone (dense)",
    "pre_filter+cnn": "pre-filter + CNN (ensemble)",
    "cnn+post_filter": "CNN + post-filter",
    "full": "full pipeline",
}


SPREAD = "bench/seed_spread"


def spread(c: Ctx, fmt: Callable[[Any], str], source: str, *keys: str | int) -> str:
    """``mean (min-max)`` of a metric over the seeds of ``benchmarks/results/seed_spread.json``."""
    runs = c.get(SPREAD, "runs")
    if not isinstance(runs, Mapping) or not runs:
        return MISSING
    values = []
    for seed in runs:
        v = c.get(SPREAD, "runs", seed, source, *keys)
        if v is None:
            return MISSING
        try:
            values.append(float(v))
        except (TypeError, ValueError):
            c._miss(f"{source_path(SPREAD)}: runs[{seed}].{source}.{_dotted(keys)} = {v!r} is not a number")
            return MISSING
    mean = sum(values) / len(values)
    return f"{fmt(mean)} ({fmt(min(values))}–{fmt(max(values))})"


def _n_seeds(c: Ctx) -> str:
    seeds = c.get(SPREAD, "seeds", expected=False)
    return str(len(seeds)) if isinstance(seeds, list) else "3"


_RESULT_ROWS = (
    ("header clip classifier", "AUROC", prob, "train_header", ("{split}", "auroc")),
    ("header clip classifier", "AP", prob, "train_header", ("{split}", "ap")),
    ("header clip classifier", "F1", prob, "train_header", ("{split}", "f1")),
    ("header pre-filter", "event recall", prob, "pre_xgb", ("{split}", "event_recall")),
    ("header pre-filter", "frames kept", frac_pct, "pre_xgb", ("{split}", "frames_kept")),
    ("header detection, full pipeline", "F1 at ±{tol} s", prob, "eval_header", ("{split}", "full", "f1")),
    ("header detection, full pipeline", "average-mAP", prob, "eval_header", ("{split}", "full", "soccernet_a_mAP")),
    ("multi-view foul", "leaderboard value (%)", pct, "eval_foul", ("{split}", "leaderboard_value")),
    ("multi-view foul", "balanced acc. action (%)", pct, "eval_foul", ("{split}", "balanced_accuracy_action")),
    (
        "multi-view foul",
        "balanced acc. offence-severity (%)",
        pct,
        "eval_foul",
        ("{split}", "balanced_accuracy_offence_severity"),
    ),
    ("person actions (AVA layout)", "frame-mAP (official rules)", prob, "eval_actions", ("{split}", "frame_map")),
    ("person actions (AVA layout)", "box-prior baseline frame-mAP", prob, "eval_actions", ("{split}", "box_prior_frame_map")),
    ("clip recognition (UCF101 layout)", "top-1", prob, "eval_recognition", ("{split}", "top1")),
    ("distillation fusion (kd)", "fusion top-1 (student + converters)", prob, "eval_kd", ("fusion", "{split}", "top1")),
    ("distillation fusion (kd)", "student alone top-1", prob, "eval_kd", ("student", "{split}", "top1")),
    (
        "distillation fusion (kd)",
        "teacher alone top-1 ({teacher}, upper reference)",
        prob,
        "eval_kd",
        ("{teacher}", "{split}", "top1"),
    ),
    ("distillation fusion (kd)", "fusion gain over student (top-1)", signed, "eval_kd", ("gain_over_student", "{split}")),
)


def _kd_teachers(c: Ctx) -> list[str]:
    """The teachers of ``metrics/eval_kd.json`` (its ``teachers`` list, else its ``teacher_<key>`` rows)."""
    teachers = c.get("eval_kd", "teachers", expected=False)
    if isinstance(teachers, list) and teachers:
        return [str(t) for t in teachers]
    node = c.get("eval_kd", expected=False)
    return [k.removeprefix("teacher_") for k in node if k.startswith("teacher_")] if isinstance(node, Mapping) else []


def _row_keys(c: Ctx, keys: tuple[str, ...], split: str) -> tuple[str, ...]:
    """A headline row's keys for ``split``; ``{teacher}`` is the first teacher's row of ``eval_kd``."""
    teachers = _kd_teachers(c) if "{teacher}" in keys else []
    teacher = f"teacher_{teachers[0]}" if teachers else "teacher"
    return tuple(split if k == "{split}" else teacher if k == "{teacher}" else k for k in keys)


def _row_label(c: Ctx, metric: str) -> str:
    teachers = _kd_teachers(c) if "{teacher}" in metric else []
    return metric.format(tol=c.cell(text, "eval_header", "tolerance_s"), teacher=f"`{teachers[0]}`" if teachers else MISSING)


@_table("results", "the default run's headline results (README), with the spread over training seeds")
def _results(c: Ctx) -> str:
    rows = []
    for task, metric, fmt, source, keys in _RESULT_ROWS:
        rows.append(
            [task, _row_label(c, metric)]
            + [c.cell(fmt, source, *_row_keys(c, keys, s)) for s in ("val", "test")]
            + [spread(c, fmt, source, *_row_keys(c, keys, s)) for s in ("val", "test")]
        )
    n = _n_seeds(c)
    return md_table(
        ["task", "metric", "val", "test", f"val, {n} seeds: mean (min–max)", f"test, {n} seeds: mean (min–max)"], rows
    )


@_table("seed_spread", "benchmarks/seed_spread.py: every headline test metric per training seed")
def _seed_spread(c: Ctx) -> str:
    seeds = c.get(SPREAD, "seeds") or []
    rows = []
    for task, metric, fmt, source, keys in _RESULT_ROWS:
        keys = _row_keys(c, keys, "test")
        rows.append([task, _row_label(c, metric)] + [c.cell(fmt, SPREAD, "runs", str(s), source, *keys) for s in seeds])
    varied = ", ".join(f"`{k}`" for k in (c.get(SPREAD, "varied") or []))
    note = f"(test split; seeds set for {varied}; data fixed; {c.cell(text, SPREAD, 'machine')})"
    return md_table(["task", "metric"] + [f"seed {s}" for s in seeds], rows) + "\n\n" + note


_VS_ROWS = (
    ("header clip classifier: val AUROC", prob, "train_header", ("val", "auroc")),
    ("header clip classifier: val AP", prob, "train_header", ("val", "ap")),
    ("header clip classifier: test AUROC", prob, "train_header", ("test", "auroc")),
    ("header clip classifier: test AP", prob, "train_header", ("test", "ap")),
    ("header: CNN alone (dense), test F1", prob, "eval_header", ("test", "cnn", "f1")),
    ("header: full pipeline, test F1", prob, "eval_header", ("test", "full", "f1")),
    ("foul: leaderboard value, val (%)", pct, "eval_foul", ("val", "leaderboard_value")),
    ("foul: leaderboard value, test (%)", pct, "eval_foul", ("test", "leaderboard_value")),
)


@_table("pretrained_vs_scratch", "the default run (pretrained I3D features) against the from-scratch baseline run")
def _pretrained_vs_scratch(c: Ctx) -> str:
    base = "bench/baseline_from_scratch"
    rows = [
        [label, c.cell(fmt, base, "metrics", source, *keys), c.cell(fmt, source, *keys), spread(c, fmt, source, *keys)]
        for label, fmt, source, keys in _VS_ROWS
    ]
    n = _n_seeds(c)
    head = ["metric", "from scratch (`compact3d`, video)", "I3D features (default)", f"I3D features, {n} seeds: mean (min–max)"]
    rev = c.cell(lambda v: str(v)[:10], base, "rev")
    return (
        md_table(head, rows)
        + f"\n\n(from scratch: the committed run of `{rev}`, `benchmarks/results/baseline_from_scratch.json`)"
    )


@_table("bench_i3d_speed", "benchmarks/i3d_kinetics.py: I3D forward speed per input size and endpoint")
def _bench_i3d_speed(c: Ctx) -> str:
    src = "bench/i3d_kinetics"
    rows = []
    for i, _ in enumerate(c.get(src, "speed") or []):
        rows.append([c.cell(text, src, "speed", i, "input"), f"`{c.cell(text, src, 'speed', i, 'endpoint')}`",
                     c.cell(shape, src, "speed", i, "map"), c.cell(rate, src, "speed", i, "clips_per_s")])  # fmt: skip
    load = c.get(src, "load_average")
    note = (f"(batch {c.cell(text, src, 'batch')}, {c.cell(text, src, 'threads')} threads, {c.cell(text, src, 'machine')}, "
            f"{c.cell(text, src, 'cpus')} cores, torch {c.cell(text, src, 'torch')}; load average at start "
            f"{load[0] if isinstance(load, list) and load else MISSING})")  # fmt: skip
    return md_table(["input (T x H x W)", "endpoint", "map (C x T x H x W)", "clips/s"], rows) + "\n\n" + note


@_table("bench_i3d_top5", "benchmarks/i3d_kinetics.py: the Kinetics-400 top-5 of the real weights on rendered clips")
def _bench_i3d_top5(c: Ctx) -> str:
    src = "bench/i3d_kinetics"
    rows = []
    for i, _ in enumerate(c.get(src, "top5") or []):
        top = c.get(src, "top5", i, "top5") or []
        rows.append([f"`{c.cell(text, src, 'top5', i, 'video')}`", c.cell(count, src, "top5", i, "frames"),
                     "; ".join(f"{t['class']} {float(t['p']):.2f}" for t in top)])  # fmt: skip
    return md_table(["clip", "frames", "top-5 Kinetics-400 classes (softmax p)"], rows)


@_table("header_classifier", "train@header: the clip classifier on val and test")
def _header_classifier(c: Ctx) -> str:
    splits = ("val", "test")
    rows = [
        ["matches"] + [c.cell(count, "split_header", "splits", s, "n_groups") for s in splits],
        ["clips"] + [c.cell(count, "train_header", "clips", s) for s in splits],
    ]
    for key, label in (
        ("auroc", "AUROC"),
        ("ap", "AP"),
        ("f1", "F1"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("accuracy", "accuracy"),
    ):
        rows.append([label] + [c.cell(prob, "train_header", s, key) for s in splits])
    return md_table(["", "val", "test"], rows)


@_table("train_runs", "train@<task>: backbone, size and the selected epoch of each trained task")
def _train_runs(c: Ctx) -> str:
    rows = []
    for task in _tasks(c.sources, "train_", default=("header", "foul")):
        if task == "prompt":  # prompt_tune's run (learned prompts over a frozen CLIP): docs/tasks/prompt.md
            continue
        src = f"train_{task}"
        rows.append(
            [
                f"`{task}`",
                c.cell(text, src, "backbone"),
                c.cell(text, src, "input", expected=False),
                c.cell(mega, src, "parameters"),
                c.cell(count, src, "best_epoch"),
                c.cell(count, src, "epochs_run"),
                c.cell(lambda v: "yes" if v else "no", src, "stopped_early"),
            ]
        )
    return md_table(["task", "backbone", "input", "trained parameters", "best epoch", "epochs run", "stopped early"], rows)


@_table("header_prefilter", "pre_xgb: the tracking pre-filter (cv = train + val out-of-fold)")
def _header_prefilter(c: Ctx) -> str:
    splits = ("cv", "val", "test")
    rows = [
        ["matches"] + [c.cell(count, "pre_xgb", s, "n_matches") for s in splits],
        ["headers"] + [c.cell(count, "pre_xgb", s, "n_headers") for s in splits],
        ["frame AUROC"] + [c.cell(prob, "pre_xgb", s, "auroc") for s in splits],
        ["event recall at the threshold"] + [c.cell(prob, "pre_xgb", s, "event_recall") for s in splits],
        ["headers missed"] + [c.cell(count, "pre_xgb", s, "headers_missed") for s in splits],
        ["frames kept"] + [c.cell(frac_pct, "pre_xgb", s, "frames_kept") for s in splits],
        ["CNN-window reduction"] + [c.cell(times, "pre_xgb", s, "window_reduction") for s in splits],
    ]
    return md_table(["pre-filter", "cv (out-of-fold)", "val", "test"], rows)


def _ablation(c: Ctx, split: str) -> str:
    variants = c.get("eval_header", "variants", expected=False) or list(_VARIANTS)
    rows = []
    for v in variants:
        rows.append(
            [_VARIANTS.get(v, v)]
            + [c.cell(prob, "eval_header", split, v, k) for k in ("precision", "recall", "f1", "ap", "soccernet_a_mAP")]
        )
    head = ["variant", "precision", "recall", "F1", "AP", "average-mAP"]
    note = (
        f"{c.cell(count, 'eval_header', split, 'matches')} matches, "
        f"{c.cell(count, 'eval_header', split, 'headers')} headers, "
        f"tolerance ±{c.cell(text, 'eval_header', 'tolerance_s')} s"
    )
    return md_table(head, rows) + f"\n\n({split}: {note})"


@_table("header_ablation", "evaluate@header: every stage of the detector on the test matches")
def _header_ablation_test(c: Ctx) -> str:
    return _ablation(c, "test")


@_table("header_ablation_val", "evaluate@header: every stage of the detector on the val matches")
def _header_ablation_val(c: Ctx) -> str:
    return _ablation(c, "val")


@_table("header_export", "export_probs: where the CNN ran")
def _header_export(c: Ctx) -> str:
    rows = [
        [
            c.cell(count, "export_probs", "frames"),
            c.cell(count, "export_probs", "cnn_windows"),
            c.cell(frac_pct, "export_probs", "kept_fraction"),
            c.cell(count, "export_probs", "dense_windows", expected=False),
        ]
    ]
    return md_table(["video frames", "CNN windows at candidates", "frames kept", "dense CNN windows (val, test)"], rows)


@_table("foul_results", "evaluate@foul: the official MVFoul metrics on val and test (percent)")
def _foul_results(c: Ctx) -> str:
    rows = []
    for s in ("val", "test"):
        rows.append(
            [s, c.cell(count, "eval_foul", s, "actions_counted")]
            + [
                c.cell(pct, "eval_foul", s, k)
                for k in (
                    "balanced_accuracy_action",
                    "balanced_accuracy_offence_severity",
                    "leaderboard_value",
                    "accuracy_action",
                    "accuracy_offence_severity",
                )
            ]
        )
    head = [
        "split",
        "actions counted",
        "balanced acc. action",
        "balanced acc. offence-severity",
        "leaderboard value",
        "accuracy action",
        "accuracy offence-severity",
    ]
    return md_table(head, rows)


@_table("actions_per_class", "evaluate@actions: AP per class (official AVA frame-mAP rules) against the box-prior baseline")
def _actions_per_class(c: Ctx) -> str:
    classes = list(c.get("eval_actions", "test", "per_class_ap") or {})
    rows = []
    for name in classes:
        rows.append([name] + [c.cell(count, "eval_actions", s, "gt_boxes", name) for s in ("val", "test")]
                    + [c.cell(prob, "eval_actions", s, key, name) for s in ("val", "test")
                       for key in ("per_class_ap", "box_prior_per_class_ap")])  # fmt: skip
    rows.append(["**frame-mAP** (classes with ground truth)", "", ""]
                + [c.cell(prob, "eval_actions", s, key) for s in ("val", "test") for key in ("frame_map", "box_prior_frame_map")])  # fmt: skip
    rows.append(
        ["random scores (chance)", "", ""]
        + [x for s in ("val", "test") for x in (c.cell(prob, "eval_actions", s, "random_frame_map"), "")]
    )
    return md_table(["class", "val boxes", "test boxes", "val AP", "val box prior", "test AP", "test box prior"], rows)


@_table("recognition_per_class", "evaluate@recognition: accuracy per class of the plain clip classifier on val and test")
def _recognition_per_class(c: Ctx) -> str:
    src, splits = "eval_recognition", ("val", "test")
    classes = list(c.get(src, "test", "per_class_accuracy") or c.get(src, "val", "per_class_accuracy", expected=False) or {})
    rows = [[name] + [c.cell(prob, src, s, "per_class_accuracy", name, expected=False) for s in splits] for name in classes]
    rows += [
        ["**top-1**"] + [c.cell(prob, src, s, "top1") for s in splits],
        ["top-5"] + [c.cell(prob, src, s, "top5") for s in splits],
        ["mean class accuracy"] + [c.cell(prob, src, s, "mean_class_accuracy") for s in splits],
        ["majority class (top-1)"] + [c.cell(prob, src, s, "majority_top1") for s in splits],
        ["clips"] + [c.cell(count, src, s, "clips") for s in splits],
    ]
    return md_table(["class", "val accuracy", "test accuracy"], rows)


_KD_ROWS = {"fusion": "fusion: student + converters + head (runs without teachers)", "student": "student alone"}


@_table("kd_results", "evaluate@kd: fusion, student alone and each teacher alone on val and test; the converters")
def _kd_results(c: Ctx) -> str:
    src, splits, n = "eval_kd", ("val", "test"), _n_seeds(c)
    teachers = _kd_teachers(c)
    present = c.get(src, expected=False)
    rows_of = ["fusion", "student", *(f"teacher_{t}" for t in teachers)]
    if isinstance(present, Mapping):  # a run without reference heads (train.kd.references: false) has the fusion row only
        rows_of = [r for r in rows_of if r == "fusion" or r in present]
    rows = []
    for row in rows_of:
        label = _KD_ROWS.get(row) or f"teacher alone: `{row.removeprefix('teacher_')}` (upper reference)"
        rows.append([label] + [c.cell(prob, src, row, s, m) for m in ("top1", "top5", "mean_class_accuracy") for s in splits]
                    + [spread(c, prob, src, row, "test", "top1")])  # fmt: skip
    if "student" in rows_of:
        rows.append(["fusion gain over student (top-1)"] + [c.cell(signed, src, "gain_over_student", s) for s in splits]
                    + [""] * 4 + [spread(c, signed, src, "gain_over_student", "test")])  # fmt: skip
    head = ["row", "val top-1", "test top-1", "val top-5", "test top-5", "val mean class acc.", "test mean class acc.",
            f"test top-1, {n} seeds: mean (min–max)"]  # fmt: skip
    conv = []
    for t in teachers:
        conv.append([f"`{t}`"] + [c.cell(prob, src, "converters", t, s, m) for s in splits for m in ("r2", "cosine")]
                    + [c.cell(count, "train_kd", "converters", t, "best_epoch"), c.cell(count, "train_kd", "converters", t, "epochs_run"),
                       spread(c, prob, src, "converters", t, "test", "r2")])  # fmt: skip
    conv_head = ["converter: student -> teacher", "val R²", "val cosine", "test R²", "test cosine", "best epoch", "epochs run",
                 f"test R², {n} seeds: mean (min–max)"]  # fmt: skip
    note = (f"(clips: val {c.cell(count, src, 'fusion', 'val', 'clips')}, test {c.cell(count, src, 'fusion', 'test', 'clips')}; "
            f"{c.cell(count, src, 'classes')} classes; R² and cosine against the teacher's standardised features)")  # fmt: skip
    return md_table(head, rows) + "\n\n" + md_table(conv_head, conv) + "\n\n" + note


@_table("prompt_fewshot", "prompt_fewshot: test top-1 per method and K over the seeds; all clips and unseen classes")
def _prompt_fewshot(c: Ctx) -> str:
    src = "eval_prompt"
    runs = c.get(src, "runs") or {}
    ks = [str(k) for k in (c.get(src, "k") or [])]
    n = len(c.get(src, "seeds") or [])

    def cell(run: str, k: str, metric: str) -> str:
        mean = c.get(src, "runs", run, k, metric, "mean")
        lo, hi = c.get(src, "runs", run, k, metric, "min"), c.get(src, "runs", run, k, metric, "max")
        if mean is None:
            return MISSING
        return prob(mean) if lo == hi else f"{prob(mean)} ({prob(lo)}–{prob(hi)})"

    def beats(run: str, k: str) -> str:
        v = c.get(src, "vs_zero_shot", run, k, expected=False)
        if not isinstance(v, Mapping):
            return ""
        return f"{signed(v['gain_unseen'])} vs spread {prob(v['spread_unseen'])}: {'yes' if v['beats_zero_shot'] else 'no'}"

    rows = [[f"`{run}`"] + [cell(run, k, m) for k in ks for m in ("top1", "top1_unseen")] for run in runs]
    head = ["run"] + [f"K={k} {what}" for k in ks for what in ("all classes", "unseen classes")]
    verdict_rows = [[f"`{run}`"] + [beats(run, k) for k in ks] for run in c.get(src, "vs_zero_shot", expected=False) or {}]
    note = (f"(test top-1 over {n} seeds: mean (min–max); {c.cell(count, src, 'test_clips')} test clips, "
            f"{c.cell(count, src, 'test_clips_unseen')} of them of the unseen classes "
            f"{', '.join(c.get(src, 'unseen_classes') or [])}; zero-shot trains nothing and is the same for every K)")  # fmt: skip
    table = md_table(head, rows) + "\n\n" + note
    if verdict_rows:
        table += "\n\n" + md_table(["run: gain over zero-shot on unseen classes"] + [f"K={k}" for k in ks], verdict_rows)
    return table


@_table("caches", "cache_clips@<task>: what each clip cache holds")
def _caches(c: Ctx) -> str:
    rows = []
    for task in _tasks(c.sources, "cache_", default=_DATA_TASKS):
        src = f"cache_{task}"
        rows.append(
            [
                f"`{task}`",
                c.cell(count, src, "clips"),
                c.cell(count, src, "sources"),
                c.cell(count, src, "skipped_samples"),
                c.cell(shape, src, "clip_shape"),
                c.cell(megabytes, src, "bytes"),
            ]
        )
    return md_table(["task", "samples", "source videos", "skipped samples", "clip shape", "file size"], rows)


@_table("splits", "split@<task>: samples (groups) per split")
def _splits(c: Ctx) -> str:
    rows = []
    for task in _tasks(c.sources, "split_", default=_DATA_TASKS):
        src = f"split_{task}"
        cells = [f"`{task}`"]
        for s in ("train", "val", "test"):
            cells.append(f"{c.cell(count, src, 'splits', s, 'n_samples')} ({c.cell(count, src, 'splits', s, 'n_groups')})")
        cells.append(c.cell(count, src, "groups_in_two_splits"))
        rows.append(cells)
    return md_table(["task", "train", "val", "test", "groups in two splits"], rows)


@_table("synthetic_world", "synthesize: what the default synthetic world holds (absent with real data only)")
def _synthetic_world(c: Ctx) -> str:
    g = lambda fmt, *keys: c.cell(fmt, "synthesize", *keys, expected=False)
    rows = [
        ["matches", g(count, "matches")],
        ["match video frames", g(count, "match_frames")],
        ["header clips (header-tool layout), positives", f"{g(count, 'header_clips')}, {g(count, 'header_clip_positives')}"],
        [
            "MVFoul actions train / valid / test",
            " / ".join(g(count, "foul_actions", s) for s in ("train", "valid", "test")),
        ],
        ["recognition clips (UCF101 layout)", g(count, "recognition_clips")],
        ["AVA rows / keyframes, train", f"{g(count, 'ava_train_rows')} / {g(count, 'ava_train_keyframes')}"],
        ["AVA rows / keyframes, val", f"{g(count, 'ava_val_rows')} / {g(count, 'ava_val_keyframes')}"],
    ]
    events = c.get("synthesize", "events", expected=False)
    if isinstance(events, Mapping):
        rows += [[f"match events: `{k}`", count(v)] for k, v in events.items()]
    return md_table(["synthetic data", "count"], rows)


# ------------------------------------------------------------------------------------------- benchmarks


@_table("bench_clip_pipeline", "benchmarks/clip_pipeline.py: decode, cache build, reads and loading share")
def _bench_clip_pipeline(c: Ctx) -> str:
    src = "bench/clip_pipeline"
    tasks = c.get(src, "tasks") or {}
    rows = []
    for task in tasks:
        k = ("tasks", task)
        rows.append(
            [
                f"`{task}`",
                c.cell(rate, src, *k, "a", "raw_decode_fps"),
                c.cell(rate, src, *k, "a", "cache_build_fps"),
                c.cell(prob, src, *k, "a", "ratio"),
                c.cell(rate, src, *k, "a", "cache_build_fps_2_workers", expected=False),
                c.cell(rate, src, *k, "b", "cache_reads_per_s"),
                c.cell(rate, src, *k, "b", "on_the_fly_reads_per_s"),
                c.cell(rate, src, *k, "b", "ratio"),
                c.cell(frac_pct, src, *k, "c", "loading_share"),
            ]
        )
    head = [
        "task",
        "(a) raw decode fps",
        "(a) cache build fps",
        "(a) ratio",
        "(a) build fps, 2 workers",
        "(b) cache reads/s",
        "(b) on-the-fly reads/s",
        "(b) ratio",
        "(c) loading share of step",
    ]
    return md_table(head, rows) + f"\n\n(machine: {c.cell(text, src, 'machine')})"


def _bench_train(c: Ctx, src: str) -> str:
    rows = []
    for i, r in enumerate(c.get(src, "rows") or []):
        k = ("rows", i)
        rows.append(
            [
                f"`{r.get('backbone', MISSING)}`",
                c.cell(mega, src, *k, "parameters"),
                c.cell(rate, src, *k, "in_memory_clips_per_s"),
                c.cell(rate, src, *k, "loader_clips_per_s"),
                c.cell(frac_pct, src, *k, "loader_share"),
            ]
        )
    head = ["backbone", "parameters", "in-memory clips/s", "through the loader clips/s", "loader share of step"]
    return md_table(head, rows) + (
        f"\n\n(machine: {c.cell(text, src, 'machine')}; input {c.cell(shape, src, 'input')}, "
        f"batch {c.cell(count, src, 'batch')}, loader workers: {c.cell(count, src, 'loader_workers')})"
    )


@_table("bench_train_workers1", "benchmarks/train_throughput.py --workers 1")
def _bench_train_w1(c: Ctx) -> str:
    return _bench_train(c, "bench/train_throughput_workers1")


@_table("bench_train_workers0", "benchmarks/train_throughput.py --workers 0")
def _bench_train_w0(c: Ctx) -> str:
    return _bench_train(c, "bench/train_throughput_workers0")


@_table("bench_detect", "benchmarks/detect_throughput.py: replaylab detect with and without the pre-filter")
def _bench_detect(c: Ctx) -> str:
    src = "bench/detect_throughput"
    rows = []
    for i, r in enumerate(c.get(src, "rows") or []):
        k = ("rows", i)
        rows.append(
            [
                str(r.get("variant", MISSING)),
                c.cell(count, src, *k, "cnn_windows"),
                c.cell(rate, src, *k, "seconds"),
                c.cell(rate, src, *k, "x_real_time"),
                c.cell(frac_pct, src, *k, "windows_cover_headers"),
                c.cell(prob, src, *k, "precision"),
                c.cell(prob, src, *k, "recall"),
                c.cell(prob, src, *k, "f1"),
            ]
        )
    head = ["", "CNN windows", "seconds", "x real time", "headers with a CNN window", "precision", "recall", "F1"]
    stages = c.get(src, "stage_seconds") or {}
    stage_text = ", ".join(f"{k} {rate(v)} s" for k, v in stages.items()) or MISSING
    return md_table(head, rows) + (
        f"\n\n(match `{c.cell(text, src, 'match')}`: {c.cell(count, src, 'frames')} frames, "
        f"{c.cell(count, src, 'headers')} headers; CNN-window reduction {c.cell(times, src, 'window_reduction')}; "
        f"stage seconds with the pre-filter: {stage_text})"
    )


@_table("bench_feature_mode", "benchmarks/feature_mode.py: epoch time of the same head in video and in features mode")
def _bench_feature_mode(c: Ctx) -> str:
    src = "bench/feature_mode"
    rows = []
    for mode, what in (
        ("video", "video (frozen backbone forward every step)"),
        ("features", "features (head on stored pooled vectors)"),
    ):
        rows.append([what, c.cell(seconds, src, mode, "epoch_s"), c.cell(rate, src, mode, "train_clips_per_s")])
    head = ["mode", "epoch (train + val) s", "training clips/s"]
    return md_table(head, rows) + (
        f"\n\n(`{c.cell(text, src, 'backbone')}` at {c.cell(shape, src, 'input')} from the {c.cell(shape, src, 'cache_input')} "
        f"header cache, {c.cell(count, src, 'train_samples')} training and {c.cell(count, src, 'val_samples')} val clips, "
        f"batch {c.cell(count, src, 'batch')}, fastest of {c.cell(count, src, 'epochs')} epochs; speed-up per epoch "
        f"{c.cell(times, src, 'speedup_epoch')}, training pass {c.cell(times, src, 'speedup_train')}; featurizing once "
        f"{c.cell(rate, src, 'featurize_s')} s; machine: {c.cell(text, src, 'machine')})"
    )


@_table("bench_kd_modes", "benchmarks/kd_modes.py: kd fusion training in video and features mode; student vs teacher cost")
def _bench_kd_modes(c: Ctx) -> str:
    src = "bench/kd_modes"
    student = c.cell(text, src, "student")
    rows = [
        [f"{mode} fusion training", c.cell(rate, src, "modes", mode, "iterations_per_s"),
         c.cell(rate, src, "modes", mode, "clips_per_s"), "—", "—", "—"]
        for mode in ("video", "features")
    ]  # fmt: skip
    for key in c.get(src, "cost_per_clip") or {}:
        k = ("cost_per_clip", key)
        rows.append([f"`{key}` ({c.cell(text, src, *k, 'role')}) forward", "—", "—", c.cell(shape, src, *k, "input"),
                     c.cell(rate, src, *k, "gflops_per_clip"), c.cell(rate, src, *k, "ms_per_clip")])  # fmt: skip
    rows.append(["kd model at test time (student + converters + fusion)", "—", "—", c.cell(shape, src, "cache_input"),
                 c.cell(rate, src, "kd_inference", "gflops_per_clip"), c.cell(rate, src, "kd_inference", "ms_per_clip")])  # fmt: skip
    head = ["", "iterations/s", "clips/s", "input", "GFLOPs per clip", "ms per clip"]
    ratios = ", ".join(f"`{t}` {times(v)}" for t, v in (c.get(src, "teacher_over_student_gflops") or {}).items()) or MISSING
    return md_table(head, rows) + (
        f"\n\n(features mode {c.cell(times, src, 'ratio_features_over_video')} video mode in iterations/s; student "
        f"`{student}`, teachers over the student in GFLOPs: {ratios}; batch {c.cell(count, src, 'batch')}, "
        f"{c.cell(count, src, 'cache_clips')} cached clips, {c.cell(count, src, 'threads')} torch threads, load average "
        f"{c.cell(rate, src, 'load_average_start', 0)} at the start; machine: {c.cell(text, src, 'machine')})"
    )


# ------------------------------------------------------------------------------------------------ splice


@dataclass(frozen=True)
class Block:
    name: str
    line: int  # 1-based line of the begin marker
    start: int  # offset just after the begin marker
    end: int  # offset of the end marker
    content: str


def find_blocks(doc: str, where: str = "<text>") -> list[Block]:
    """The table blocks of a Markdown text; an unterminated or nested marker is an error naming ``where``."""
    blocks = []
    pos = 0
    while (m := _BEGIN.search(doc, pos)) is not None:
        name = m.group(1)
        end_marker = f"<!-- /table:{name} -->"
        m_end = re.compile(rf"^{re.escape(end_marker)}[ \t]*$", re.MULTILINE).search(doc, m.end())
        line = doc.count("\n", 0, m.start()) + 1
        if m_end is None:
            raise DocTablesError(f"{where}:{line}: <!-- table:{name} --> has no {end_marker} line")
        inner = _BEGIN.search(doc, m.end(), m_end.start())
        if inner is not None:
            raise DocTablesError(f"{where}:{line}: table {name} is not closed before table {inner.group(1)} starts")
        blocks.append(Block(name, line, m.end(), m_end.start(), doc[m.end() : m_end.start()]))
        pos = m_end.end()
    return blocks


def _content(table_text: str) -> str:
    return "\n" + table_text.strip("\n") + "\n"


def splice(doc: str, tables: Mapping[str, str], where: str = "<text>") -> str:
    """``doc`` with every block whose name is in ``tables`` replaced by that table."""
    out, pos = [], 0
    for b in find_blocks(doc, where):
        if b.name in tables:
            out += [doc[pos : b.start], _content(tables[b.name])]
            pos = b.end
    out.append(doc[pos:])
    return "".join(out)


def doc_files(root: str | Path) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    root = Path(root)
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    return files + sorted((root / "docs").rglob("*.md"))


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)  # differences and expected values the files lack
    changed: list[str] = field(default_factory=list)  # "<file>: <table>" rewritten by write_docs


def _walk(root: Path, files: Sequence[Path] | None, write: bool) -> Report:
    sources = load_sources(root)
    report = Report()
    pending: list[tuple[Path, str]] = []  # written only once every file is read and rendered without error
    for path in files if files is not None else doc_files(root):
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        doc = path.read_text(encoding="utf-8")
        try:
            blocks = find_blocks(doc, rel)
        except DocTablesError as e:
            if write:
                raise
            report.problems.append(str(e))
            continue
        rendered = {}
        for b in blocks:
            if b.name not in TABLES:
                msg = f"{rel}:{b.line}: unknown table {b.name!r}; known: {', '.join(sorted(TABLES))}"
                if write:
                    raise DocTablesError(msg)
                report.problems.append(msg)
                continue
            r = render_table(b.name, sources)
            rendered[b.name] = r.text
            report.problems += [f"{rel}: table {b.name}: {m}" for m in r.missing]
            if b.content != _content(r.text):
                if write:
                    report.changed.append(f"{rel}: {b.name}")
                else:
                    report.problems.append(f"{rel}: table {b.name} differs from the metrics files (run `replaylab docs --write`)")
        if write and rendered:
            new = splice(doc, rendered, rel)
            if new != doc:
                pending.append((path, new))
    for path, new in pending:
        write_text(path, new)
    return report


def check_docs(root: str | Path = ".", files: Sequence[Path] | None = None) -> Report:
    """Compare every table block of the docs with what the metrics files give; nothing is written."""
    return _walk(Path(root), files, write=False)


def write_docs(root: str | Path = ".", files: Sequence[Path] | None = None) -> Report:
    """Rewrite every table block of the docs from the metrics files (each file written atomically)."""
    return _walk(Path(root), files, write=True)
