"""Import layering of src/replaylab, read from the source (ast), not by importing it.

- Real-data code never imports the synthetic world (``replaylab.world``): the camera model lives in
  ``replaylab.geometry`` and picture writing in ``replaylab.viz``. The one exception is the library entry of
  the synthesize command (``replaylab.world.synthesize``, called by the CLI).
- ``replaylab.geometry`` and ``replaylab.viz`` are leaves: they import only each other and ``replaylab.io``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import replaylab

SRC = Path(replaylab.__file__).parent
ALLOWED_WORLD_IMPORTS = {("replaylab.cli", "replaylab.world.synthesize")}
LEAVES = ("replaylab.geometry", "replaylab.viz")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every replaylab module ``path`` imports (relative imports resolved; ``from a import b`` gives ``a.b``
    as well as ``a``, since ``b`` may be a module)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m == "replaylab" or m.startswith("replaylab.")}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _modules() -> dict[str, set[str]]:
    return {_module_name(p): imports(p) for p in sorted(SRC.rglob("*.py"))}


def test_imports_are_resolved_from_the_source():
    mods = _modules()
    assert "replaylab.geometry.camera" in mods["replaylab.data.adapters.matches"]  # a relative import three levels up
    assert "replaylab.world.synthesize" in mods["replaylab.cli"]  # a function-level import
    assert "replaylab.world" not in mods["replaylab.params"]  # ``from .world import ...`` is replaylab.params.world


def test_only_the_world_imports_the_world():
    offenders = sorted(
        (mod, imp)
        for mod, imps in _modules().items()
        if not _inside(mod, "replaylab.world")
        for imp in imps
        if _inside(imp, "replaylab.world") and not any(mod == m and _inside(imp, target) for m, target in ALLOWED_WORLD_IMPORTS)
    )
    assert not offenders, f"modules outside replaylab.world import it: {offenders}"


def test_geometry_and_viz_are_leaves():
    offenders = sorted(
        (mod, imp)
        for mod, imps in _modules().items()
        if any(_inside(mod, leaf) for leaf in LEAVES)
        for imp in imps
        if imp != "replaylab" and not any(_inside(imp, ok) for ok in ("replaylab.io", *LEAVES))
    )
    assert not offenders, f"geometry / viz import other replaylab code: {offenders}"
