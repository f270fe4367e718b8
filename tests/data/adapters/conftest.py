"""Writers of tiny datasets in the real on-disk formats, shared by the adapter tests.

Each fixture returns a function so a test can write exactly the awkward case it needs into tmp_path.
Video files are empty placeholders: the adapters only index, they never open a video.
"""

from __future__ import annotations

import csv
import json
import pickle
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

MVFOUL_KEYS = (
    "UrlLocal", "Offence", "Contact", "Bodypart", "Upper body part", "Action class", "Severity", "Multiple fouls",
    "Try to play", "Touch ball", "Handball", "Handball offence", "Clips",
)  # fmt: skip
CHELSEA_BURNLEY = "england_epl\\2014-2015\\2015-02-21 - 18-00 Chelsea 1 - 1 Burnley"
CAMERAS = ("Main camera center", "Close-up player or field referee", "Main behind the goal", "Other")


def _mvfoul_action(key: int, action_class: str = "Tackling", offence: str = "Offence", severity: str = "1.0", *, views: int = 2,
                   url_local: str | None = CHELSEA_BURNLEY, set_dir: str = "Train") -> dict:  # fmt: skip
    """One ``"Actions"`` entry with every official key, its clips named ``Dataset/<Set>/action_<key>/clip_<v>``."""
    entry = {
        "UrlLocal": url_local, "Offence": offence, "Contact": "With contact", "Bodypart": "Under body", "Upper body part": "",
        "Action class": action_class, "Severity": severity, "Multiple fouls": "No", "Try to play": "Yes", "Touch ball": "No",
        "Handball": "No handball", "Handball offence": "",
        "Clips": [{"Url": f"Dataset/{set_dir}/action_{key}/clip_{v}", "Camera type": CAMERAS[v % 4], "Timestamp": 1_000_000 + 9_000 * v,
                   "Replay speed": 1.0 if v == 0 else 1.8} for v in range(views)],
    }  # fmt: skip
    if url_local is None:
        del entry["UrlLocal"]
    return {k: entry[k] for k in MVFOUL_KEYS if k in entry}


def _write_mvfoul(split_dir: Path, actions: dict[int, dict], set_name: str = "train", *, files: bool = True) -> Path:
    """``annotations.json`` plus an empty ``action_<n>/clip_<v>.mp4`` for every listed clip."""
    split_dir.mkdir(parents=True, exist_ok=True)
    doc = {"Set": set_name, "Number of actions": len(actions), "Actions": {str(k): actions[k] for k in sorted(actions)}}
    (split_dir / "annotations.json").write_text(json.dumps(doc, indent=4))
    if files:
        for k, action in actions.items():
            for clip in action.get("Clips", []):
                p = split_dir / f"action_{k}" / (clip["Url"].rsplit("/", 1)[-1] + ".mp4")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b"")
    return split_dir


@pytest.fixture
def mvfoul_action():
    return _mvfoul_action


@pytest.fixture
def write_mvfoul():
    return _write_mvfoul


AVA_LABEL_MAP = """\
label {
  name: "bend/bow (at the waist)"
  label_id: 1
  label_type: PERSON_MOVEMENT
}
label {
  name: "stand"
  label_id: 3
  label_type: PERSON_MOVEMENT
}
label {
  name: "talk to (e.g., self, a person, a group)"
  label_id: 8
  label_type: PERSON_INTERACTION
}
"""


