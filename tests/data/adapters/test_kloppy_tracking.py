import csv
import sys
from pathlib import Path

import pytest

from replaylab.data.adapters.kloppy_tracking import (
    PLAYER_COLUMNS,
    TRACKING_COLUMNS,
    KloppyNotInstalledError,
    convert_provider,
    dataset_to_table,
    load_provider,
    player_table,
    to_canonical,
    track_ids,
    write_players_csv,
    write_tracking_csv,
)
from replaylab.data.samples import AdapterError

kloppy = pytest.importorskip("kloppy")
KLOPPY_FILES = Path(kloppy.__file__).parent / "tests" / "files"

CENTRE = (0.5, 0.5)  # kloppy's normalised coordinates: origin top-left, y downwards


def _frames_10hz(n: int = 5, **extra) -> list[dict]:
    return [{"t": i / 10, "ball": (0.5, 0.5, 0.25 * i), "players": {"home_7": CENTRE}, **extra} for i in range(n)]


def test_columns_are_the_canonical_table():
    from replaylab.world.tracking import TRACKING_COLUMNS as WORLD_COLUMNS

    assert TRACKING_COLUMNS == WORLD_COLUMNS


def test_pitch_centre_and_corners_in_metres(tracking_dataset):
    ds = tracking_dataset(
        [{"t": 0.0, "ball": (0.5, 0.5), "players": {"home_1": (0.0, 1.0), "home_2": (1.0, 0.0), "away_3": (0.25, 0.75)}}]
    )
    rows = dataset_to_table(ds, video_fps=25)
    pos = {r["jersey"] or "ball": (r["x"], r["y"]) for r in rows}
    assert pos["ball"] == pytest.approx((52.5, 34.0))
    assert pos["1"] == pytest.approx((0.0, 0.0))  # kloppy's bottom-left corner is the origin
    assert pos["2"] == pytest.approx((105.0, 68.0))
    assert 0 < pos["3"][0] < 52.5 and 0 < pos["3"][1] < 34.0


def test_frame_alignment_10hz_to_25fps(tracking_dataset):
    rows = dataset_to_table(tracking_dataset(_frames_10hz(5)), video_fps=25)
    ball = [r for r in rows if r["track_id"] == 0]
    # t = 0.0, 0.1, 0.2, 0.3, 0.4 s -> 0, 2.5, 5, 7.5, 10 frames, halves rounded up
    assert [r["frame"] for r in ball] == [0, 3, 5, 8, 10]
    assert [r["time"] for r in ball] == pytest.approx([0.0, 0.12, 0.2, 0.32, 0.4])  # the video frame's time
    shifted = dataset_to_table(tracking_dataset(_frames_10hz(5)), video_fps=25, video_offset_s=0.2)
    assert [r["frame"] for r in shifted if r["track_id"] == 0] == [0, 3, 5]  # samples before the video start dropped


def test_faster_tracking_keeps_one_row_per_object_per_frame(tracking_dataset):
    frames = [{"t": i / 50, "ball": (0.5, 0.5), "players": {"home_7": (0.1 + 0.01 * i, 0.5)}} for i in range(10)]
    rows = dataset_to_table(tracking_dataset(frames, frame_rate=50), video_fps=25)
    keys = [(r["frame"], r["track_id"]) for r in rows]
    assert len(keys) == len(set(keys)) and sorted({f for f, _ in keys}) == [0, 1, 2, 3, 4, 5]
    player = {r["frame"]: r["x"] for r in rows if r["track_id"] == 1}
    assert player[1] == pytest.approx((0.1 + 0.02) * 105)  # the sample at exactly 0.04 s, not its neighbour


def test_ball_height(tracking_dataset):
    frames = [{"t": 0.0, "ball": (0.5, 0.5, 1.75), "players": {}}, {"t": 0.1, "ball": (0.5, 0.5), "players": {}},
              {"t": 0.2, "ball": None, "players": {"home_7": CENTRE}}]  # fmt: skip
    rows = dataset_to_table(tracking_dataset(frames), video_fps=10)
    ball = {r["frame"]: r["z"] for r in rows if r["team"] == "ball"}
    assert ball == {0: pytest.approx(1.75), 1: None}  # z empty when unknown; no ball row when the ball is missing
    assert all(r[c] is None for r in rows for c in ("box_x1", "box_y1", "box_x2", "box_y2"))


