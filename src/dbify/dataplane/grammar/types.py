"""Typed values for a parsed data API request (PostgREST's vocabulary).

The grammar stage turns the URL, the headers and the body of a request into an
``ApiRequest``; nothing here knows the database schema. Each type's docstring shows the
URL fragment it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EmbedPath = tuple[str, ...]
"""Where in the embed tree a parameter applies: ``()`` is the root, ``("books",)`` an
embed named (or aliased) ``books``, ``("books", "reviews")`` one nested in it."""

Arrow = Literal["->", "->>"]


@dataclass(frozen=True, slots=True)
class JsonStep:
    """One step of a JSON path: ``->'a'``, ``->>'b'`` or ``->0`` (an integer key)."""

    arrow: Arrow
    key: str | int


@dataclass(frozen=True, slots=True)
class Field:
    """A column, optionally followed by a JSON path: ``data->a->>b``."""

    name: str
    json_path: tuple[JsonStep, ...] = ()


# --- select -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnItem:
    """A selected column: ``*``, ``name``, ``alias:name``, ``name::text``,
    ``data->a->>b``, ``alias:data->>b::int``. ``*`` is ``Field("*")``."""

    field: Field
    alias: str | None = None
    cast: str | None = None


JoinType = Literal["left", "inner"]


@dataclass(frozen=True, slots=True)
class EmbedItem:
    """An embedded resource: ``books(id,title)``, ``alias:books!fk_name!inner(*)``,
    ``...publisher(name)`` (spread)."""

    relation: str
    items: tuple[SelectItem, ...]
    alias: str | None = None
    hint: str | None = None
    join: JoinType | None = None
    spread: bool = False

    @property
    def label(self) -> str:
        """The name its parameters are addressed by (``alias.limit=...``)."""
        return self.alias or self.relation


SelectItem = ColumnItem | EmbedItem

STAR: tuple[SelectItem, ...] = (ColumnItem(Field("*")),)


# --- filters ----------------------------------------------------------------------

Operator = Literal[
    "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in", "is",
    "isdistinct", "fts", "plfts", "phfts", "wfts", "cs", "cd", "ov", "sl", "sr", "nxr",
    "nxl", "adj",
]  # fmt: skip
Quantifier = Literal["any", "all"]


@dataclass(frozen=True, slots=True)
class Filter:
    """A condition on a field: ``age=gte.18``, ``name=not.ilike.*ann*``,
    ``id=in.(1,2,3)``, ``tags=cs.{a,b}``, ``body=fts(english).cat``,
    ``name=like(any).{a*,b*}``, ``deleted_at=is.null``.

    ``value`` is a string, except for ``in`` and quantified operators where it is a
    tuple of strings (the list items, unquoted and unescaped). For ``is``, the value is
    one of ``null``, ``not_null``, ``true``, ``false``, ``unknown``. ``language`` is the
    text search configuration given to an ``fts`` family operator.
    """

    field: Field
    operator: Operator
    value: str | tuple[str, ...]
    negated: bool = False
    quantifier: Quantifier | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class LogicTree:
    """A boolean combination of filters: ``or=(age.lt.18,and(a.eq.1,b.eq.2))``,
    ``not.and=(...)``."""

    operator: Literal["and", "or"]
    children: tuple[Filter | LogicTree, ...]
    negated: bool = False


# --- order, range -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderTerm:
    """One ordering key: ``name``, ``age.desc``, ``data->>x.asc.nullslast``,
    ``author(name).desc`` (a column of a to-one embed, ``relation`` set)."""

    field: Field
    direction: Literal["asc", "desc"] | None = None
    nulls: Literal["first", "last"] | None = None
    relation: str | None = None


@dataclass(frozen=True, slots=True)
class Range:
    """Rows to return: ``offset=10&limit=20`` or ``Range: 10-29``. ``limit`` None means
    no limit."""

    offset: int = 0
    limit: int | None = None


# --- preferences and media types --------------------------------------------------

CountPreference = Literal["exact", "planned", "estimated"]
ReturnPreference = Literal["minimal", "headers-only", "representation"]


@dataclass(frozen=True, slots=True)
class Preferences:
    """The ``Prefer`` header: ``Prefer: count=exact, return=representation``.

    ``handling=strict`` makes unknown preferences an error; by default they are ignored
    as PostgREST does. ``applied`` lists the preferences honoured, for the
    ``Preference-Applied`` response header.
    """

    count: CountPreference | None = None
    return_: ReturnPreference | None = None
    resolution: Literal["merge-duplicates", "ignore-duplicates"] | None = None
    missing: Literal["default", "null"] | None = None
    tx: Literal["commit", "rollback"] | None = None
    params: Literal["single-object"] | None = None
    max_affected: int | None = None
    handling: Literal["strict", "lenient"] | None = None
    timezone: str | None = None

    def applied(self) -> tuple[str, ...]:
        """The ``Preference-Applied`` values, in a stable order."""
        out: list[str] = []
        if self.count is not None:
            out.append(f"count={self.count}")
        if self.return_ is not None:
            out.append(f"return={self.return_}")
        if self.resolution is not None:
            out.append(f"resolution={self.resolution}")
        if self.missing is not None:
            out.append(f"missing={self.missing}")
        if self.tx is not None:
            out.append(f"tx={self.tx}")
        if self.max_affected is not None:
            out.append(f"max-affected={self.max_affected}")
        if self.handling is not None:
            out.append(f"handling={self.handling}")
        return tuple(out)


MediaType = Literal["json", "object", "csv", "openapi", "geojson"]
"""What the client accepts: ``application/json`` (``json``),
``application/vnd.pgrst.object+json`` (``object``), ``text/csv`` (``csv``),
``application/openapi+json`` (``openapi``)."""


# --- the request ------------------------------------------------------------------

Action = Literal["read", "head", "insert", "update", "upsert", "delete", "call", "schema"]


@dataclass(frozen=True, slots=True)
class Target:
    """What the path names: a relation (``/books``), a function (``/rpc/f``) or the
    root (``/``)."""

    kind: Literal["relation", "function", "root"]
    name: str = ""


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A parsed data API request: everything the plan stage needs, nothing about the
    database.

    Per-embed parameters are keyed by ``EmbedPath``. ``filters`` holds the parsed
    horizontal filters; ``raw_params`` keeps every non-reserved query parameter as
    given (the plan stage takes a GET ``/rpc`` call's arguments from it, by the
    function's parameter names). ``ranges[()]`` already merges the ``Range`` header
    with ``limit``/``offset``.
    """

    method: str
    action: Action
    target: Target
    schema: str
    select: tuple[SelectItem, ...] = STAR
    filters: tuple[tuple[EmbedPath, Filter], ...] = ()
    logic: tuple[tuple[EmbedPath, LogicTree], ...] = ()
    order: tuple[tuple[EmbedPath, tuple[OrderTerm, ...]], ...] = ()
    ranges: tuple[tuple[EmbedPath, Range], ...] = ()
    preferences: Preferences = field(default_factory=Preferences)
    media_type: MediaType = "json"
    raw_params: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] | None = None
    on_conflict: tuple[str, ...] | None = None
    body: bytes | None = None
    content_type: str | None = None

    def range_at(self, path: EmbedPath) -> Range | None:
        for p, r in self.ranges:
            if p == path:
                return r
        return None

    def order_at(self, path: EmbedPath) -> tuple[OrderTerm, ...]:
        for p, terms in self.order:
            if p == path:
                return terms
        return ()

    def filters_at(self, path: EmbedPath) -> tuple[Filter, ...]:
        return tuple(f for p, f in self.filters if p == path)

    def logic_at(self, path: EmbedPath) -> tuple[LogicTree, ...]:
        return tuple(t for p, t in self.logic if p == path)
