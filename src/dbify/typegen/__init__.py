"""Type generation: TypeScript, Python and Go types for a project's API (``dbify gen types``)."""

from __future__ import annotations

from typing import Literal

from dbify.schema.model import SchemaSnapshot
from dbify.typegen.golang import render_go
from dbify.typegen.python import render_python
from dbify.typegen.shapes import ApiShapes, api_shapes
from dbify.typegen.typescript import render_typescript

__all__ = ["ApiShapes", "Language", "api_shapes", "generate_types"]

Language = Literal["ts", "python", "go"]


def generate_types(snapshot: SchemaSnapshot, language: Language) -> str:
    """The source text of the types for every relation and function of ``snapshot``."""
    shapes = api_shapes(snapshot)
    if language == "ts":
        return render_typescript(shapes)
    if language == "python":
        return render_python(shapes)
    return render_go(shapes)
