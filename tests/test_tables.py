"""CSV tables through pandas: strings in, the stdlib csv module's bytes out, ragged rows named."""

from __future__ import annotations

import csv
import io

import pytest

from replaylab.tables import read_table, write_table

ROWS = [
    ["a", "g,1", 3, "", 'meta {"k":"v, w"}', None],
    ["b", "line\nbreak", -1, "0.250000", "{}", "[[0.5,1.0,2.0]]"],
    ["c", " spaced ", 0, "é", "", ""],
]
COLUMNS = ["id", "group", "label", "x", "meta", "track"]


def test_write_table_matches_the_csv_module_byte_for_byte_and_reads_back(tmp_path):
    write_table(tmp_path / "t.csv", COLUMNS, ROWS)
    ref = io.StringIO(newline="")
    w = csv.writer(ref)
    w.writerow(COLUMNS)
    w.writerows(ROWS)
    assert (tmp_path / "t.csv").read_bytes() == ref.getvalue().encode()
    df = read_table(tmp_path / "t.csv")
    assert list(df.columns) == COLUMNS
    assert df.values.tolist() == [["" if v is None else str(v) for v in r] for r in ROWS]  # every cell a string
    write_table(tmp_path / "empty.csv", COLUMNS, [])
    assert (tmp_path / "empty.csv").read_bytes() == b"id,group,label,x,meta,track\r\n"
    assert read_table(tmp_path / "empty.csv").shape == (0, 6)


def test_read_table_names_the_file_and_the_ragged_row(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("a,b,c\n1,2,3\n\n4,5\n")  # blank line skipped: the short row is record 3
    with pytest.raises(ValueError, match=r"r.csv, row 3: 2 fields, header has 3"):
        read_table(p)
    p.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(ValueError, match=r"r.csv, row 3: 4 fields, header has 3"):
        read_table(p)
    p.write_text("a,b,c\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"r.csv, row 2: 4 fields, header has 3"):
        read_table(p)
    p.write_text("")
    assert read_table(p).shape == (0, 0)
    with pytest.raises(ValueError, match="nope.csv: split file not found"):
        read_table(tmp_path / "nope.csv", what="split file")
    p.write_text('a,b\n1,2\n3,"x"y"\n')  # a quote inside a quoted field
    with pytest.raises(ValueError, match=r"r.csv, row 3: .*expected after"):
        read_table(p)
    p.write_bytes(b"a,b\n1,\xff\xfe\n")
    with pytest.raises(ValueError, match="r.csv: not UTF-8 text"):
        read_table(p)
