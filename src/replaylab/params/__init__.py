"""The typed schema of params.yaml: the one place stage scripts read their settings from.

``load("synthesize")`` reads params.yaml with a YAML 1.2 loader (so ``1e-4`` is a float), validates the
whole file against :func:`schema` (fixed sections + every registered task's sub-sections) and returns the typed section. Unknown keys, wrong types and values
out of range fail with a :class:`ParamsError` that names the key path, e.g.
``synthesize.matches.count: Input should be greater than or equal to 1 (got 0)``.
"""

from __future__ import annotations

import os
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, Field, ValidationError, create_model
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..tasks.registry import all_tasks, registry_version
from .base import ParamsError
from .base import Section as _Section
from .data import CacheCommon, SplitCommon
from .detect import ExportProbsParams
from .featurize import FeaturizeCommon, FeaturizeTaskParams
from .filters import PostXgbParams, PreXgbParams
from .prompt import PromptParams
from .train import EvaluateCommon, TrainCommon
from .weights import WeightsParams
from .world import SynthesizeParams

DEFAULT_PATH = "params.yaml"
PARAMS_ENV = "REPLAYLAB_PARAMS"  # overrides the path of params.yaml (tests, alternative configs)

__all__ = ["DEFAULT_PATH", "PARAMS_ENV", "ParamsError", "load", "params_path", "read_yaml", "schema", "validate"]


# ------------------------------------------------------------------------------------------ the file
def _per_task(name: str, base: type[_Section], sections: dict[str, Any]) -> type[_Section]:
    """``base`` (the stage's own keys) plus one sub-section per task, each with its default value."""
    fields = {task: (model if isinstance(model, type) else type(model), model() if isinstance(model, type) else model)
              for task, model in sections.items()}  # fmt: skip
    return create_model(name, __base__=base, **fields)


_SCHEMA: dict[int, type[_Section]] = {}


def schema() -> type[_Section]:
    """The model of the whole file: the fixed sections plus every registered task's ``cache_clips.<task>``,
    ``split.<task>``, ``featurize.<task>``, ``train.<task>`` and ``evaluate.<task>`` (rebuilt when a task registers)."""
    version = registry_version()
    if version not in _SCHEMA:
        tasks = all_tasks()
        own = [t for t in tasks if t.data is None]  # tasks with a clip cache of their own
        cache = _per_task("CacheParams", CacheCommon, {t.name: t.cache_params for t in own})
        split = _per_task("SplitParams", SplitCommon, {t.name: t.split_params for t in own})
        train = _per_task("TrainParams", TrainCommon, {t.name: t.train_params for t in tasks if t.train_params})
        evaluate = _per_task("EvaluateParams", EvaluateCommon, {t.name: t.evaluate_params for t in tasks if t.evaluate_params})
        featurize = _per_task("FeaturizeParams", FeaturizeCommon, {t.name: FeaturizeTaskParams for t in own})
        _SCHEMA.clear()
        _SCHEMA[version] = create_model(
            "Params",
            __base__=_Section,
            seed=(int, Field(42, ge=0, le=2**32 - 1)),
            synthesize=(SynthesizeParams, SynthesizeParams()),
            cache_clips=(cache, cache()),
            split=(split, split()),
            weights=(WeightsParams, WeightsParams()),
            featurize=(featurize, featurize()),
            train=(train, train()),
            pre_xgb=(PreXgbParams, PreXgbParams()),
            export_probs=(ExportProbsParams, ExportProbsParams()),
            post_xgb=(PostXgbParams, PostXgbParams()),
            evaluate=(evaluate, evaluate()),
            prompt=(PromptParams, PromptParams()),
        )
    return _SCHEMA[version]


def params_path(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get(PARAMS_ENV) or DEFAULT_PATH)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a YAML file with YAML 1.2 semantics (``1e-4`` is a float, ``no`` is a string)."""
    p = Path(path)
    if not p.exists():
        raise ParamsError(f"{p}: file not found (run from the project root or set {PARAMS_ENV})")
    try:
        data = YAML(typ="safe", pure=True).load(p.read_text())
    except YAMLError as e:
        raise ParamsError(f"{p}: not valid YAML: {e}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{p}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _models_in(annotation: Any) -> list[type]:
    """The pydantic models an annotation can hold (through Optional / unions / Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _walk(model: type, loc: tuple) -> tuple[list[type], list[str]]:
    """The models of the section at ``loc`` below ``model``, and ``loc`` without the tags pydantic puts in the
    path of a discriminated union (``source.matches.x`` -> ``source.x``)."""
    models, path = [model], []
    for part in loc:
        holders = [m for m in models if part in m.model_fields]
        if holders:
            models = [x for m in holders for x in _models_in(m.model_fields[part].annotation)]
            path.append(part)
        else:
            models = [
                m for m in models if "format" in m.model_fields and get_args(m.model_fields["format"].annotation) == (part,)
            ]
    return models, path


def _keys_at(model: type, loc: tuple) -> list[str]:
    return sorted({k for m in _walk(model, loc)[0] for k in m.model_fields})


def nearest_key(model: type, loc: tuple) -> str | None:
    """The valid key path(s) closest to the unknown ``loc``: a sibling spelled alike, or the same name up to two
    levels down (a top-level ``lr`` -> ``train.header.lr or train.foul.lr``)."""
    *tail, name = (str(x) for x in loc)
    parent = _walk(model, tuple(tail))[1]
    close = get_close_matches(name, _keys_at(model, tuple(tail)), n=1, cutoff=0.6 if len(name) <= 4 else 0.75)
    if close:
        return ".".join([*parent, close[0]])
    below = [".".join([*parent, k, *rest]) for k in _keys_at(model, tuple(tail))
             for rest in _paths_to(model, (*tail, k), name)]  # fmt: skip
    return " or ".join(below[:4]) if below else None


def _paths_to(model: type, loc: tuple, name: str, depth: int = 2) -> list[list[str]]:
    keys = _keys_at(model, loc)
    if name in keys:
        return [[name]]
    if depth == 0:
        return []
    return [[k, *rest] for k in keys for rest in _paths_to(model, (*loc, k), name, depth - 1)]


def _describe(err: ValidationError, source: Path, model: type) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            hint = nearest_key(model, tuple(x for x in e["loc"] if isinstance(x, str)))
            lines.append(f"{loc}: unknown key" + (f" (did you mean {hint}?)" if hint else ""))
        else:
            lines.append(f"{loc}: {e['msg']} (got {e.get('input')!r})")
    return f"{source}: invalid parameters:\n  " + "\n  ".join(lines)


def validate(data: dict[str, Any], source: str | os.PathLike = DEFAULT_PATH) -> Any:
    model = schema()
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ParamsError(_describe(e, Path(source), model)) from None


def load(section: str | None = None, path: str | os.PathLike | None = None) -> Any:
    """The validated params.yaml, or one of its top-level sections (``"seed"``, ``"synthesize"``, ...)."""
    p = params_path(path)
    params = validate(read_yaml(p), p)
    if section is None:
        return params
    if section not in type(params).model_fields:
        raise ParamsError(f"{p}: no section {section!r}; sections are {sorted(type(params).model_fields)}")
    return getattr(params, section)