def _write_ava(root: Path, rows: list[tuple], *, split: str = "train", label_map: str = AVA_LABEL_MAP, excluded: list[tuple] = (),
               proposals: dict | None = None, videos: dict[str, str] | None = None) -> Path:  # fmt: skip
    """The AVA layout: header-less CSV rows as given, a label map, excluded timestamps, optional proposals
    pickle and empty videos (``{video_id: extension}``, default .mp4 for every video in the rows)."""
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    with open(ann / f"ava_{split}_v2.2.csv", "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    (ann / "ava_action_list_v2.2.pbtxt").write_text(label_map)
    with open(ann / f"ava_{split}_excluded_timestamps_v2.2.csv", "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(excluded)
    if proposals is not None:
        with open(ann / f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl", "wb") as fh:
            pickle.dump({k: np.asarray(v, np.float32).reshape(-1, 5) for k, v in proposals.items()}, fh)
    vids = videos if videos is not None else {r[0]: ".mp4" for r in rows}
    (root / "videos").mkdir(exist_ok=True)
    for vid, ext in vids.items():
        (root / "videos" / f"{vid}{ext}").write_bytes(b"")
    return root


@pytest.fixture
def write_ava():
    return _write_ava


def _write_ucf(root: Path, classes: list[str], train: list[str], test: list[str], *, split_id: int = 1, newline: str = "\n",
               bom: bool = False, missing: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """``<Class>/<video>`` placeholders and ``ucfTrainTestlist/`` lists; train lines get the class index.
    ``missing`` paths are listed but not created; ``extra`` paths are created but not listed."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    index = {c: i + 1 for i, c in enumerate(classes)}
    prefix = "\ufeff" if bom else ""
    (lists / "classInd.txt").write_bytes((prefix + newline.join(f"{i} {c}" for c, i in index.items()) + newline).encode())
    (lists / f"trainlist{split_id:02d}.txt").write_bytes(
        newline.join(f"{p} {index[p.split('/')[0]]}" for p in train).encode() + newline.encode()
    )
    (lists / f"testlist{split_id:02d}.txt").write_bytes((newline.join(test) + newline).encode())
    for p in [*train, *test, *extra]:
        if p not in missing:
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(b"")
    return root


@pytest.fixture
def write_ucf():
    return _write_ucf


def _write_hmdb(root: Path, videos: dict[str, list[tuple[str, int]]], *, split_id: int = 1, newline: str = "\n",
                missing: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """``<class>/<video>.avi`` placeholders and ``testTrainMulti_7030_splits/<class>_test_split<N>.txt`` with
    the official ``"<name> <code> "`` lines (note the trailing space)."""
    sdir = root / "testTrainMulti_7030_splits"
    sdir.mkdir(parents=True, exist_ok=True)
    for cls, items in videos.items():
        (sdir / f"{cls}_test_split{split_id}.txt").write_bytes(
            "".join(f"{name} {code} {newline}" for name, code in items).encode()
        )
        for name, _ in items:
            if name not in missing:
                (root / cls).mkdir(parents=True, exist_ok=True)
                (root / cls / name).write_bytes(b"")
    return root


@pytest.fixture
def write_hmdb():
    return _write_hmdb


def _write_header_dataset(root: Path, rows: list[dict], *, shape=(4, 8, 8, 3), dtype=np.uint8, csv_name: str = "dataset.csv",
                          make_clips: bool = True) -> Path:  # fmt: skip
    """The header tool's CSV (columns = keys of the first row) and a random clip per row's ``path``."""
    (root / csv_name).parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    with open(root / csv_name, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    if make_clips:
        for r in rows:
            p = root / r["path"]
            p.parent.mkdir(parents=True, exist_ok=True)
            np.save(p, rng.integers(0, 256, shape).astype(dtype))
    return root / csv_name


@pytest.fixture
def write_header_dataset():
    return _write_header_dataset


def _tracking_dataset(frames: list[dict], *, frame_rate: float = 10.0, period_starts: tuple[float, ...] = (0.0, 60.0)):
    """An in-memory kloppy TrackingDataset in kloppy's own normalised coordinates (0..1, origin top-left).

    ``frames``: dicts with ``period`` (1-based), ``t`` (seconds from the period start), ``ball`` ((x, y) or
    (x, y, z) or None) and ``players`` ({player key: (x, y)}); player keys are ``"home_<jersey>"`` /
    ``"away_<jersey>"`` and the player id is ``"P-<key>"``.
    """
    from kloppy.domain import (
        DatasetFlag,
        Ground,
        KloppyCoordinateSystem,
        Metadata,
        Orientation,
        Period,
        Player,
        PlayerData,
        Point,
        Point3D,
        Provider,
        Team,
        TrackingDataset,
    )  # fmt: skip
    from kloppy.domain.services.frame_factory import create_frame

    home = Team(team_id="T-home", name="Home FC", ground=Ground.HOME)
    away = Team(team_id="T-away", name="Away FC", ground=Ground.AWAY)
    players: dict[str, Player] = {}
    for f in frames:
        for key in f["players"]:
            if key not in players:
                side, jersey = key.split("_")
                team = home if side == "home" else away
                players[key] = Player(player_id=f"P-{key}", team=team, jersey_no=int(jersey), name=f"{side.title()} {jersey}")
                team.players.append(players[key])
    periods = [Period(id=i + 1, start_timestamp=timedelta(seconds=s), end_timestamp=timedelta(seconds=s + 45 * 60))
               for i, s in enumerate(period_starts)]  # fmt: skip
    cs = KloppyCoordinateSystem(pitch_length=105, pitch_width=68)
    records = []
    for n, f in enumerate(frames):
        ball = f.get("ball")
        ball_pt = (
            None if ball is None else Point3D(ball[0], ball[1], ball[2]) if len(ball) == 3 else Point3D(ball[0], ball[1], None)
        )
        records.append(create_frame(
            frame_id=n, timestamp=timedelta(seconds=f["t"]), period=periods[f.get("period", 1) - 1], ball_coordinates=ball_pt,
            players_data={players[k]: PlayerData(coordinates=Point(*xy)) for k, xy in f["players"].items()},
            ball_state=None, ball_owning_team=None, other_data={},
        ))  # fmt: skip
    meta = Metadata(periods=periods, teams=[home, away], coordinate_system=cs, pitch_dimensions=cs.pitch_dimensions,
                    orientation=Orientation.HOME_AWAY, flags=DatasetFlag(0), provider=Provider.OTHER, frame_rate=frame_rate)  # fmt: skip
    return TrackingDataset(records=records, metadata=meta)


@pytest.fixture
def tracking_dataset():
    pytest.importorskip("kloppy")
    return _tracking_dataset
