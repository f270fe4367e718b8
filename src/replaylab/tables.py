"""CSV tables through pandas: the sample-index and split files (``data/samples.py``, ``data/splits.py``).

:func:`read_table` reads every cell as a string (``""`` for an empty one, nothing turned into NaN) and is
strict where pandas is lenient: a row with fewer or more fields than the header is an error naming the file
and the row (rows counted as records, the header being row 1, blank lines skipped).
:func:`write_table` writes what Python's ``csv.writer`` wrote before (minimal quoting, ``\\r\\n`` line ends),
byte for byte, through a temporary file that replaces the target only once complete.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from .io import atomic_path

__all__ = ["read_table", "write_table"]


def read_table(path: str | os.PathLike, *, what: str = "CSV file") -> pd.DataFrame:
    """The table in ``path`` with string cells; an empty file gives a frame without columns. ValueError (naming
    the file, and the row where there is one) for a missing file, a malformed file or a ragged row."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: {what} not found")
    try:
        with warnings.catch_warnings():
            # a longer first data row only warns ("Length of header ... does not match"): make it an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(p, dtype=str, keep_default_na=False, index_col=False, engine="python")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except UnicodeDecodeError as e:
        raise ValueError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (pd.errors.ParserWarning, pd.errors.ParserError, csv.Error) as e:
        where = _first_bad_row(p)
        raise ValueError(f"{p}, {where}" if where else f"{p}: not a readable CSV file: {e}") from None
    short = df.isna().to_numpy().any(axis=1)  # missing trailing fields are the only NaN (empty cells are "")
    if short.any():
        i = int(short.argmax())
        n_fields = int(df.shape[1] - df.iloc[i].isna().sum())
        raise ValueError(f"{p}, row {i + 2}: {n_fields} fields, header has {df.shape[1]}")
    return df


def _first_bad_row(p: Path) -> str | None:
    """Where pandas gave up: the first record (header = row 1) with a quoting error or a field count other
    than the header's, by a strict pass of the csv module (on the error path only)."""
    with open(p, newline="") as fh:
        reader = csv.reader(fh, strict=True)
        n, width = 0, None
        try:
            for row in reader:
                if not row:
                    continue
                n += 1
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    return f"row {n}: {len(row)} fields, header has {width}"
        except csv.Error as e:
            return f"row {n + 1}: {e}"
    return None


def write_table(path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """``columns`` as the header, then ``rows`` (``None`` is written empty), atomically."""
    df = pd.DataFrame(list(rows), columns=list(columns), dtype=object)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\r\n", na_rep="")
