"""The schema snapshot: what Dbify knows about one project's database.

A ``SchemaSnapshot`` is an immutable value built by ``schema/introspect.py`` once per
project and replaced as a whole when the schema changes. The data plane's pure stages
(plan, sql, openapi) take identifiers only from it, never from the request, which is
what keeps user input out of SQL identifiers.

This module holds types and lookups only: no I/O, no SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

RelationKind = Literal["table", "view", "materialized_view", "foreign_table", "partitioned_table"]
Cardinality = Literal["many_to_one", "one_to_many", "one_to_one", "many_to_many"]
Volatility = Literal["immutable", "stable", "volatile"]
Privilege = Literal["SELECT", "INSERT", "UPDATE", "DELETE"]


@dataclass(frozen=True, slots=True, order=True)
class QualifiedName:
    """A schema-qualified object name, e.g. ``public.books``."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table or view.

    ``data_type`` is ``format_type(atttypid, NULL)``: the type without modifiers,
    schema-qualified when it is not on the search path (``public.mood``,
    ``integer[]``, ``character varying``), usable in a SQL cast. ``type_category`` is
    ``pg_type.typcategory`` of the column's type (``N`` numeric, ``S`` string, ``B``
    boolean, ``D`` date/time, ``A`` array, ``E`` enum, ``U`` user-defined incl. json,
    ``R`` range...). ``element_type`` is the element type of an array column.
    """

    name: str
    position: int
    data_type: str
    type_name: str
    type_category: str
    nullable: bool
    default: str | None = None
    is_identity: bool = False
    is_generated: bool = False
    max_length: int | None = None
    enum_values: tuple[str, ...] = ()
    element_type: str | None = None
    description: str | None = None
    updatable: bool = True


@dataclass(frozen=True, slots=True)
class Relation:
    """A table, view, materialized view, foreign table or partitioned table.

    ``privileges`` are those of the role Dbify connects as. For a view, ``primary_key``
    is inferred from the base table's key when the view exposes all its columns.
    """

    name: QualifiedName
    kind: RelationKind
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    unique_constraints: tuple[tuple[str, ...], ...] = ()
    description: str | None = None
    insertable: bool = False
    updatable: bool = False
    deletable: bool = False
    privileges: frozenset[Privilege] = frozenset()
    # pg_class.oid: survives renames, so the schema diff can tell a rename from a
    # drop and an add. Not part of equality (two snapshots' values are compared).
    oid: int = field(default=0, compare=False)
    _by_name: Mapping[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        return self._by_name.get(name)


@dataclass(frozen=True, slots=True)
class Junction:
    """The junction table of a many-to-many relationship.

    ``source_columns`` pair the source's columns with the junction's columns that
    reference them; ``target_columns`` pair the junction's columns with the target's.
    """

    relation: QualifiedName
    source_constraint: str
    source_columns: tuple[tuple[str, str], ...]
    target_constraint: str
    target_columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Relationship:
    """A way to embed ``target`` rows under ``source`` rows.

    ``columns`` pairs a source column with the target column it joins to (for
    many-to-many, ``columns`` is empty and ``junction`` says how to go through the
    junction table). ``constraint`` is the foreign key's name (for many-to-many, the
    junction's relation name is used as a hint too). Each foreign key yields two
    relationships, one from each side; views inherit the relationships of the tables
    their columns come from.
    """

    source: QualifiedName
    target: QualifiedName
    cardinality: Cardinality
    constraint: str
    columns: tuple[tuple[str, str], ...] = ()
    junction: Junction | None = None

    @property
    def is_to_one(self) -> bool:
        return self.cardinality in ("many_to_one", "one_to_one")

    @property
    def is_self(self) -> bool:
        return self.source == self.target


@dataclass(frozen=True, slots=True)
class FunctionParameter:
    """A parameter of a function. ``mode``: ``in``, ``out``, ``inout``, ``variadic``, ``table``."""

    name: str
    data_type: str
    has_default: bool = False
    mode: Literal["in", "out", "inout", "variadic", "table"] = "in"


@dataclass(frozen=True, slots=True)
class Function:
    """A function callable through ``/rpc``.

    ``return_relation`` is set when the function returns a table's row type (``SETOF
    books`` or ``books``), so its result can be filtered, ordered and embedded like the
    table. ``returns_scalar`` is true for base types, arrays and enums.
    """

    name: QualifiedName
    parameters: tuple[FunctionParameter, ...]
    return_type: str
    returns_set: bool
    returns_scalar: bool
    volatility: Volatility
    return_relation: QualifiedName | None = None
    description: str | None = None
    executable: bool = True

    @property
    def input_parameters(self) -> tuple[FunctionParameter, ...]:
        return tuple(p for p in self.parameters if p.mode in ("in", "inout", "variadic"))


@dataclass(frozen=True, slots=True)
class SchemaSnapshot:
    """Everything the pure stages need to know about a project's exposed schemas.

    ``relationships`` is keyed by the source relation. ``functions`` is keyed by name
    and holds every overload.
    """

    exposed_schemas: tuple[str, ...]
    relations: Mapping[QualifiedName, Relation]
    relationships: Mapping[QualifiedName, tuple[Relationship, ...]]
    functions: Mapping[QualifiedName, tuple[Function, ...]]
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    role: str = ""
    server_version: int = 0

    @property
    def default_schema(self) -> str:
        return self.exposed_schemas[0]

    def relation(self, schema: str, name: str) -> Relation | None:
        """The relation ``schema.name`` if it exists in an exposed schema."""
        return self.relations.get(QualifiedName(schema, name))

    def relationships_of(self, source: QualifiedName) -> tuple[Relationship, ...]:
        return self.relationships.get(source, ())

    def function_overloads(self, schema: str, name: str) -> tuple[Function, ...]:
        return self.functions.get(QualifiedName(schema, name), ())
