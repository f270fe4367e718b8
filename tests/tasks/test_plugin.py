"""A task added from outside the package, through the registry alone: its params validate, and the generic
stages cache, split, train and evaluate it end to end (each stage script run as DVC runs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from repo_fixtures import REPO

PLUGIN = Path(__file__).with_name("toy_task_plugin.py")


def _stage(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, REPLAYLAB_TASKS="toyplug", PYTHONPATH=f"{project / 'plugins'}{os.pathsep}{REPO / 'src'}",
               DVC_NO_ANALYTICS="1")  # fmt: skip
    return subprocess.run([sys.executable, str(REPO / "stages" / args[0]), *args[1:]], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_plugin_task_runs_through_the_generic_stages(tiny_world, tmp_path):
    project = tmp_path / "project"
    (project / "plugins" / "toyplug").mkdir(parents=True)
    shutil.copy(PLUGIN, project / "plugins" / "toyplug" / "__init__.py")
    ucf = tiny_world[0] / "ucf101"
    (project / "params.yaml").write_text(f"""\
seed: 5
cache_clips:
  toy: {{source: {{format: ucf101, root: {ucf}}}, frames: 4, size: [24, 32]}}
train:
  toy: {{epochs: 2, batch_size: 4, threads: 1, num_workers: 0, warmup_epochs: 0.0, width: 0.25}}
evaluate:
  toy: {{split: test}}
""")
    for args in (("validate_params.py",), ("cache_clips.py", "toy"), ("split.py", "toy"), ("train.py", "toy"),
                 ("evaluate.py", "toy")):  # fmt: skip
        res = _stage(project, *args)
        assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
    cache = json.loads((project / "metrics/cache_toy.json").read_text())
    train = json.loads((project / "metrics/train_toy.json").read_text())
    evaluated = json.loads((project / "metrics/eval_toy.json").read_text())
    assert cache["clips"] == 18 and train["epochs_run"] == 2 and train["backbone"] == "compact3d"
    assert evaluated["clips"] == sum(1 for _ in open(project / "data/splits/toy/test.csv")) - 1
    assert evaluated["accuracy"] == train["test_accuracy"]
    for name in ("best.pt", "last.pt", "config.yaml", "metrics_epoch.csv"):
        assert (project / "models/toy" / name).is_file(), name

    # the plugin's own params keys are validated like every other key
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("width: 0.25", "widht: 0.25"))
    res = _stage(project, "validate_params.py")
    assert res.returncode == 2 and "train.toy.widht: unknown key (did you mean train.toy.width?)" in res.stderr
    assert "Traceback" not in res.stderr
