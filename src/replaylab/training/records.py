"""Per-epoch records of a run: ``metrics_epoch.csv``, ``val_predictions.csv``, ``best_metrics.json`` and
the dvclive history (all rewritten atomically from the in-memory history, so a re-run never duplicates rows)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import write_csv, write_json

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
