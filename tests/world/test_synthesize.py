import csv
import hashlib
import json
from collections import Counter

from repo_fixtures import tiny_params
from spec_readers import read_ucf_lists

from replaylab import params as P
from replaylab.world.captions import MENTIONS, names_class
from replaylab.world.match import EVENT_TYPES
from replaylab.world.synthesize import generate, plan_tasks

DETERMINISTIC = (
    "matches/match_000/tracking.csv", "matches/match_000/events.csv", "matches/match_001/tracking.csv",
    "mvfoul/train/annotations.json", "mvfoul/test/annotations.json", "ava/annotations/ava_train_v2.2.csv",
    "ava/annotations/ava_val_v2.2.csv", "header_clips/dataset.csv", "ucf101/ucfTrainTestlist/trainlist01.txt",
)  # fmt: skip


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_byte_identical_tracking_and_annotations(tiny_world, tmp_path):
    root, summary = tiny_world
    params = P.load(None, tiny_params(tmp_path))
    params = params.model_copy(update={"synthesize": params.synthesize.model_copy(update={"workers": 1})})
    again = generate(params, out_dir=tmp_path / "again", progress=False)
    for rel in DETERMINISTIC:
        assert digest(root / rel) == digest(tmp_path / "again" / rel), rel
    again.pop("seconds"), summary.pop("seconds", None)
    assert again == summary


def test_manifest_contact_sheets_and_counts(tiny_world):
    root, summary = tiny_world
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["summary"]["matches"] == 2
    assert set(summary["events"]) == set(EVENT_TYPES)  # zero counts too: metrics diff compares like with like
    sheets = {p.stem for p in (root / "contact_sheets").glob("*.png")}
    assert "match_header" in sheets or summary["events"].get("header", 0) == 0
    assert {"recognition_header", "recognition_kick", "recognition_throwin"} <= sheets
    assert any(s.startswith("foul_") for s in sheets)
    assert not list(root.parent.glob(".*partial"))


def test_plan_is_deterministic_and_covers_all_work(tmp_path):
    params = P.load(None, tiny_params(tmp_path))
    a, b = plan_tasks(params), plan_tasks(params)
    assert a == b
    assert sum(t.kind == "foul" for t in a) == 14 and sum(t.kind == "match" for t in a) == 2
    assert sum(t.kind == "ucf" for t in a) == 18


def test_captions_csv_has_every_listed_clip_and_names_no_other_class(tiny_world):
    root, summary = tiny_world
    classes, train, test = read_ucf_lists(root / "ucf101")
    with open(root / "ucf101" / "captions.csv", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["path", "caption", "mentions"]
        rows = list(reader)
    per_clip = Counter(path for path, _, _ in rows)
    assert set(per_clip) == {p for p, _ in train} | set(test)
    kinds = len(MENTIONS)  # captions_per_clip (3) of every kind of mentions per clip
    assert set(per_clip.values()) == {3 * kinds} and summary["recognition_captions"] == len(rows) == 3 * kinds * len(per_clip)
    assert Counter((path, m) for path, _, m in rows) == {(p, m): 3 for p in per_clip for m in MENTIONS}
    for path, text, _ in rows:
        cls = path.split("/")[0]
        assert text and not any(names_class(text, other) for other in classes.values() if other != cls), (path, text)
    assert len({text for _, text, _ in rows}) > len(rows) // 2  # varied wording


SMALLEST = """\
seed: 5
synthesize:
  workers: 1
  matches: {count: 1, duration_s: 10, width: 64, height: 64}
  fouls: {splits: {train: 1, valid: 0, test: 0}, clip_frames: 12, contact_frame: 6, width: 32, height: 32}
  recognition: {classes: [Header, ThrowIn], groups: 2, clips_per_group: 2, test_groups: 1, frames: 20, width: 32, height: 32,
                captions_per_clip: CAPTIONS}
  actions: {val_matches: 0}
  header_clips: {frames: 2, size: 16, crop_px: 16}
  contact_sheets: {examples: 1, steps: 2}
"""


def test_captions_do_not_change_any_other_output(tmp_path):
    trees = {}
    for n in (0, 3):
        (tmp_path / f"p{n}.yaml").write_text(SMALLEST.replace("CAPTIONS", str(n)))
        summary = generate(P.load(None, tmp_path / f"p{n}.yaml"), out_dir=tmp_path / f"w{n}", progress=False)
        assert summary["recognition_captions"] == n * len(MENTIONS) * 8
        trees[n] = {str(f.relative_to(tmp_path / f"w{n}")): digest(f) for f in (tmp_path / f"w{n}").rglob("*") if f.is_file()}
    assert "ucf101/captions.csv" not in trees[0] and "ucf101/captions.csv" in trees[3]
    assert sum(f.startswith("ucf101/") and f.endswith(".mp4") for f in trees[0]) == 8
    del trees[3]["ucf101/captions.csv"], trees[0]["manifest.json"], trees[3]["manifest.json"]
    assert trees[0] == trees[3]
