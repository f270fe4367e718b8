from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from replaylab.training import TrainConfig, distributed, fit

from .toy import ToyDataset, ToyTask, mlp, params_of


def test_detect_reads_the_torchrun_environment(monkeypatch):
    assert distributed.detect() == distributed.DistInfo(1, 0, 0) and not distributed.detect().enabled
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not distributed.detect().enabled
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    info = distributed.detect()
    assert (info.world_size, info.rank, info.local_rank, info.enabled, info.is_main) == (4, 2, 0, True, False)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError):
        distributed.detect()


def test_helpers_are_no_ops_in_one_process():
    info, created = distributed.init("cpu")
    assert not info.enabled and not created
    assert distributed.is_main() and distributed.world_size() == 1 and distributed.rank() == 0
    distributed.barrier()
    assert distributed.sum_loss_and_count(torch.tensor(3.5), 7, torch.device("cpu")) == (3.5, 7.0)
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    t = torch.ones(2)
    assert distributed.all_reduce_sum(t) is t and t.tolist() == [1.0, 1.0]
    distributed.cleanup(created)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update({"WORLD_SIZE": str(world), "RANK": str(rank), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "DVC_NO_ANALYTICS": "1"})  # fmt: skip
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=2, batch_size=16, optimizer="adamw", lr_head=0.02, schedule="cosine", monitor="val_accuracy",
                      monitor_mode="max", seed=5, accumulate=2, grad_clip=1.0)  # fmt: skip
    # every rank passes its own directories: only rank 0's may appear
    kw = {"task": ToyTask(), "train_set": ToyDataset(100, 0, 0.05), "val_set": ToyDataset(64, 1), "cfg": cfg,
          "out_dir": os.path.join(root, f"out{rank}"), "live_dir": os.path.join(root, f"live{rank}")}  # fmt: skip
    model = mlp()
    res = fit(model=model, **kw)
    torch.save(params_of(model), os.path.join(root, f"params{rank}.pt"))
    again = fit(model=mlp(), **kw)  # finished: nothing to train, same result on every rank
    # fit left the process group up: the helpers work across the ranks
    info, created = distributed.init("cpu")
    assert info.enabled and not created and distributed.world_size() == 2 and distributed.is_main() == (rank == 0)
    total = distributed.sum_loss_and_count(torch.tensor(float(rank + 1)), rank + 2, torch.device("cpu"))
    distributed.barrier()
    distributed.cleanup()
    with open(os.path.join(root, f"result{rank}.json"), "w") as fh:
        json.dump({"history": res.history, "best_epoch": res.best_epoch, "again": again.resumed_from,
                   "again_history": again.history, "total": total}, fh)  # fmt: skip


def test_ddp_two_cpu_processes(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"result{r}.json").read_text()) for r in (0, 1))
    assert r0["history"] == r1["history"] and len(r0["history"]) == 2 and r0["best_epoch"] == r1["best_epoch"]
    # 100 samples over 2 ranks: 50 each, 4 batches of 16 (the 1-sample tail dropped) -> 2 steps per epoch
    assert [row["step"] for row in r0["history"]] == [2, 4]
    assert r0["again"] == r1["again"] == 2 and r0["again_history"] == r0["history"]
    assert r0["total"] == r1["total"] == [3.0, 5.0]
    p0, p1 = torch.load(tmp_path / "params0.pt"), torch.load(tmp_path / "params1.pt")
    assert all(torch.equal(v, p1[k]) for k, v in p0.items())
    assert {p.name for p in (tmp_path / "out0").iterdir()} >= {"best.pt", "last.pt", "metrics_epoch.csv",
                                                                 "val_predictions.csv", "best_metrics.json"}  # fmt: skip
    assert (tmp_path / "live0" / "metrics.json").exists()
    assert not (tmp_path / "out1").exists() and not (tmp_path / "live1").exists()
    assert len((tmp_path / "out0" / "val_predictions.csv").read_text().splitlines()) == 65  # the full val set
