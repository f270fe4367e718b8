"""A tiny SoccerNet-MVFoul clip cache and splits from the session's synthetic world, and one trained foul model
(shared by the foul task, evaluation and prediction tests)."""

from __future__ import annotations

import contextlib

import pytest

from replaylab import params as P
from replaylab.data.cache import build_cache, spec_from_params
from replaylab.data.samples import SampleIndex, read_csv
from replaylab.data.sources import task_index
from replaylab.data.task_splits import make_splits, write_splits


@pytest.fixture(scope="session")
def tiny_foul(tiny_world, tmp_path_factory):
    """(work dir, params dict) with data/cache/foul.h5 and data/splits/foul/{train,val,test}.csv built."""
    root = tmp_path_factory.mktemp("foul")
    data = {
        "seed": 3,
        "cache_clips": {"out_dir": str(root / "cache"), "foul": {"source": {"format": "mvfoul", "root": str(tiny_world[0] / "mvfoul"),
                                                                           "center_frame": 20}, "frames": 4, "size": [32, 48]}},
        "split": {"out_dir": str(root / "splits"), "foul": {"strategy": "official"}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "foul": {"epochs": 2, "batch_size": 4, "num_workers": 0, "threads": 1, "hidden": 16, "view_chunk": 3,
                           "backbone_options": {"width": 0.25}, "warmup_epochs": 0.0}},
        "evaluate": {"out_dir": str(root / "reports")},
    }  # fmt: skip
    params = P.validate(data)
    cfg = params.cache_clips.foul
    spec = spec_from_params(cfg)
    build_cache(task_index("foul", cfg, seed=3, margin_s=spec.half_window_s()), spec, out_h5=root / "cache/foul.h5",
                out_index=root / "cache/foul_index.csv", work_dir=root / "w", progress=False, task="foul")  # fmt: skip
    by = make_splits(read_csv(root / "cache/foul_index.csv"), strategy="official", fractions={"train": 0.7, "val": 0.15, "test": 0.15},
                     seed=3, task="foul")  # fmt: skip
    write_splits(by, root / "splits/foul", task="foul")
    return root, data


@pytest.fixture(scope="session")
def trained_foul(tiny_foul):
    """(work dir, params dict, train_task summary) after training the tiny foul model once."""
    import os

    from replaylab.tasks.training import train_task

    root, data = tiny_foul
    cwd = os.getcwd()
    os.chdir(root)  # dvclive looks for a DVC repo from the working directory
    try:
        summary = train_task("foul", P.validate(data))
    finally:
        os.chdir(cwd)
    return root, data, summary


@pytest.fixture(scope="session")
def tiny_actions(tiny_world, tmp_path_factory):
    """(work dir, params dict) with the actions clip cache, its official splits and a feature store of a small
    random-weight backbone with maps (data/features/actions/c3d)."""
    from replaylab.features.featurize import featurize_cache

    root = tmp_path_factory.mktemp("actions")
    data = {
        "seed": 3,
        "cache_clips": {"out_dir": str(root / "cache"), "actions": {"source": {"format": "ava", "root": str(tiny_world[0] / "ava")},
                                                                   "frames": 4, "stride": 4, "size": [36, 64]}},
        "split": {"out_dir": str(root / "splits"), "actions": {"strategy": "official"}},
        "featurize": {"out_dir": str(root / "features"),
                      "actions": {"models": [{"key": "c3d", "backbone": "compact3d", "backbone_options": {"width": 0.25},
                                              "pretrained": None, "store_maps": True}]}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "actions": {"epochs": 2, "batch_size": 4, "num_workers": 0, "threads": 1, "warmup_iters": 2,
                              "milestones": [6], "roi": {"hidden": 16, "output_size": 3},
                              "ia": {"active": True, "dim_inner": 8, "memory_span_s": 2}}},
        "evaluate": {"out_dir": str(root / "reports")},
    }  # fmt: skip
    params = P.validate(data)
    cfg = params.cache_clips.actions
    spec = spec_from_params(cfg)
    build_cache(task_index("actions", cfg, seed=3, margin_s=spec.half_window_s()), spec, out_h5=root / "cache/actions.h5",
                out_index=root / "cache/actions_index.csv", work_dir=root / "w", progress=False, task="actions")  # fmt: skip
    # the tiny world has one AVA train match: its later keyframes become val (official AVA val = test)
    from replaylab.data.cache import read_cache_meta

    index = read_csv(root / "cache/actions_index.csv", classes=read_cache_meta(root / "cache/actions.h5")["classes"])
    train = [s for s in index.samples if s.meta["official_split"] == "train"]
    cut = sorted(s.meta["timestamp"] for s in train)[int(len(train) * 0.7)]
    parts = {"train": [s for s in train if s.meta["timestamp"] < cut], "val": [s for s in train if s.meta["timestamp"] >= cut],
             "test": [s for s in index.samples if s.meta["official_split"] == "test"]}  # fmt: skip
    write_splits({k: SampleIndex(v, index.classes, index.root, f"actions:{k}") for k, v in parts.items()},
                 root / "splits/actions", task="actions")  # fmt: skip
    featurize_cache(root / "cache/actions.h5", root / "features/actions", params.featurize.actions.models,
                    split_dir=root / "splits/actions", progress=False, task="actions", seed=3)  # fmt: skip
    return root, data


