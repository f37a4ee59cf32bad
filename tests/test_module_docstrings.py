"""STYLE §8: every module under ``src/dbify`` starts with a docstring.

The docstring says what the module is in charge of (and, where it helps, what it does not
do); a bare name such as ``"dataplane"`` does not count. Modules are parsed, not imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"
MIN_WORDS = 4


def test_every_module_has_a_docstring():
    missing = []
    for path in sorted((SOURCE / "dbify").rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if len(docstring.split()) < MIN_WORDS:
            missing.append(str(path.relative_to(SOURCE)))
    assert not missing, f"modules without a docstring saying what they are for: {missing}"
