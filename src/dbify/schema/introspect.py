"""Reading a database's catalogue into a ``SchemaSnapshot``.

``introspect`` sends one statement (``introspect.sql``) that makes PostgreSQL build
every part of the answer as JSON, so a schema of thousands of tables costs one round
trip and one ``orjson.loads``. The rest of this module turns those positional rows
into the snapshot's frozen dataclasses.

Like PostgREST's schema cache, the snapshot lists every relation of the exposed
schemas whatever the connecting role may do with it; ``Relation.privileges`` records
what that role may do, and PostgreSQL enforces it at run time. Partitions are not
listed (their partitioned table is), nor are aggregates, procedures, trigger functions
or functions PostgREST could not call (several unnamed parameters).

This module does the I/O and decoding. Relationship rules live in
``relationships.py``; reading view definitions in ``view_columns.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import asyncpg
import orjson

from dbify.schema.model import (
    Column,
    Function,
    FunctionParameter,
    Privilege,
    QualifiedName,
    Relation,
    RelationKind,
    SchemaSnapshot,
    Volatility,
)
from dbify.schema.relationships import (
    ForeignKey,
    ViewColumn,
    derive_relationships,
    view_primary_keys,
)
from dbify.schema.view_columns import ColumnRef, parse_view_targets, resolve_view_columns

_QUERY = resources.files("dbify.schema").joinpath("introspect.sql").read_text()

_KINDS: dict[str, RelationKind] = {
    "r": "table",
    "v": "view",
    "m": "materialized_view",
    "f": "foreign_table",
    "p": "partitioned_table",
}
_VOLATILITY: dict[str, Volatility] = {"i": "immutable", "s": "stable", "v": "volatile"}
_MODES = {"i": "in", "o": "out", "b": "inout", "v": "variadic", "t": "table"}
# pg_relation_is_updatable bits: 1 << CMD_UPDATE, CMD_INSERT, CMD_DELETE
_CAN_UPDATE, _CAN_INSERT, _CAN_DELETE = 4, 8, 16
# PostgREST calls a function with one unnamed parameter of these types with the body
_SINGLE_UNNAMED_TYPES = frozenset({"bytea", "json", "jsonb", "text", "xml"})

_Row = list[Any]


async def introspect(conn: asyncpg.Connection, schemas: Sequence[str]) -> SchemaSnapshot:
    """Read the relations, keys, relationships, functions and enums of ``schemas``.

    ``schemas`` are the exposed schemas, the first being the default one; schemas that
    do not exist are simply empty. One statement is sent, so this works through
    PgBouncer in transaction mode too. Errors from the connection propagate as
    asyncpg exceptions (the caller decides whether the database is unavailable).
    """
    payload = await conn.fetchval(_QUERY, list(schemas))
    return build_snapshot(orjson.loads(payload), tuple(schemas))


def build_snapshot(catalog: dict[str, Any], schemas: tuple[str, ...]) -> SchemaSnapshot:
    """The snapshot for the decoded JSON document ``introspect.sql`` returns."""
    enums_by_oid = {row[0]: tuple(row[2]) for row in catalog["enums"]}
    keys = _Keys.from_rows(catalog["keys"], catalog["foreign_keys"])
    foreign_keys = [_foreign_key(row) for row in catalog["foreign_keys"]]
    view_columns = _view_columns(catalog["views"], keys, schemas)
    all_primary_keys = {**keys.primary, **view_primary_keys(view_columns, keys.primary)}
    relations = {
        relation.name: relation
        for relation in (
            _relation(row, keys, all_primary_keys, enums_by_oid) for row in catalog["relations"]
        )
    }
    functions: dict[QualifiedName, list[Function]] = defaultdict(list)
    for row in catalog["functions"]:
        function = _function(row)
        if function is not None:
            functions[function.name].append(function)
    return SchemaSnapshot(
        exposed_schemas=schemas,
        relations=relations,
        relationships=derive_relationships(
            foreign_keys, keys.unique_keys(), all_primary_keys, view_columns, schemas
        ),
        functions={name: tuple(overloads) for name, overloads in functions.items()},
        enums={row[1]: tuple(row[2]) for row in catalog["enums"]},
        role=catalog["role"],
        server_version=catalog["server_version"],
    )


@dataclass
class _Keys:
    """Primary keys, unique constraints and the names of their tables and columns.

    Views are resolved to base-table columns by (oid, attnum); key and foreign-key rows
    are the only places that name those columns, which is all a view needs to inherit.
    """

    names: dict[int, QualifiedName] = field(default_factory=dict)
    columns: dict[ColumnRef, str] = field(default_factory=dict)
    primary: dict[QualifiedName, tuple[str, ...]] = field(default_factory=dict)
    unique: dict[QualifiedName, list[tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, key_rows: list[_Row], foreign_key_rows: list[_Row]) -> _Keys:
        keys = cls()
        for oid, schema, name, kind, columns, attnums in key_rows:
            table = keys._learn(oid, schema, name, columns, attnums)
            if kind == "p":
                keys.primary[table] = tuple(columns)
            else:
                keys.unique.setdefault(table, []).append(tuple(columns))
        for row in foreign_key_rows:
            keys._learn(row[1], row[2], row[3], row[4], row[5])
            keys._learn(row[6], row[7], row[8], row[9], row[10])
        return keys

    def _learn(
        self, oid: int, schema: str, name: str, columns: list[str], attnums: list[int]
    ) -> QualifiedName:
        table = self.names.setdefault(oid, QualifiedName(schema, name))
        for column, attnum in zip(columns, attnums, strict=True):
            self.columns[(oid, attnum)] = column
        return table

    def unique_keys(self) -> dict[QualifiedName, list[tuple[str, ...]]]:
        merged: dict[QualifiedName, list[tuple[str, ...]]] = defaultdict(list)
        for table, key in self.primary.items():
            merged[table].append(key)
        for table, uniques in self.unique.items():
            merged[table].extend(uniques)
        return merged


def _foreign_key(row: _Row) -> ForeignKey:
    return ForeignKey(
        constraint=row[0],
        table=QualifiedName(row[2], row[3]),
        columns=tuple(row[4]),
        referenced_table=QualifiedName(row[7], row[8]),
        referenced_columns=tuple(row[9]),
    )


def _view_columns(view_rows: list[_Row], keys: _Keys, schemas: tuple[str, ...]) -> list[ViewColumn]:
    """The columns of exposed views that come unchanged from a keyed table column."""
    targets = {row[0]: parse_view_targets(row[4]) for row in view_rows}
    resolved = resolve_view_columns(targets)
    result: list[ViewColumn] = []
    for oid, schema, name, column_names, _definition in view_rows:
        if schema not in schemas:
            continue
        view = QualifiedName(schema, name)
        for attnum, origin in sorted(resolved[oid].items()):
            table = keys.names.get(origin[0])
            table_column = keys.columns.get(origin)
            if table is not None and table_column is not None and attnum <= len(column_names):
                result.append(ViewColumn(view, column_names[attnum - 1], table, table_column))
    return result


def _relation(
    row: _Row,
    keys: _Keys,
    primary_keys: dict[QualifiedName, tuple[str, ...]],
    enums: dict[int, tuple[str, ...]],
) -> Relation:
    oid, schema, name, kind, description, updatable_bits, *privilege_flags, column_rows = row
    qualified = QualifiedName(schema, name)
    if kind in ("r", "p"):
        insertable = updatable = deletable = True
    else:
        bits = updatable_bits or 0
        insertable, updatable, deletable = (
            bool(bits & _CAN_INSERT),
            bool(bits & _CAN_UPDATE),
            bool(bits & _CAN_DELETE),
        )
    privilege_names: tuple[Privilege, ...] = ("SELECT", "INSERT", "UPDATE", "DELETE")
    return Relation(
        name=qualified,
        kind=_KINDS[kind],
        columns=tuple(_column(column, enums) for column in column_rows),
        primary_key=primary_keys.get(qualified, ()),
        unique_constraints=tuple(keys.unique.get(qualified, ())),
        description=description,
        insertable=insertable,
        updatable=updatable,
        deletable=deletable,
        privileges=frozenset(
            p for p, granted in zip(privilege_names, privilege_flags, strict=True) if granted
        ),
        oid=oid,
    )


def _column(row: _Row, enums: dict[int, tuple[str, ...]]) -> Column:
    return Column(
        name=row[0],
        position=row[1],
        data_type=row[2],
        type_name=row[3],
        type_category=row[4],
        nullable=row[5],
        default=row[6],
        is_identity=row[7],
        is_generated=row[8],
        max_length=row[9],
        enum_values=enums.get(row[10], ()),
        element_type=row[11],
        description=row[12],
        updatable=row[13],
    )


def _function(row: _Row) -> Function | None:
    """A function from its row, or None when PostgREST could not call it."""
    (schema, name, arg_names, arg_modes, arg_types, input_count, default_count) = row[:7]
    (return_type, returns_set, return_kind, relation_schema, relation_name) = row[7:12]
    (volatility, description, executable) = row[12:15]
    modes = arg_modes or ["i"] * len(arg_types)
    names = arg_names or [""] * len(arg_types)
    parameters: list[FunctionParameter] = []
    inputs_seen = 0
    for arg_name, mode, data_type in zip(names, modes, arg_types, strict=True):
        is_input = mode in ("i", "b", "v")
        has_default = is_input and inputs_seen >= input_count - default_count
        inputs_seen += is_input
        parameters.append(FunctionParameter(arg_name, data_type, has_default, _MODES[mode]))  # type: ignore[arg-type]
    unnamed = [p for p in parameters if p.mode in ("in", "inout", "variadic") and not p.name]
    if len(unnamed) > 1 or (unnamed and unnamed[0].data_type not in _SINGLE_UNNAMED_TYPES):
        return None
    composite = return_kind == "c" or any(p.mode in ("out", "inout", "table") for p in parameters)
    return Function(
        name=QualifiedName(schema, name),
        parameters=tuple(parameters),
        return_type=return_type,
        returns_set=returns_set,
        returns_scalar=not composite and return_type not in ("void", "record"),
        volatility=_VOLATILITY[volatility],
        return_relation=(
            QualifiedName(relation_schema, relation_name) if relation_name is not None else None
        ),
        description=description,
        executable=executable,
    )