def test_second_period_continues_after_the_first(tracking_dataset):
    frames = _frames_10hz(2) + [{"t": t, "period": 2, "ball": CENTRE, "players": {"home_7": CENTRE}} for t in (0.0, 0.1)]
    rows = dataset_to_table(tracking_dataset(frames, period_starts=(0.0, 3000.0)), video_fps=25, video_offset_s=10.0)
    ball = [(r["frame"], r["time"]) for r in rows if r["track_id"] == 0]
    assert ball == [(74750, pytest.approx(2990.0)), (74753, pytest.approx(2990.12))]  # first-half samples precede the video


def test_track_ids_stable_in_order_of_first_appearance(tracking_dataset):
    frames = [
        {"t": 0.0, "ball": CENTRE, "players": {"away_9": (0.6, 0.5), "home_10": (0.3, 0.5), "home_4": (0.4, 0.5)}},
        {"t": 0.1, "ball": CENTRE, "players": {"away_9": (0.6, 0.5), "home_4": (0.4, 0.5)}},
        {
            "t": 0.2,
            "ball": CENTRE,
            "players": {"away_14": (0.7, 0.5), "away_9": (0.6, 0.5), "home_4": (0.4, 0.5)},
        },  # a substitute
    ]
    ds = tracking_dataset(frames)
    assert track_ids(ds) == {"P-home_4": 1, "P-home_10": 2, "P-away_9": 3, "P-away_14": 4}
    rows = dataset_to_table(ds, video_fps=10)
    assert {(r["track_id"], r["team"], r["jersey"]) for r in rows} == {(0, "ball", ""), (1, "home", "4"), (2, "home", "10"), (3, "away", "9"),
                                                                       (4, "away", "14")}  # fmt: skip
    assert [r["track_id"] for r in rows if r["frame"] == 2] == [0, 1, 3, 4]
    assert track_ids(tracking_dataset(frames)) == track_ids(ds)  # same data, same ids
    assert player_table(ds) == [
        {"track_id": 1, "player_id": "P-home_4", "team": "home", "jersey": "4", "name": "Home 4"},
        {"track_id": 2, "player_id": "P-home_10", "team": "home", "jersey": "10", "name": "Home 10"},
        {"track_id": 3, "player_id": "P-away_9", "team": "away", "jersey": "9", "name": "Away 9"},
        {"track_id": 4, "player_id": "P-away_14", "team": "away", "jersey": "14", "name": "Away 14"},
    ]


