"""The reusable parts of the OpenAPI document: ``components``.

Owns the row schema of each relation (with PostgREST's primary/foreign key notes),
the shared query and header parameters of the grammar, the error schema and the
security schemes, and the naming of component keys. It does not decide which
operations a path has; ``_paths.py`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from dbify.dataplane.openapi._types import JsonObject, column_type_schema, default_value
from dbify.schema.model import Column, Relation, SchemaSnapshot

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_]")


@dataclass(slots=True)
class ComponentNames:
    """Allocates component keys: OpenAPI keys must match ``^[a-zA-Z0-9.\\-_]+$``
    while table names can hold any character, so unsafe ones become ``_`` and
    collisions get a numeric suffix. Mutable, but local to one ``build_openapi``."""

    _taken: set[str] = field(default_factory=set)

    def allocate(self, wanted: str) -> str:
        base = _KEY_UNSAFE.sub("_", wanted) or "_"
        key, suffix = base, 1
        while key in self._taken:
            suffix += 1
            key = f"{base}_{suffix}"
        self._taken.add(key)
        return key


def schema_ref(key: str) -> JsonObject:
    return {"$ref": f"#/components/schemas/{key}"}


def parameter_ref(key: str) -> JsonObject:
    return {"$ref": f"#/components/parameters/{key}"}


def property_ref(schema_key: str, column: str) -> JsonObject:
    """A reference to one property of a component schema (RFC 6901 pointer, then
    percent-encoded as a URI fragment)."""
    token = column.replace("~", "~0").replace("/", "~1")
    pointer = quote(token, safe="~!$&'()*+,;=:@")
    return {"$ref": f"#/components/schemas/{schema_key}/properties/{pointer}"}


def is_read_only(column: Column) -> bool:
    """Identity, generated and non-updatable view columns are not written by clients."""
    return column.is_identity or column.is_generated or not column.updatable


def is_required_on_insert(column: Column) -> bool:
    """PostgREST's rule: NOT NULL and nothing fills it in (no default, identity or
    generation expression)."""
    return not (
        column.nullable or column.default is not None or column.is_identity or column.is_generated
    )


def _key_notes(relation: Relation, snapshot: SchemaSnapshot) -> dict[str, list[str]]:
    """Per column, PostgREST's machine-readable notes (``<pk/>``, ``<fk .../>``) that
    clients such as typed code generators parse out of descriptions."""
    notes: dict[str, list[str]] = {}
    for name in relation.primary_key:
        notes.setdefault(name, []).append("This is a Primary Key.<pk/>")
    for relationship in snapshot.relationships_of(relation.name):
        holds_key = relationship.cardinality == "many_to_one" or (
            relationship.cardinality == "one_to_one"
            and tuple(source for source, _ in relationship.columns) != relation.primary_key
        )
        if not holds_key or relationship.junction is not None:
            continue
        table = relationship.target.name
        for source, target in relationship.columns:
            notes.setdefault(source, []).append(
                f"This is a Foreign Key to `{table}.{target}`."
                f"<fk table='{table}' column='{target}'/>"
            )
    return notes


def _describe(comment: str | None, notes: Iterable[str]) -> str | None:
    parts = [comment] if comment else []
    note_lines = list(notes)
    if note_lines:
        parts.append("Note:\n" + "\n".join(note_lines))
    return "\n\n".join(parts) or None


def column_schema(column: Column, snapshot: SchemaSnapshot, notes: Iterable[str]) -> JsonObject:
    schema = column_type_schema(column, snapshot.enums)
    description = _describe(column.description, notes)
    if description:
        schema["description"] = description
    default = default_value(column.default, schema)
    if default is not None:
        schema["default"] = default
    if is_read_only(column):
        schema["readOnly"] = True
    # PostgREST's "format" is the PostgreSQL type; keep it as an extension so the
    # JSON Schema format stays standard (int64, date-time, uuid...).
    schema["x-pg-type"] = column.data_type
    return schema


def relation_schema(relation: Relation, snapshot: SchemaSnapshot) -> JsonObject:
    """The row shape of ``relation``: every column as a property; ``required`` lists
    the columns an insert must provide."""
    notes = _key_notes(relation, snapshot)
    properties = {
        column.name: column_schema(column, snapshot, notes.get(column.name, ()))
        for column in relation.columns
    }
    schema: JsonObject = {"type": "object", "properties": properties}
    required = [c.name for c in relation.columns if is_required_on_insert(c)]
    if required:
        schema["required"] = required
    if relation.description:
        schema["description"] = relation.description
    return schema


def error_schema() -> JsonObject:
    """The body of every 4xx/5xx response (PostgREST's error shape)."""
    nullable_string: JsonObject = {"type": ["string", "null"]}
    return {
        "type": "object",
        "description": "An error, with a stable code (PostgREST's PGRSTxxx, SQLSTATE or DBIFY).",
        "properties": {
            "code": {"type": "string", "examples": ["PGRST100", "23505"]},
            "message": {"type": "string"},
            "details": nullable_string,
            "hint": nullable_string,
        },
        "required": ["code", "message", "details", "hint"],
    }


def security_schemes() -> JsonObject:
    return {
        "apikey": {
            "type": "apiKey",
            "in": "header",
            "name": "apikey",
            "description": "The project's anon or service key.",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A project key or a JWT signed with the project's secret.",
        },
    }


def _query(name: str, description: str, schema: JsonObject | None = None) -> JsonObject:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _header(name: str, description: str, schema: JsonObject | None = None) -> JsonObject:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _enum(*values: str) -> JsonObject:
    return {"type": "string", "enum": list(values)}


FILTER_SYNTAX = "`operator.value`: `eq.5`, `gt.5`, `in.(1,2)`, `is.null`; `not.eq.5` negates."

OPERATORS_GUIDE = (
    "Filter rows with `column=operator.value`: `eq`, `neq`, `gt`, `gte`, `lt`, `lte`, "
    "`like`/`ilike` (`*` is the wildcard), `match`/`imatch` (regex), `in.(1,2,3)`, "
    "`is.null|true|false`, `isdistinct`, `cs`/`cd`/`ov` (contains, contained, overlaps), "
    "`sl`/`sr`/`nxl`/`nxr`/`adj` (ranges), `fts`/`plfts`/`phfts`/`wfts` (full text, "
    "`fts(english).word`); `not.` negates, `eq(any).{a,b}` quantifies; combine with "
    "`or=(a.eq.1,b.gt.2)`. Shape with `select`, order with `order`, page with "
    "`limit`/`offset` or `Range`."
)

# Parameter key -> definition. Operations reference them by key.
COMMON_PARAMETERS: dict[str, JsonObject] = {
    "select": _query(
        "select",
        "Columns and embedded resources to return: `id,name,author:authors(name)`; "
        "`*` for all columns, `alias:column`, `column::type`, `json->key`.",
    ),
    "order": _query(
        "order", "Ordering: `column.asc`, `column.desc.nullslast`, comma separated."
    ),
    "limit": _query("limit", "At most this many rows.", {"type": "integer", "minimum": 0}),
    "offset": _query("offset", "Skip this many rows.", {"type": "integer", "minimum": 0}),
    "on_conflict": _query(
        "on_conflict", "For an upsert: the unique columns to detect a conflict on, e.g. `id`."
    ),
    "columns": _query(
        "columns", "For an insert: the body keys to use as columns, others are ignored."
    ),
    "range": _header("Range", "Rows to return, zero based and inclusive: `0-24`."),
    "rangeUnit": _header("Range-Unit", "The unit of `Range`.", {"type": "string",
                                                                 "default": "items"}),
    "preferCount": _header("Prefer", "Count the rows: `count=exact|planned|estimated`.",
                           _enum("count=exact", "count=planned", "count=estimated")),
    "preferReturn": _header(
        "Prefer",
        "What to return: `return=minimal` (nothing), `return=headers-only`, "
        "`return=representation` (the affected rows); may add `count=exact`, "
        "`tx=rollback`, `missing=default`, `resolution=merge-duplicates`.",
        _enum("return=minimal", "return=headers-only", "return=representation"),
    ),
    "preferParams": _header(
        "Prefer", "Call options: `count=exact`, `tx=rollback`, `handling=strict`."
    ),
    "acceptProfile": _header("Accept-Profile", "The schema to read from."),
    "contentProfile": _header("Content-Profile", "The schema to write to."),
}  # fmt: skip
