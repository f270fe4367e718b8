"""The typed schema of params.yaml: the one place stage scripts read their settings from.

``load("synthesize")`` reads params.yaml with a YAML 1.2 loader (so ``1e-4`` is a float), validates the
whole file against :class:`Params` and returns the typed section. Unknown keys, wrong types and values
out of range fail with a :class:`ParamsError` that names the key path, e.g.
``synthesize.matches.count: Input should be greater than or equal to 1 (got 0)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .base import ParamsError
from .base import Section as _Section
from .data import CacheParams, SplitParams
from .detect import ExportProbsParams
from .filters import PostXgbParams, PreXgbParams
from .train import EvaluateParams, TrainParams
from .world import SynthesizeParams

DEFAULT_PATH = "params.yaml"
PARAMS_ENV = "REPLAYLAB_PARAMS"  # overrides the path of params.yaml (tests, alternative configs)

__all__ = ["DEFAULT_PATH", "PARAMS_ENV", "Params", "ParamsError", "load", "params_path", "read_yaml", "validate"]


# ------------------------------------------------------------------------------------------ the file
class Params(_Section):
    seed: int = Field(42, ge=0, le=2**32 - 1)
    synthesize: SynthesizeParams = SynthesizeParams()
    cache_clips: CacheParams = CacheParams()
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    pre_xgb: PreXgbParams = PreXgbParams()
    export_probs: ExportProbsParams = ExportProbsParams()
    post_xgb: PostXgbParams = PostXgbParams()
    evaluate: EvaluateParams = EvaluateParams()


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


def _describe(err: ValidationError, source: Path) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key")
        else:
            lines.append(f"{loc}: {e['msg']} (got {e.get('input')!r})")
    return f"{source}: invalid parameters:\n  " + "\n  ".join(lines)


def validate(data: dict[str, Any], source: str | os.PathLike = DEFAULT_PATH) -> Params:
    try:
        return Params.model_validate(data)
    except ValidationError as e:
        raise ParamsError(_describe(e, Path(source))) from None


def load(section: str | None = None, path: str | os.PathLike | None = None) -> Any:
    """The validated params.yaml, or one of its top-level sections (``"seed"``, ``"synthesize"``, ...)."""
    p = params_path(path)
    params = validate(read_yaml(p), p)
    if section is None:
        return params
    if section not in Params.model_fields:
        raise ParamsError(f"{p}: no section {section!r}; sections are {sorted(Params.model_fields)}")
    return getattr(params, section)