def test_write_csvs(tmp_path, tracking_dataset):
    ds = tracking_dataset(_frames_10hz(2))
    write_tracking_csv(dataset_to_table(ds, video_fps=25), tmp_path / "m" / "tracking.csv")
    write_players_csv(player_table(ds), tmp_path / "m" / "players.csv")
    with open(tmp_path / "m" / "tracking.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == TRACKING_COLUMNS
    assert rows[1] == ["0", "0.0", "0", "ball", "", "52.5", "34.0", "0.0", "", "", "", ""]
    assert rows[2] == ["0", "0.0", "1", "home", "7", "52.5", "34.0", "", "", "", "", ""]
    with open(tmp_path / "m" / "players.csv", newline="") as fh:
        players = list(csv.DictReader(fh))
    assert tuple(players[0]) == PLAYER_COLUMNS and players[0]["player_id"] == "P-home_7"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["players.csv", "tracking.csv"]  # no temporary files left


# ---- real provider files: kloppy's bundled Metrica sample (25 Hz; second half at 5800 s)
@pytest.fixture
def metrica_files():
    home, away = KLOPPY_FILES / "metrica_home.csv", KLOPPY_FILES / "metrica_away.csv"
    if not (home.is_file() and away.is_file()):
        pytest.skip("kloppy's Metrica test files are not installed")
    return {"home_data": str(home), "away_data": str(away)}


def test_metrica_csv(tmp_path, metrica_files):
    ds = load_provider("metrica_csv", **metrica_files)
    rows = dataset_to_table(ds, video_fps=25)
    assert sorted({(r["frame"], r["time"]) for r in rows}) == [(1, 0.04), (2, 0.08), (3, 0.12), (145004, 5800.16), (145005, 5800.2),
                                                               (145006, 5800.24)]  # fmt: skip
    ball = next(r for r in rows if r["track_id"] == 0)
    # Metrica's first-frame ball at (0.45472, 0.38709) of the pitch, kloppy flips Metrica's y
    assert (ball["x"], ball["y"], ball["z"]) == (
        pytest.approx(0.45472 * 105, abs=1e-3),
        pytest.approx(0.38709 * 68, abs=1e-3),
        None,
    )
    assert all(0 <= r["x"] <= 105 and 0 <= r["y"] <= 68 for r in rows)
    players = player_table(ds)
    assert {p["team"] for p in players} == {"home", "away"} and [p["track_id"] for p in players] == list(
        range(1, len(players) + 1)
    )
    by_pid = {p["player_id"]: p["track_id"] for p in players}
    assert "home_14" in by_pid and by_pid["home_14"] > by_pid["away_25"]  # home_14 only comes on in the second half
    tracking, players_csv = convert_provider("metrica_csv", tmp_path / "match", video_fps=25, **metrica_files)
    assert tracking.is_file() and players_csv.is_file()


def test_to_canonical_keeps_orientation(metrica_files):
    ds = load_provider("metrica_csv", **metrica_files)
    out = to_canonical(ds)
    assert out.metadata.orientation == ds.metadata.orientation
    assert out.metadata.coordinate_system.pitch_dimensions.x_dim.max == 105.0


# ---- errors
def test_load_provider_errors(tmp_path):
    with pytest.raises(AdapterError) as e:
        load_provider("hawk-eye-3d", raw_data="x")
    assert "hawk-eye-3d" in str(e.value) and "metrica_csv" in str(e.value) and "tracab" in str(e.value)
    with pytest.raises(AdapterError, match="home_data=.*does not exist"):
        load_provider("metrica_csv", home_data=str(tmp_path / "nope.csv"), away_data=str(tmp_path / "nope2.csv"))
    with pytest.raises(AdapterError, match="away_data"):
        load_provider("metrica_csv", home_data=str(tmp_path / "h.csv"))
    (tmp_path / "h.csv").write_text("garbage\n")
    (tmp_path / "a.csv").write_text("garbage\n")
    with pytest.raises(AdapterError, match="metrica_csv"):
        load_provider("metrica_csv", home_data=str(tmp_path / "h.csv"), away_data=str(tmp_path / "a.csv"))
    with pytest.raises(AdapterError, match="video_fps"):
        dataset_to_table(None, video_fps=0)


def test_kloppy_missing(monkeypatch, tracking_dataset):
    ds = tracking_dataset(_frames_10hz(1))
    monkeypatch.setitem(sys.modules, "kloppy", None)  # "import kloppy" now fails as if it were not installed
    with pytest.raises(KloppyNotInstalledError) as e:
        load_provider("metrica_csv", home_data="h.csv", away_data="a.csv")
    assert isinstance(e.value, ImportError) and isinstance(e.value, AdapterError)
    assert "pip install 'replaylab[kloppy]'" in str(e.value)
    with pytest.raises(ImportError, match="replaylab\\[kloppy\\]"):
        dataset_to_table(ds, video_fps=25)


# ---- clocks, spans and sanity warnings
def test_offset_auto_and_span_checks(tracking_dataset):
    from replaylab.data.adapters.kloppy_tracking import check_span, feed_span, resolve_offset

    ds = tracking_dataset(_frames_10hz(5), period_starts=(100.0, 3000.0))  # feed clock starts at 100 s
    assert feed_span(ds) == pytest.approx((100.0, 100.4))
    assert (
        resolve_offset(ds, "auto") == pytest.approx(100.0) and resolve_offset(ds, "2.5") == 2.5 and resolve_offset(ds, 1) == 1.0
    )
    rows = dataset_to_table(ds, video_fps=25, video_offset_s="auto")
    assert [r["frame"] for r in rows if r["track_id"] == 0] == [0, 3, 5, 8, 10]
    with pytest.raises(AdapterError, match=r"feed spans 100\.0 to 100\.4 s of video time .* but the video spans 0\.0 to 50\.0 s"):
        check_span(ds, 0.0, 50.0)
    check_span(ds, 0.0, 120.0)  # overlaps
    check_span(ds, resolve_offset(ds, "auto"), 50.0)
    late = tracking_dataset(_frames_10hz(2), period_starts=(73940.0, 80000.0))  # TRACAB-like wall-clock feed
    with pytest.raises(AdapterError, match=r"spans 73940\.0 to 73940\.1 s .* at most 14400 s; set the video offset"):
        check_span(late, 0.0)
    with pytest.raises(AdapterError, match="expected seconds or 'auto'"):
        resolve_offset(ds, "soon")


def test_check_table_counts_off_pitch_rows_and_impossible_speeds(tracking_dataset):
    from replaylab.data.adapters.kloppy_tracking import check_table

    frames = [
        {"t": 0.0, "ball": (0.1, 0.5), "players": {"home_7": (0.50, 0.5), "away_9": (0.3, 0.5)}},
        {"t": 0.1, "ball": (0.9, 0.5), "players": {"home_7": (0.52, 0.5), "away_9": (0.3, 0.5)}},  # ball 840 m/s, player 21 m/s
        {"t": 0.2, "ball": (0.9, 0.5), "players": {"home_7": (0.53, 0.5), "away_9": (1.2, 0.5)}},  # away_9 126 m along: off
    ]
    rows = dataset_to_table(tracking_dataset(frames), video_fps=10)
    found = check_table(rows, video_fps=10)
    assert found["off_pitch_rows"] == 1 and found["off_pitch_examples"][0]["x"] == pytest.approx(126.0)
    assert found["ball_speed_warnings"] == 1 and found["speed_examples"][0]["speed_m_s"] == pytest.approx(840.0)
    assert found["player_speed_warnings"] == 2  # home_7 at 21 m/s, away_9 jumping 94.5 m
    calm = dataset_to_table(tracking_dataset(_frames_10hz(5)), video_fps=10)
    assert check_table(calm, video_fps=10)["ball_speed_warnings"] == 0 == check_table(calm, video_fps=10)["off_pitch_rows"]


def test_tracab_sample_needs_its_clock_offset(tmp_path):
    import json

    meta, raw = KLOPPY_FILES / "tracab_meta.xml", KLOPPY_FILES / "tracab_raw.dat"
    if not (meta.is_file() and raw.is_file()):
        pytest.skip("kloppy's TRACAB test files are not installed")
    files = {"meta_data": str(meta), "raw_data": str(raw)}
    with pytest.raises(AdapterError, match=r"feed spans 73940\.3 to 80717\.3 s of video time .* set the video offset"):
        convert_provider("tracab", tmp_path / "m", video_fps=25, **files)
    assert not (tmp_path / "m").exists()  # nothing written
    convert_provider("tracab", tmp_path / "m", video_fps=25, video_offset_s="auto", only_alive=False, **files)
    summary = json.loads((tmp_path / "m" / "tracking_summary.json").read_text())
    assert summary["video_offset_s"] == pytest.approx(summary["feed_span_s"][0]) and summary["rows"] > 0
    assert {"off_pitch_rows", "ball_speed_warnings", "player_speed_warnings"} <= set(summary)
    first = (tmp_path / "m" / "tracking.csv").read_text().splitlines()[1]
    assert first.startswith("0,0.0,")


def test_listed_files_are_checked_one_by_one(tmp_path):
    (tmp_path / "a.ball").write_text("")
    with pytest.raises(AdapterError, match=r"ball_feeds='.*b\.ball' does not exist"):
        load_provider("hawkeye", ball_feeds=[str(tmp_path / "a.ball"), str(tmp_path / "b.ball")], player_centroid_feeds=[],
                      meta_data=str(tmp_path / "a.ball"))  # fmt: skip
