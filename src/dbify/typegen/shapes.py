"""Language-neutral shapes of a project's API, from its schema snapshot.

Type generation works in two steps: this module decides *what* each table, view and
function looks like over HTTP (row, insert and update shapes; arguments and results),
and one renderer per language (``typescript.py``, ``python.py``, ``golang.py``)
decides how to spell it. The JSON Dbify returns is what is typed: ``numeric`` and
``bigint`` are JSON numbers, dates and UUIDs are strings, ``json``/``jsonb`` any JSON.

Pure: no I/O, no language syntax here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbify.schema.model import Column, Function, QualifiedName, Relation, SchemaSnapshot

__all__ = ["ApiShapes", "Field", "FunctionShape", "RelationShape", "TypeRef", "api_shapes"]

Scalar = Literal[
    "integer", "bigint", "float", "boolean", "string", "json", "enum", "null", "object", "row",
    "unknown",
]  # fmt: skip

_INTEGERS: dict[str, Scalar] = {
    "smallint": "integer", "integer": "integer", "bigint": "bigint", "int": "integer",
    "int2": "integer", "int4": "integer", "int8": "bigint", "oid": "bigint",
}  # fmt: skip
_FLOATS = {"numeric", "real", "double precision", "float4", "float8", "money", "decimal"}


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A JSON value's type. ``name`` is the enum name for ``enum``, the relation for
    ``row``; ``fields`` the members of an ``object`` (a function's OUT columns)."""

    scalar: Scalar
    array_depth: int = 0
    name: str = ""
    relation: QualifiedName | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True, slots=True)
class Field:
    """A member of a shape: ``optional`` may be left out, ``nullable`` may be null."""

    name: str
    type: TypeRef
    nullable: bool
    optional: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RelationShape:
    name: QualifiedName
    is_view: bool
    row: tuple[Field, ...]
    insert: tuple[Field, ...]
    update: tuple[Field, ...]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionShape:
    """One overload; ``index`` numbers overloads of the same name from 0."""

    name: QualifiedName
    index: int
    overloads: int
    args: tuple[Field, ...]
    returns: TypeRef
    returns_set: bool


@dataclass(frozen=True, slots=True)
class ApiShapes:
    schemas: tuple[str, ...]
    enums: dict[str, tuple[str, ...]]
    relations: tuple[RelationShape, ...]
    functions: tuple[FunctionShape, ...]


def type_of(data_type: str, enums: dict[str, tuple[str, ...]]) -> TypeRef:
    """The JSON type of a PostgreSQL type as ``format_type`` spells it.

    >>> type_of("integer[]", {}).scalar, type_of("integer[]", {}).array_depth
    ('integer', 1)
    >>> type_of("public.mood", {"mood": ("happy",)})
    TypeRef(scalar='enum', array_depth=0, name='mood', relation=None, fields=())
    """
    depth = 0
    base = data_type.strip()
    while base.endswith("[]"):
        base, depth = base[:-2], depth + 1
    base = base.split("(", 1)[0].strip()
    bare = base.rsplit(".", 1)[-1].strip('"')
    if bare in enums:
        return TypeRef("enum", depth, bare)
    if base in _INTEGERS:
        return TypeRef(_INTEGERS[base], depth)
    if base in _FLOATS:
        return TypeRef("float", depth)
    if base in ("boolean", "bool"):
        return TypeRef("boolean", depth)
    if base in ("json", "jsonb"):
        return TypeRef("json", depth)
    if base == "void":
        return TypeRef("null", depth)
    if base in ("record", "anyelement", "anyarray", "trigger"):
        return TypeRef("unknown", depth)
    return TypeRef("string", depth)


def _column_field(column: Column, enums: dict[str, tuple[str, ...]], optional: bool) -> Field:
    return Field(
        column.name, type_of(column.data_type, enums), column.nullable, optional, column.description
    )


def _relation_shape(relation: Relation, enums: dict[str, tuple[str, ...]]) -> RelationShape:
    row = tuple(_column_field(c, enums, False) for c in relation.columns)
    writable = [c for c in relation.columns if not c.is_generated]
    insert = tuple(
        _column_field(c, enums, c.nullable or c.default is not None or c.is_identity)
        for c in writable
    )
    update = tuple(_column_field(c, enums, True) for c in writable)
    is_view = relation.kind in ("view", "materialized_view")
    return RelationShape(relation.name, is_view, row, insert, update, relation.description)


def _returns(
    function: Function, snapshot: SchemaSnapshot, enums: dict[str, tuple[str, ...]]
) -> TypeRef:
    if function.return_relation is not None:
        if function.return_relation in snapshot.relations:
            return TypeRef("row", relation=function.return_relation)
        return TypeRef("unknown")
    outputs = [p for p in function.parameters if p.mode in ("out", "inout", "table")]
    if function.return_type == "record" and outputs:
        fields = tuple(Field(p.name, type_of(p.data_type, enums), True) for p in outputs)
        return TypeRef("object", fields=fields)
    return type_of(function.return_type, enums)


def api_shapes(snapshot: SchemaSnapshot) -> ApiShapes:
    """Every relation and function of the snapshot, sorted by name (stable output)."""
    enums = dict(snapshot.enums)
    relations = tuple(
        _relation_shape(snapshot.relations[name], enums) for name in sorted(snapshot.relations)
    )
    functions: list[FunctionShape] = []
    for name in sorted(snapshot.functions):
        overloads = snapshot.functions[name]
        for index, function in enumerate(overloads):
            args = tuple(
                Field(p.name or "", type_of(p.data_type, enums), False, p.has_default)
                for p in function.input_parameters
            )
            functions.append(
                FunctionShape(
                    name, index, len(overloads), args,
                    _returns(function, snapshot, enums), function.returns_set,
                )
            )  # fmt: skip
    return ApiShapes(snapshot.exposed_schemas, enums, relations, tuple(functions))
