from __future__ import annotations

import json

import pytest

from replaylab.data.samples import AdapterError
from replaylab.params.data import AvaCocoSource, AvaSource
from replaylab.tasks.actions.labels import label_ids


def test_ids_come_from_the_label_map_in_class_order(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "ava_action_list_v2.2.pbtxt").write_text('label { name: "stand" label_id: 3 }\nlabel { name: "walk" label_id: 11 }\n')
    src = AvaSource(format="ava", root=str(tmp_path))
    assert label_ids(src, ["stand", "walk"]) == [3, 11]
    with pytest.raises(AdapterError, match="does not match the cached classes"):
        label_ids(src, ["walk", "stand"])


def test_coco_categories_give_the_ids(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "train.json").write_text(json.dumps({"categories": [{"id": 7, "name": "kick"}, {"id": 2, "name": "run"}]}))
    src = AvaCocoSource(format="ava_coco", root=str(tmp_path))
    assert label_ids(src, ["run", "kick"]) == [2, 7]
