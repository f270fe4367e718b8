"""Per-epoch records of a run: ``metrics_epoch.csv``, ``val_predictions.csv``, ``best_metrics.json``, the
dvclive history (all rewritten atomically from the in-memory history, so a re-run never duplicates rows) and
the untracked timing file.

What dvclive 3.49 writes here (``Live(dir, dvcyaml=None, report=None, save_dvc_exp=False)``):
``plots/metrics/<name>.tsv`` (``step`` and value columns; a ``timestamp`` column only with
``log_metric(..., timestamp=True)``, which the loop never passes) and ``metrics.json`` (the last value of each
metric and ``step``). No dvc.yaml, report or params file. So the directory is deterministic as long as no
logged value is a wall-clock figure."""

from __future__ import annotations

import csv
import filecmp
import math
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import replace_dir, write_csv, write_json

METRICS_CSV = "metrics_epoch.csv"
PREDICTIONS_CSV = "val_predictions.csv"
BEST_METRICS_JSON = "best_metrics.json"
#: Row keys that index the history rather than measure anything (not logged as dvclive metrics).
INDEX_KEYS = ("epoch", "step")


def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Union of the rows' keys, in order of first appearance."""
    seen: dict[str, None] = {}
    for row in rows:
        for k in row:
            seen.setdefault(k, None)
    return list(seen)


def write_rows(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    cols = columns(rows)
    write_csv(path, cols, [["" if r.get(c) is None else r.get(c) for c in cols] for r in rows])


def write_best_metrics(path: str | os.PathLike, epoch: int, metrics: Mapping[str, float]) -> None:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
    write_json(path, {"epoch": epoch, **clean})


def log_row(live, row: Mapping[str, Any]) -> None:
    """Log one history row (its non-index values) at dvclive's current step."""
    for k, v in row.items():
        if k not in INDEX_KEYS and v is not None:
            live.log_metric(k, v)


def replay_history(live, history: Sequence[Mapping[str, Any]]) -> None:
    """Make a resumed dvclive directory hold exactly ``history`` (one step per epoch, step = epoch - 1):
    the metric files of these names are rewritten, so epochs logged after the last checkpoint (a run killed
    in between) are not duplicated. Leaves ``live.step`` at the next epoch's step."""
    metrics_dir = Path(live.plots_dir) / "metrics"
    for name in columns(history):
        if name not in INDEX_KEYS:
            (metrics_dir / f"{name}.tsv").unlink(missing_ok=True)
    for row in history:
        live.step = int(row["epoch"]) - 1
        log_row(live, row)
    live.step = len(history)


def write_live(live_dir: str | os.PathLike, history: Sequence[Mapping[str, Any]]) -> None:
    """A fresh dvclive directory holding ``history``, written exactly as the epochs of a run write it (step =
    epoch - 1, ``next_step`` after each, ``end`` at the close)."""
    from dvclive import Live

    live = Live(str(live_dir), resume=False, dvcyaml=None, save_dvc_exp=False, report=None)
    for row in history:
        live.step = int(row["epoch"]) - 1
        log_row(live, row)
        live.next_step()
    live.end()


def _same_tree(a: Path, b: Path) -> bool:
    def files(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    if not a.is_dir() or not b.is_dir():
        return False
    names = files(a)
    return names == files(b) and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def sync_live(live_dir: str | os.PathLike, history: Sequence[Mapping[str, Any]]) -> bool:
    """Make ``live_dir`` hold exactly what a run with ``history`` writes (missing, incomplete or extra files
    are fixed by swapping in a rebuilt directory); True when it had to be rewritten."""
    live_dir = Path(live_dir)
    tmp = live_dir.with_name(f".{live_dir.name}.rebuild")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        write_live(tmp, history)
        if _same_tree(tmp, live_dir):
            return False
        replace_dir(tmp, live_dir)
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def read_timing(path: str | os.PathLike, *, upto_epoch: int) -> list[dict[str, Any]]:
    """The rows of a timing file (``epoch,seconds,clips_per_s``) for epochs up to ``upto_epoch``; none when
    the file is missing or unreadable (it is an untracked log, never an input)."""
    try:
        with open(path, newline="") as fh:
            rows = [dict(r) for r in csv.DictReader(fh)]
        return [r for r in rows if int(r["epoch"]) <= upto_epoch]
    except (OSError, KeyError, TypeError, ValueError):
        return []
