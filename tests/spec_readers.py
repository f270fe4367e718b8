"""Readers written from the published descriptions of each dataset format, independent of the writers,
used to check that what the synthetic world writes parses the way real data does."""

from __future__ import annotations

import csv
import json
import pickle
import re
from pathlib import Path

import av
import numpy as np

# ---- SoccerNet-MVFoul (annotations.json as distributed with the dataset and read by the VARS baseline)
MVFOUL_ACTION_KEYS = {
    "UrlLocal", "Offence", "Contact", "Bodypart", "Upper body part", "Action class", "Severity", "Multiple fouls",
    "Try to play", "Touch ball", "Handball", "Handball offence", "Clips",
}  # fmt: skip
MVFOUL_CLIP_KEYS = {"Url", "Camera type", "Timestamp", "Replay speed"}
MVFOUL_ACTION_CLASSES = {
    "Tackling",
    "Standing tackling",
    "High leg",
    "Holding",
    "Pushing",
    "Elbowing",
    "Challenge",
    "Dive",
    "Dont know",
    "",
}
MVFOUL_OFFENCE = {"Offence", "No offence", "Between", ""}
MVFOUL_SEVERITY = {"", "1.0", "2.0", "3.0", "4.0", "5.0"}
MVFOUL_CAMERA_TYPES = {
    "Main camera center", "Main camera left", "Main camera right", "Main behind the goal", "Goal line technology camera",
    "Spider camera", "Close-up player or field referee", "Close-up side staff", "Close-up corner", "Close-up behind the goal",
    "Inside the goal", "Public", "Other", "I don't know",
}  # fmt: skip


def read_mvfoul_split(split_dir: Path) -> dict:
    doc = json.loads((split_dir / "annotations.json").read_text())
    assert set(doc) == {"Set", "Number of actions", "Actions"}, set(doc)
    assert doc["Number of actions"] == len(doc["Actions"])
    for key, action in doc["Actions"].items():
        assert key.isdigit(), key
        assert set(action) == MVFOUL_ACTION_KEYS, (key, set(action) ^ MVFOUL_ACTION_KEYS)
        assert action["Action class"] in MVFOUL_ACTION_CLASSES, action["Action class"]
        assert action["Offence"] in MVFOUL_OFFENCE, action["Offence"]
        assert action["Severity"] in MVFOUL_SEVERITY, action["Severity"]
        assert action["Contact"] in {"With contact", "Without contact", ""}
        assert action["Bodypart"] in {"Upper body", "Under body", ""}
        assert action["Handball"] in {"No handball", "Handball", ""}
        assert 2 <= len(action["Clips"]) <= 4
        for v, clip in enumerate(action["Clips"]):
            assert set(clip) == MVFOUL_CLIP_KEYS
            assert re.fullmatch(rf"Dataset/\w+/action_{key}/clip_{v}", clip["Url"]), clip["Url"]
            assert clip["Camera type"] in MVFOUL_CAMERA_TYPES
            assert isinstance(clip["Timestamp"], int) and isinstance(clip["Replay speed"], float)
            assert (split_dir / f"action_{key}" / f"clip_{v}.mp4").is_file()
        assert action["Clips"][0]["Camera type"] == "Main camera center"
    return doc


# ---- AVA v2.2 (CSV rows video_id,timestamp,x1,y1,x2,y2,action_id,person_id; label map pbtxt)
def read_ava_csv(path: Path) -> list[tuple]:
    rows = []
    with open(path) as fh:
        for line in csv.reader(fh):
            assert len(line) == 8, line
            vid, ts, x1, y1, x2, y2, action, person = line
            box = tuple(float(v) for v in (x1, y1, x2, y2))
            assert all(0.0 <= v <= 1.0 for v in box) and box[0] < box[2] and box[1] < box[3], line
            rows.append((vid, int(ts), box, int(action), int(person)))
    return rows


def read_pbtxt_labelmap(path: Path) -> dict[int, str]:
    text = path.read_text()
    out = {}
    for block in re.findall(r"(?:label|item)\s*\{(.*?)\}", text, re.S):
        name = re.search(r'name:\s*"([^"]*)"', block).group(1)
        ident = int(re.search(r"(?:label_id|id):\s*(\d+)", block).group(1))
        out[ident] = name
    return out


def read_ava_proposals(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as fh:
        props = pickle.load(fh)
    for k, v in props.items():
        vid, ts = k.split(",")
        assert len(ts) == 4 and ts.isdigit(), k
        assert v.ndim == 2 and v.shape[1] == 5, v.shape
    return props


# ---- UCF101 (classInd.txt "i Class", trainlist01 "Class/v_Class_gXX_cYY.ext i", testlist01 "Class/...")
def read_ucf_lists(root: Path) -> tuple[dict[int, str], list[tuple[str, int]], list[str]]:
    lists = root / "ucfTrainTestlist"
    classes = {}
    for line in (lists / "classInd.txt").read_text().split("\n"):
        if line.strip():
            i, name = line.split()
            classes[int(i)] = name
    train = []
    for line in (lists / "trainlist01.txt").read_text().split("\n"):
        if line.strip():
            path, i = line.split()
            train.append((path, int(i)))
    test = [line.strip() for line in (lists / "testlist01.txt").read_text().split("\n") if line.strip()]
    for path in [p for p, _ in train] + test:
        m = re.fullmatch(r"(\w+)/v_(\w+)_g(\d\d)_c(\d\d)\.\w+", path)
        assert m and m.group(1) == m.group(2), path
        assert (root / path).is_file(), path
    return classes, train, test


# ---- video
def probe_video(path: Path) -> tuple[int, float, int, int, list[int]]:
    """(frames decoded, average fps, width, height, indices of keyframes)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        keys, n = [], 0
        for frame in c.decode(s):
            if frame.key_frame:
                keys.append(n)
            n += 1
        return n, float(s.average_rate), s.codec_context.width, s.codec_context.height, keys
