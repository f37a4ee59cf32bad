"""Every package ``src/dbify`` imports when a module loads is installed by ``pip install
.`` alone: a runtime dependency in ``pyproject.toml`` or one of theirs. The test extras
install more (httpx among them), so the suite passed while a fresh install's ``dbify
serve`` died on ``import httpx``; this finds such an import without a fresh install.
Imports inside functions, ``try`` blocks or ``if TYPE_CHECKING:`` are left out: that is
where the optional extras (OpenTelemetry, torch) are imported."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

_ROOT = Path(__file__).resolve().parent.parent
_SRC = _ROOT / "src" / "dbify"


def _installed_by(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, theirs included (as installed here)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [(Requirement(text), frozenset[str]()) for text in requirements]
    while pending:
        requirement, parent_extras = pending.pop()
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in parent_extras or {""}
        ):
            continue
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        pending += [(Requirement(text), extras) for text in requires]
    return {name for name, _ in seen}


def _module_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_module_level_imports_are_runtime_dependencies() -> None:
    project = tomllib.loads((_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = _installed_by(project["dependencies"])
    assert {"fastapi", "starlette", "anyio"} <= installed  # declared, and one of theirs
    distributions = metadata.packages_distributions()
    missing: dict[str, set[str]] = {}
    for path in sorted(_SRC.rglob("*.py")):
        for name in _module_level_imports(path):
            if name in sys.stdlib_module_names or name in ("__future__", "dbify"):
                continue
            providers = {canonicalize_name(d) for d in distributions.get(name, [name])}
            if not providers & installed:
                missing.setdefault(name, set()).add(str(path.relative_to(_ROOT)))
    assert not missing, f"imported but not a runtime dependency: {missing}"
