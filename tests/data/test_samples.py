"""The sample index: CSV round trip (with and without moving crop tracks) and the checks on bad samples."""

from __future__ import annotations

import csv
import io

import pytest

from replaylab.data.samples import INDEX_COLUMNS, AdapterError, Sample, SampleIndex, read_csv


def _index() -> SampleIndex:
    track = ((0.96, 10.0, 20.0), (1.0, 12.0, 21.0), (1.04, 14.5, 23.0))
    samples = [
        Sample("a", ("v.mp4",), "g1", 1, center_s=1.0, point=(12.0, 21.0), meta={"event": "header"}, track=track),
        Sample("b", ("v.mp4", "w.mp4"), "g2", 0, center_s=None, point=None, meta={}),
    ]
    return SampleIndex(samples, ["neg", "pos"], ".", "t")


def test_round_trip_keeps_tracks_points_and_meta(tmp_path):
    idx = _index()
    idx.write_csv(tmp_path / "i.csv")
    text = io.StringIO(newline="")
    csv.writer(text).writerows([INDEX_COLUMNS, *idx.rows()])  # the format the csv module wrote before pandas
    assert (tmp_path / "i.csv").read_bytes() == text.getvalue().encode()
    back = read_csv(tmp_path / "i.csv")
    assert back.classes == ["neg", "pos"]
    a, b = back.samples
    assert a.track == idx.samples[0].track and a.point == (12.0, 21.0) and a.meta == {"event": "header"}
    assert b.track is None and b.sources == ("v.mp4", "w.mp4") and b.center_s is None


def test_index_files_without_the_track_column_still_read(tmp_path):
    path = tmp_path / "old.csv"
    cols = [c for c in INDEX_COLUMNS if c != "track"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        w.writerow(["a", "g", "1", "pos", "v.mp4", "0.5", "3.00", "4.00", "{}"])
    (s,) = read_csv(path).samples
    assert s.track is None and s.point == (3.0, 4.0)


def test_crop_centres_interpolate_and_hold_at_the_ends():
    s = _index().samples[0]
    centres = s.crop_centers([0.9, 0.98, 1.04, 2.0])
    assert centres[0] == (10.0, 20.0) and centres[-1] == (14.5, 23.0)
    assert centres[1] == pytest.approx((11.0, 20.5))
    assert _index().samples[1].crop_centers([0.0]) is None


@pytest.mark.parametrize("track, why", [(((1.0, 2.0, 3.0), (1.0, 2.0, 3.0)), "increase"), (((1.0, float("nan"), 3.0),), "finite"),
                                        (((1.0, 2.0),), "finite"), ((), "finite")])  # fmt: skip
def test_bad_tracks_are_rejected_naming_the_sample(track, why):
    with pytest.raises(AdapterError, match=f"sample x: .*{why}"):
        Sample("x", ("v.mp4",), "g", 0, center_s=1.0, track=track)


def test_bad_rows_name_the_file_and_row(tmp_path):
    _index().write_csv(tmp_path / "i.csv")
    text = (tmp_path / "i.csv").read_text().replace("[[0.96", '[["x"', 1)
    (tmp_path / "i.csv").write_text(text)
    with pytest.raises(AdapterError, match=r"i.csv, row 2"):
        read_csv(tmp_path / "i.csv")
    (tmp_path / "s.csv").write_text(",".join(INDEX_COLUMNS) + "\na,g,1,pos,v.mp4\n")
    with pytest.raises(AdapterError, match=r"s.csv, row 2: 5 fields, header has 10"):
        read_csv(tmp_path / "s.csv")
    with pytest.raises(AdapterError, match=r"nope.csv: sample index not found"):
        read_csv(tmp_path / "nope.csv")
