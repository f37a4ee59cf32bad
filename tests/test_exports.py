"""STYLE §5: every package ``__init__`` lists its public names in ``__all__``, honestly.

For each package under ``src/dbify``: ``__all__`` exists (``[]`` when the package only
groups modules), holds unique strings, every name in it is defined (so
``from package import *`` works), and every public class or function the ``__init__``
defines itself is listed. See httpx ``tests/test_exported_members.py``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src"
PACKAGES = sorted(
    ".".join(path.parent.relative_to(SOURCE).parts)
    for path in (SOURCE / "dbify").rglob("__init__.py")
)


def test_packages_are_found():
    assert "dbify" in PACKAGES
    assert "dbify.dataplane.grammar" in PACKAGES


@pytest.mark.parametrize("name", PACKAGES)
def test_package_all_is_honest(name):
    package = importlib.import_module(name)
    assert hasattr(package, "__all__"), f"{name}/__init__.py has no __all__ (use [] if empty)"
    exported = package.__all__
    assert isinstance(exported, list | tuple), f"{name}.__all__ is not a list"
    assert all(isinstance(item, str) for item in exported), f"{name}.__all__ holds non-strings"
    duplicates = sorted({item for item in exported if list(exported).count(item) > 1})
    assert not duplicates, f"{name}.__all__ lists {duplicates} twice"
    undefined = [item for item in exported if not hasattr(package, item)]
    assert not undefined, f"{name}.__all__ lists names it does not define: {undefined}"
    unlisted = sorted(
        attribute
        for attribute, value in vars(package).items()
        if not attribute.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
        and attribute not in exported
    )
    assert not unlisted, (
        f"{name}/__init__.py defines public {unlisted} but does not list them in __all__ "
        "(list them, or make them private with a leading _)"
    )
