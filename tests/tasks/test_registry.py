"""The task registry: built-in tasks, registration rules, stage command lines, the assembled params schema."""

import pytest

from replaylab import params as P
from replaylab.params.data import ClipParams, SplitTaskParams, Ucf101Source
from replaylab.tasks import TaskSpec, get_task, register_task, task_from_argv, task_names, unregister_task


def test_builtin_tasks():
    assert task_names() == ["header", "foul", "actions", "recognition", "kd"]
    assert task_names(trainable=True) == ["header", "foul", "actions", "recognition", "kd"]
    assert task_names(evaluable=True) == ["header", "foul", "actions", "recognition", "kd"]
    assert task_names(own_data=True) == ["header", "foul", "actions", "recognition"]  # kd reads recognition's data
    kd = get_task("kd")
    assert kd.data_name == "recognition" and kd.cache_params is None
    assert get_task("foul").package == "replaylab.tasks.foul"
    with pytest.raises(KeyError, match="unknown task 'fouls'"):
        get_task("fouls")


def test_task_from_argv():
    assert task_from_argv(["stages/split.py", "foul"], "split") == "foul"
    assert task_from_argv(["stages/train.py", "header"], "train", need="trainer") == "header"
    assert task_from_argv(["stages/train.py", "kd"], "train", need="trainer") == "kd"
    with pytest.raises(SystemExit, match=r"usage: python stages/cache_clips.py \{header,foul,actions,recognition\} \(got kd\)"):
        task_from_argv(["s.py", "kd"], "cache_clips", need="data")  # kd has no cache of its own
    for argv in (["s.py"], ["s.py", "fouls"], ["s.py", "foul", "x"]):
        with pytest.raises(SystemExit, match="usage: python stages/split.py"):
            task_from_argv(argv, "split")
    spec = TaskSpec(name="untrained", description="t", package=__name__, cache_params=ToyCache, split_params=SplitTaskParams())
    register_task(spec)
    try:
        with pytest.raises(
            SystemExit, match=r"usage: python stages/train.py \{header,foul,actions,recognition,kd\} \(got untrained\)"
        ):
            task_from_argv(["s.py", "untrained"], "train", need="trainer")
    finally:
        unregister_task("untrained")


class ToyCache(ClipParams):
    source: Ucf101Source = Ucf101Source(format="ucf101")


def test_registered_task_joins_the_params_schema():
    spec = TaskSpec(name="toy", description="t", package=__name__, cache_params=ToyCache, split_params=SplitTaskParams())
    register_task(spec)
    try:
        params = P.validate({"cache_clips": {"toy": {"frames": 3}}})
        assert params.cache_clips.toy.frames == 3 and params.split.toy.strategy == "grouped"
        with pytest.raises(P.ParamsError, match="cache_clips.toy.framez: unknown key"):
            P.validate({"cache_clips": {"toy": {"framez": 3}}})
    finally:
        unregister_task("toy")
    with pytest.raises(P.ParamsError, match="cache_clips.toy: unknown key"):
        P.validate({"cache_clips": {"toy": {"frames": 3}}})


def test_spec_rules():
    with pytest.raises(ValueError, match="identifier"):
        TaskSpec(name="my-task", description="", package="x", cache_params=ToyCache, split_params=SplitTaskParams())
    with pytest.raises(ValueError, match="train_params and trainer come together"):
        TaskSpec(name="t", description="", package="x", cache_params=ToyCache, split_params=SplitTaskParams(),
                 train_params=ToyCache)  # fmt: skip
    spec = TaskSpec(name="header", description="", package="elsewhere", cache_params=ToyCache, split_params=SplitTaskParams())
    with pytest.raises(ValueError, match="already registered by replaylab.tasks.header"):
        register_task(spec)


def test_a_task_reading_another_tasks_data():
    """``data``: the task has no cache / split / featurize section of its own and its outputs point at the other's."""
    spec = TaskSpec(name="reader", description="t", package=__name__, cache_params=None, split_params=None, data="recognition")
    params = P.validate({})
    out = spec.outputs(params)
    assert out.cache.name == "recognition.h5" and out.splits.name == "recognition" and out.model.name == "reader"
    with pytest.raises(ValueError, match="cache_params and split_params, or data"):
        TaskSpec(name="neither", description="t", package=__name__, cache_params=None, split_params=None)
    with pytest.raises(ValueError, match="cache_params and split_params, or data"):
        TaskSpec(name="both", description="t", package=__name__, cache_params=ToyCache, split_params=SplitTaskParams(),
                 data="recognition")  # fmt: skip
    assert "kd" not in P.validate({}).cache_clips.model_dump() and "kd" in P.validate({}).train.model_dump()
