"""Stage command lines name one of the four tasks."""

import pytest

from replaylab.tasks import TASKS, task_from_argv


def test_task_from_argv():
    assert TASKS == ("header", "foul", "actions", "recognition")
    assert task_from_argv(["stages/split.py", "foul"], "split") == "foul"
    for argv in (["s.py"], ["s.py", "fouls"], ["s.py", "foul", "x"]):
        with pytest.raises(SystemExit, match="usage: python stages/split.py"):
            task_from_argv(argv, "split")
