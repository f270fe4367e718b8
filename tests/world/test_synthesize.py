import hashlib
import json

from repo_fixtures import tiny_params

from replaylab import params as P
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
