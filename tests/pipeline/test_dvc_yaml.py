"""dvc.yaml and params.yaml agree: every key a stage names or interpolates exists in the shipped file
(DVC reads params.yaml directly, without the schema's defaults), and the file validates."""

from __future__ import annotations

import re

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
        for item in keys:
            for key in body.get("params", []):
                _get(params, key.replace("${item}", str(item)).replace("${key}", str(item)))
            for ref in re.findall(r"\$\{([a-z_.]+)\}", text):
                if ref.split(".")[0] not in ("item", "key"):  # ${item.scores}: a field of a foreach item, not a param
                    _get(params, ref)
        if name in ("cache_clips", "split"):
            assert sorted(keys) == sorted(tasks)
