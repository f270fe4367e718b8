"""dvc.yaml and params.yaml agree: every key a stage names or interpolates exists in the shipped file
(DVC reads params.yaml directly, without the schema's defaults), and the file validates."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from repo_fixtures import REPO

from replaylab import params as P


def _get(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"params.yaml lacks {dotted!r} (named in dvc.yaml)"
        node = node[part]
    return node


def test_every_key_dvc_yaml_names_is_in_params_yaml():
    params = P.read_yaml(REPO / "params.yaml")
    P.validate(params)
    dvc = P.read_yaml(REPO / "dvc.yaml")["stages"]
    tasks = ("header", "foul", "actions", "recognition")
    for name, stage in dvc.items():
        items = stage.get("foreach", [None])
        keys = list(items) if isinstance(items, dict) else items
        body = stage.get("do", stage)
        text = repr(body) + repr(items)
        for k in keys:
            item = items[k] if isinstance(items, dict) and isinstance(items[k], str) else k  # {task: its data task}
            fields = items[k] if isinstance(items, dict) and isinstance(items[k], dict) else {}  # ${item.data} etc.
            for key in body.get("params", []):
                for f, v in fields.items():
                    key = key.replace("${item." + f + "}", str(v))
                _get(params, key.replace("${item}", str(item)).replace("${key}", str(k)))
            for ref in re.findall(r"\$\{([a-z_.]+)\}", text):
                if ref.split(".")[0] not in ("item", "key"):  # ${item.scores}: a field of a foreach item, not a param
                    _get(params, ref)
        if name in ("cache_clips", "split"):
            assert sorted(keys) == sorted(tasks)


# ------------------------------------------------------------------------------------------ code deps
SRC = REPO / "src"
TASKS = SRC / "replaylab/tasks"


def _module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, follow_lazy: bool) -> set[str]:
    """Every replaylab module ``path`` may import (any depth: module level and inside functions; a spec's
    ``lazy("module:attr")`` target when ``follow_lazy``; the registry's built-in task packages)."""
    tree = ast.parse(path.read_text())
    if SRC in path.parents:
        package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    else:
        package = ""  # a stage script (absolute imports only)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # submodules imported by name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = re.fullmatch(r"(replaylab(?:\.\w+)+):\w+", node.value)
            if m and follow_lazy:
                found.add(m.group(1))
    if path == SRC / "replaylab/tasks/registry.py":
        from replaylab.tasks.registry import BUILTIN

        found |= set(BUILTIN)
    return {n for n in found if n.split(".")[0] == "replaylab" and _module_file(n) is not None}


def _closure(script: Path, task: str, *, lazy: bool) -> set[Path]:
    """The files of every replaylab module that ``python <script> <task>`` may import (packages' ``__init__``
    included); with ``lazy`` the running task's lazy trainer / evaluator targets are followed (not the other
    tasks')."""
    todo, seen = [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        rel = path.relative_to(REPO).as_posix()
        own = not rel.startswith("src/replaylab/tasks/") or rel.startswith(f"src/replaylab/tasks/{task}/")
        for name in _imports(path, follow_lazy=lazy and own):
            parts = name.split(".")
            todo += [f for i in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:i]))) is not None]
    return {p for p in seen if p != script}


@pytest.mark.parametrize("stage", ["cache_clips", "split", "train"])
def test_per_task_stages_depend_on_every_task_module_they_import(stage):
    """These stages depend on their own task's package and on the task modules every task loads (the registry
    imports each task's ``__init__`` and params), not on the other tasks' code: editing one task's trainer does
    not re-run the other tasks' caches, splits and training. Checked on the static imports of the stage script
    (module level and inside functions, the running task's lazy trainer / evaluator) under replaylab.tasks."""
    dvc = P.read_yaml(REPO / "dvc.yaml")["stages"][stage]
    items = dvc["foreach"]
    for task in list(items):
        data = items[task] if isinstance(items, dict) and isinstance(items[task], str) else task  # kd: recognition
        deps = [d.replace("${key}", task).replace("${item}", data) for d in dvc["do"]["deps"] if isinstance(d, str)]
        deps = [REPO / d for d in deps if "${" not in d]
        script = REPO / "stages" / f"{stage}.py"
        assert script in deps
        missing = sorted(
            p.relative_to(REPO).as_posix()
            for p in _closure(script, task, lazy=stage == "train")  # only train resolves the spec's trainer
            if TASKS in p.parents and not any(p == d or d in p.parents for d in deps)
        )
        assert not missing, f"{stage}@{task} imports these without depending on them: {missing}"
        for other in set(items) - {task, data}:  # editing another task's model or loop does not re-run this one
            code = TASKS / other / "trainer.py"
            assert not any(code == d or d in code.parents for d in deps), f"{stage}@{task} depends on {other}'s trainer"


def test_train_depends_on_every_module_of_the_training_identity():
    """What a resumed or skipped run is keyed on (the identity's code digest) also re-runs ``train@<task>``."""
    from replaylab.tasks.registry import get_task
    from replaylab.tasks.training import training_code

    stage = P.read_yaml(REPO / "dvc.yaml")["stages"]["train"]
    for task, data in stage["foreach"].items():  # task -> the task whose data it reads
        deps = [REPO / d.replace("${key}", task).replace("${item}", data) for d in stage["do"]["deps"]
                if "${" not in d.replace("${item}", "").replace("${key}", "")]  # fmt: skip
        for mode in ("video", "features"):
            cfg = getattr(P.validate({"train": {task: {"input": mode}}}).train, task)
            for name in training_code(get_task(task), cfg):
                path = SRC.joinpath(*name.split("."))
                path = path if path.is_dir() else path.with_suffix(".py")
                assert any(path == d or d in path.parents for d in deps), f"train@{task} ({mode}): {name} is not a dep"