@pytest.fixture(scope="session")
def trained_actions(tiny_actions):
    """(work dir, params dict, train_task summary) after training the tiny actions model (features, IA P/O/M) once."""
    from replaylab.tasks.training import train_task

    root, data = tiny_actions
    with contextlib.chdir(root):  # dvclive looks for a DVC repo from the working directory
        summary = train_task("actions", P.validate(data))
    return root, data, summary


@pytest.fixture(scope="session")
def tiny_recognition(tiny_world, tmp_path_factory):
    """(work dir, params dict) with the recognition clip cache (UCF101 layout), its official splits (val carved
    out of train by group) and a feature store of a small random-weight backbone (data/features/recognition/c3d)."""
    from replaylab.features.featurize import featurize_cache

    root = tmp_path_factory.mktemp("recognition")
    data = {
        "seed": 3,
        "cache_clips": {"out_dir": str(root / "cache"),
                        "recognition": {"source": {"format": "ucf101", "root": str(tiny_world[0] / "ucf101")},
                                        "frames": 4, "size": [32, 40]}},
        "split": {"out_dir": str(root / "splits"), "recognition": {"strategy": "official",
                                                                    "fractions": {"train": 0.5, "val": 0.5, "test": 0.0}}},
        "featurize": {"out_dir": str(root / "features"),
                      "recognition": {"models": [{"key": "c3d", "backbone": "compact3d", "backbone_options": {"width": 0.25},
                                                  "pretrained": None}], "dtype": "float32"}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "recognition": {"epochs": 2, "batch_size": 4, "num_workers": 0, "threads": 1, "lr": 0.01, "warmup_epochs": 0.0,
                                  "backbone": "compact3d", "backbone_options": {"width": 0.25}}},
        "evaluate": {"out_dir": str(root / "reports")},
    }  # fmt: skip
    params = P.validate(data)
    cfg = params.cache_clips.recognition
    spec = spec_from_params(cfg)
    build_cache(task_index("recognition", cfg, seed=3, margin_s=spec.half_window_s()), spec, out_h5=root / "cache/recognition.h5",
                out_index=root / "cache/recognition_index.csv", work_dir=root / "w", progress=False, task="recognition")  # fmt: skip
    by = make_splits(read_csv(root / "cache/recognition_index.csv"), strategy="official",
                     fractions={"train": 0.5, "val": 0.5, "test": 0.0}, seed=3, task="recognition")  # fmt: skip
    write_splits(by, root / "splits/recognition", task="recognition")
    featurize_cache(root / "cache/recognition.h5", root / "features/recognition", params.featurize.recognition.models,
                    split_dir=root / "splits/recognition", progress=False, task="recognition", seed=3, dtype="float32")  # fmt: skip
    return root, data


def with_input(data: dict, mode: str) -> dict:
    """``data`` training in ``mode`` (video / features) into models_<mode>/, live_<mode>/ and reports_<mode>/."""
    root = data["train"]["out_dir"].rsplit("/", 1)[0]
    train = {**data["train"], "out_dir": f"{root}/models_{mode}", "live_dir": f"{root}/live_{mode}",
             "recognition": {**data["train"]["recognition"], "input": mode}}  # fmt: skip
    return {**data, "train": train, "evaluate": {"out_dir": f"{root}/reports_{mode}"}}


@pytest.fixture(scope="session")
def trained_recognition(tiny_recognition):
    """mode -> (params dict, train_task summary) after training the tiny classifier once per input mode."""
    from replaylab.tasks.training import train_task

    root, data = tiny_recognition
    out = {}
    with contextlib.chdir(root):  # dvclive looks for a DVC repo from the working directory
        for mode in ("video", "features"):
            d = with_input(data, mode)
            out[mode] = (d, train_task("recognition", P.validate(d)))
    return out


@pytest.fixture(scope="session")
def tiny_kd(tiny_recognition, tmp_path_factory):
    """(work dir, params dict) for ``train@kd`` on the tiny recognition data: a float32 feature store with a student
    (``student``, with maps for time tokens) and two teachers (``t_a``, ``t_b``), all small random-weight backbones."""
    from replaylab.features.featurize import featurize_cache

    src, base = tiny_recognition
    root = tmp_path_factory.mktemp("kd")
    models = [{"key": "student", "backbone": "compact3d", "backbone_options": {"width": 0.25}, "pretrained": None,
               "store_maps": True, "frames": 4, "size": [32, 32]},
              {"key": "t_a", "backbone": "compact3d", "backbone_options": {"width": 0.5}, "pretrained": None},
              {"key": "t_b", "backbone": "csn26", "backbone_options": {"base_width": 8}, "pretrained": None}]  # fmt: skip
    data = {
        **base,
        "featurize": {"out_dir": str(root / "features"), "recognition": {"models": models, "dtype": "float32"}},
        "train": {"out_dir": str(root / "models"), "live_dir": str(root / "live"),
                  "kd": {"epochs": 3, "batch_size": 4, "num_workers": 0, "threads": 1, "lr": 0.01, "warmup_epochs": 0.0,
                         "teachers": ["t_a", "t_b"], "converter": {"epochs": 5, "patience": 2, "batch_size": 4}}},
        "evaluate": {"out_dir": str(root / "reports")},
    }  # fmt: skip
    params = P.validate(data)
    featurize_cache(src / "cache/recognition.h5", root / "features/recognition", params.featurize.recognition.models,
                    split_dir=src / "splits/recognition", progress=False, task="recognition", seed=3, dtype="float32")  # fmt: skip
    return root, data
