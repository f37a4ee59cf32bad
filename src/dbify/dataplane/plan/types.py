"""The read plan: an ``ApiRequest`` resolved against the schema snapshot.

A ``ReadPlan`` is a tree: each node names a ``Relation`` of the snapshot, the columns it
selects (as ``Column`` objects, never request text), the conditions, order and range
that apply to it, and its child embeds with the ``Relationship`` chosen for each. The
SQL stage turns it into one statement without looking at the request again.

This module holds types only: resolution lives in ``plan/read.py`` and its helpers,
SQL in ``dataplane/sql``.

Tree::

    ReadPlan (root: books)
    ├── columns: SelectedColumn(id), SelectedColumn(title)
    ├── where:   Condition(price > $), ConditionTree(or, ...), EmbedPresence(reviews)
    └── embeds:  EmbedPlan(author, many_to_one) ── ReadPlan (authors) ── ...
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbify.dataplane.grammar.types import (
    JoinType,
    JsonStep,
    Operator,
    Quantifier,
    Range,
)
from dbify.schema.model import Column, Function, FunctionParameter, Relation, Relationship


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A column of the node's relation, optionally followed by a JSON path
    (``data->a->>b``)."""

    column: Column
    json_path: tuple[JsonStep, ...] = ()

    @property
    def is_text_path(self) -> bool:
        """True when the path ends with ``->>`` (the value is text, not json)."""
        return bool(self.json_path) and self.json_path[-1].arrow == "->>"


@dataclass(frozen=True, slots=True)
class SelectedColumn:
    """One output key of a row: ``name`` is the JSON key (alias, last JSON key or the
    column name); ``cast`` is a validated SQL type (see ``plan/casts.py``)."""

    field: FieldRef
    name: str
    cast: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """A filter resolved to a column: ``price=gte.10``. ``value`` is as in the grammar's
    ``Filter`` (a string, or a tuple for ``in`` and quantified operators)."""

    field: FieldRef
    operator: Operator
    value: str | tuple[str, ...]
    negated: bool = False
    quantifier: Quantifier | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class EmbedPresence:
    """PostgREST's null filtering on an embed: ``books=not.is.null`` keeps rows that
    have at least one matching ``books`` row (``present``), ``books=is.null`` those
    with none."""

    label: str
    present: bool


@dataclass(frozen=True, slots=True)
class ConditionTree:
    """``or=(a.eq.1,and(b.eq.2,c.eq.3))`` resolved to columns."""

    operator: str
    children: tuple[Predicate, ...]
    negated: bool = False


Predicate = Condition | ConditionTree | EmbedPresence


@dataclass(frozen=True, slots=True)
class Ordering:
    """An ORDER BY key. ``embed`` is the label of a to-one embed when the key is one of
    its columns (``author(name).desc``); ``field`` is then a column of that embed."""

    field: FieldRef
    direction: str | None = None
    nulls: str | None = None
    embed: str | None = None


@dataclass(frozen=True, slots=True)
class CallArgument:
    """One argument of a function call, bound to its parameter.

    ``value`` is the text given in the query string (``?a=1``), a tuple of texts for a
    variadic parameter (``?v=1&v=2``), or None when PostgreSQL reads it from the call's
    JSON body by the parameter's name and type (``POST {"a": 1}``).
    """

    parameter: FunctionParameter
    value: str | tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """``f(a := $1, b := $2)``: a function and the arguments given; the parameters not
    given take their defaults. ``body`` is the JSON text the arguments without a value
    are read from. ``positional`` passes the single argument by position (a single
    unnamed parameter, or ``Prefer: params=single-object``)."""

    function: Function
    arguments: tuple[CallArgument, ...] = ()
    body: str | None = None
    positional: bool = False


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """One node of the read tree: what to read from ``relation`` and how.

    ``range`` has ``limit`` None when unlimited; the root's limit already includes the
    ``max_rows`` cap. ``call`` (root only) reads the rows a function returns instead of
    the relation itself (``/rpc/f`` returning ``SETOF books`` or a ``TABLE``);
    ``relation`` then describes the result's columns.
    """

    relation: Relation
    columns: tuple[SelectedColumn, ...]
    embeds: tuple[EmbedPlan, ...] = ()
    where: tuple[Predicate, ...] = ()
    order: tuple[Ordering, ...] = ()
    range: Range = field(default_factory=Range)
    call: FunctionCall | None = None


@dataclass(frozen=True, slots=True)
class EmbedPlan:
    """A child embed: ``label`` is its JSON key (alias or name given in ``select``).

    ``spread`` (``...author(name)``) lifts the child's keys into the parent object; it
    is only planned for to-one relationships. ``join`` ``inner`` drops parent rows
    without a matching child.
    """

    label: str
    relationship: Relationship
    plan: ReadPlan
    join: JoinType = "left"
    spread: bool = False

    @property
    def is_to_one(self) -> bool:
        return self.relationship.is_to_one
