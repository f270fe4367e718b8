"""The foul task: the adapter's loss and evaluation, and train@foul end to end on a tiny MVFoul cache (outputs,
official-format predictions, same seed -> same metrics, resume of a finished run)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from replaylab import params as P
from replaylab.data.dataset import ClipDataset
from replaylab.models.multiview import build_multiview
from replaylab.tasks.foul.adapter import FoulTask, ground_truth_of, predicted_document
from replaylab.tasks.training import train_task


class _Fixed(nn.Module):
    """Preset (action, offence) logits per action: the first pixel of the first view selects the row."""

    def __init__(self, action: torch.Tensor, offence: torch.Tensor):
        super().__init__()
        self.action, self.offence = action, offence
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, video, mask=None):
        idx = video[:, 0, 0, 0, 0, 0].long()
        return self.action[idx] + self.w, self.offence[idx] + self.w


def test_training_loss_is_the_weighted_sum_of_the_two_cross_entropies():
    action, offence = torch.randn(3, 8), torch.randn(3, 4)
    batch = {"video": torch.arange(3.0).view(3, 1, 1, 1, 1, 1).expand(3, 2, 3, 2, 2, 2), "view_mask": torch.ones(3, 2, dtype=torch.bool),
             "label": torch.tensor([0, 7, 3]), "offence_severity": torch.tensor([1, 0, 3])}  # fmt: skip
    ce = nn.CrossEntropyLoss()
    want = ce(action, batch["label"]) + 0.5 * ce(offence, batch["offence_severity"])
    task = FoulTask(ce, ce, action_weight=1.0, offence_weight=0.5)
    loss = task.training_loss(_Fixed(action, offence), batch, torch.device("cpu"))
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-6)
    assert task.batch_size_of(batch) == 3


def test_predicted_document_refuses_colliding_ids():
    rows = [{"action_id": "1", "sample_id": "train/action_1", "pred_action": 0, "pred_offence_severity": 0},
            {"action_id": "1", "sample_id": "test/action_1", "pred_action": 1, "pred_offence_severity": 2}]  # fmt: skip
    with pytest.raises(ValueError, match="share the id '1'"):
        predicted_document(rows)
    assert set(predicted_document(rows, key="sample_id")["Actions"]) == {"train/action_1", "test/action_1"}


def _datasets(root):
    cache, splits = root / "cache/foul.h5", root / "splits/foul"
    return (
        ClipDataset(cache, splits / f"{name}.csv", train=False, target_keys=("offence_severity",)) for name in ("train", "test")
    )


def test_evaluate_scores_with_the_official_rules(tiny_foul):
    root, _ = tiny_foul
    ds, _ = _datasets(root)
    n = len(ds)
    labels = [s.label for s in ds.index.samples]
    offences = [s.meta["offence_severity"] for s in ds.index.samples]
    perfect = _Fixed(torch.eye(8)[labels] * 10, torch.eye(4)[offences] * 10)

    class Indexed(torch.utils.data.Dataset):  # the first pixel of every item encodes its position
        index = ds.index

        def __len__(self):
            return n

        def __getitem__(self, i):
            item = ds[i]
            item["video"] = torch.full_like(item["video"], float(i))
            return item

    metrics, rows = FoulTask(nn.CrossEntropyLoss(), nn.CrossEntropyLoss()).evaluate(perfect, DataLoader(Indexed(), batch_size=3),
                                                                                   torch.device("cpu"))  # fmt: skip
    assert len(rows) == n and rows[0]["sample_id"] == ds.index.samples[0].sample_id
    assert all(r["pred_action"] == r["action"] and r["pred_offence_severity"] == r["offence_severity"] for r in rows)
    assert metrics["val_accuracy_action"] == pytest.approx(100.0)
    # an offence-severity is right only with the annotated offence string: Dives annotated "" / "Between" are misses
    gt = ground_truth_of(ds)["Actions"]
    raw_dives = sum(1 for s in ds.index.samples if s.meta["action_class"] == "Dive" and s.meta["offence"] in ("", "Between"))
    assert metrics["val_accuracy_offence_severity"] == pytest.approx(100.0 * (n - raw_dives) / n)
    assert set(gt) == {s.sample_id for s in ds.index.samples}
    assert {"val_loss", "val_loss_action", "val_loss_offence", "val_leaderboard_value_present"} <= set(metrics)


def test_chunked_multi_view_evaluation_equals_unchunked(tiny_foul):
    root, _ = tiny_foul
    ds, _ = _datasets(root)
    torch.manual_seed(0)
    model = build_multiview(
        backbone="compact3d", frames=4, size=(32, 48), aggregation="attention", hidden=8, backbone_options={"width": 0.25}
    )
    task = FoulTask(nn.CrossEntropyLoss(), nn.CrossEntropyLoss())
    loader = DataLoader(ds, batch_size=4)
    model.view_chunk = 0
    ref_metrics, ref = task.evaluate(model, loader, torch.device("cpu"))
    model.view_chunk = 1  # one view clip through the backbone at a time
    got_metrics, got = task.evaluate(model, loader, torch.device("cpu"))
    assert [(r["pred_action"], r["pred_offence_severity"]) for r in got] == [
        (r["pred_action"], r["pred_offence_severity"]) for r in ref
    ]
    for a, b in zip(got, ref):
        assert [a[k] for k in a if k.startswith("p_")] == pytest.approx([b[k] for k in b if k.startswith("p_")], abs=2e-6)
    assert got_metrics == pytest.approx(ref_metrics, abs=1e-5, nan_ok=True)  # NaN: a class absent from the tiny split


def test_train_foul_outputs(trained_foul):
    root, data, summary = trained_foul
    assert summary["epochs_run"] == 2 and summary["aggregation"] == "max" and summary["backbone"] == "compact3d"
    for split in ("val", "test"):
        assert {"leaderboard_value", "balanced_accuracy_action", "balanced_accuracy_offence_severity", "accuracy_action",
                "leaderboard_value_present", "loss"} <= set(summary[split])  # fmt: skip
    out = root / "models/foul"
    for name in ("best.pt", "last.pt", "config.yaml", "metrics_epoch.csv", "val_predictions.csv", "test_predictions.csv",
                 "best_metrics.json", "predictions/val.json", "predictions/test.json"):  # fmt: skip
        assert (out / name).is_file(), name
    test_ids = [r["sample_id"] for r in csv.DictReader(open(root / "splits/foul/test.csv"))]
    preds = json.loads((out / "predictions/test.json").read_text())["Actions"]
    assert sorted(preds, key=int) == sorted((s.split("action_")[1] for s in test_ids), key=int)
    assert all(set(p) == {"Action class", "Offence", "Severity"} for p in preds.values())
    header = next(csv.reader(open(out / "metrics_epoch.csv")))
    assert "val_leaderboard_value_present" in header and "val_balanced_accuracy_action" in header
    assert "aggregation: max" in (out / "config.yaml").read_text()


def test_same_seed_same_metrics_and_finished_run_is_not_retrained(trained_foul):
    root, data, first = trained_foul
    again = dict(data, train=dict(data["train"], out_dir=str(root / "models2"), live_dir=str(root / "live2")))
    second = train_task("foul", P.validate(again))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    rerun = train_task("foul", P.validate(again))  # finished: resumes to the end without training again
    assert rerun["epochs_run"] == 2 and rerun["test"] == first["test"]


def test_mixed_official_splits_are_refused(tiny_foul, tmp_path):
    root, data = tiny_foul
    rows = list(csv.DictReader(open(root / "splits/foul/train.csv")))
    test_rows = list(csv.DictReader(open(root / "splits/foul/test.csv")))
    clash = [r for r in rows if r["sample_id"].split("/")[1] in {t["sample_id"].split("/")[1] for t in test_rows}]
    if not clash:
        pytest.skip("no action id occurs in both train and test of the tiny world")
    splits = tmp_path / "splits/foul"
    splits.mkdir(parents=True)
    for name in ("train", "val"):
        (splits / f"{name}.csv").write_text((root / f"splits/foul/{name}.csv").read_text())
    with open(splits / "test.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(test_rows + clash[:1])
    bad = dict(data, split={"out_dir": str(tmp_path / "splits")}, train=dict(data["train"], out_dir=str(tmp_path / "m")))
    with pytest.raises(SystemExit, match="mixes actions of the official splits"):
        train_task("foul", P.validate(bad))
