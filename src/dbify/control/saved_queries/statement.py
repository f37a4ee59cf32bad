"""A saved query's SQL: named placeholders, the read-only check, and the statement run.

Pure functions (no database). The author writes ``:name`` placeholders
(``select * from orders where created_at > :since``); ``compile_query`` replaces each
with a bind parameter cast to the declared type (``CAST(CAST($1 AS text) AS
timestamptz)``: every value travels as text and PostgreSQL converts it, never
interpolated) and checks with pglast that the result is one plain SELECT (``WITH``
allowed, but no data-modifying CTE, ``SELECT INTO`` or row locks anywhere). The data
plane's read builder then reads the query's rows as a source (``sql/read.py``,
``build_read(source=...)``), so ``select``, filters, ``order``, ranges, counts and CSV
apply on top of it; its parameters are ``$1``... in ``CompiledQuery.order``.

The parse check is the first of two guards: the statement also runs in a READ ONLY
transaction (a SELECT can still call a function that writes).

>>> compiled = compile_query("select :a::int + :a as x", {"a": "integer"})
>>> compiled.order
('a',)
>>> try:
...     compile_query("delete from t", {})
... except QueryRejected as exc:
...     print(exc)
Only a single SELECT (or WITH … SELECT) is allowed, not DELETE
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pglast
from pglast import ast
from pglast.parser import ParseError, scan
from pglast.stream import RawStream

__all__ = ["SQL_TYPES", "CompiledQuery", "QueryRejected", "check_value", "compile_query"]

# API type → PostgreSQL type of the cast.
SQL_TYPES: dict[str, str] = {
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "float": "double precision",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "uuid": "uuid",
    "json": "jsonb",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WRITES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


class QueryRejected(ValueError):
    """The SQL is not a single read-only SELECT, or its placeholders do not match."""


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """The query with bind parameters; ``order[i]`` is the parameter bound to ``$i+1``
    (as text)."""

    sql: str
    order: tuple[str, ...]


def _bind_placeholders(sql: str, types: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    try:
        tokens = list(scan(sql))
    except ParseError as exc:
        raise QueryRejected(f"The SQL does not parse: {exc}") from None
    pieces: list[str] = []
    order: list[str] = []
    position = 0
    for colon, following in itertools.pairwise(tokens):
        if colon.name == "PARAM":
            raise QueryRejected("Use :name placeholders, not $n")
        if colon.name != "ASCII_58" or following.start != colon.end + 1:
            continue
        name = sql[following.start : following.end + 1]
        if not _IDENTIFIER.match(name):
            continue
        if name not in types:
            raise QueryRejected(f"Placeholder ':{name}' is not a declared parameter")
        if name not in order:
            order.append(name)
        number = order.index(name) + 1
        pieces.append(sql[position : colon.start])
        pieces.append(f"CAST(CAST(${number} AS text) AS {SQL_TYPES[types[name]]})")
        position = following.end + 1
    if tokens and tokens[-1].name == "PARAM":
        raise QueryRejected("Use :name placeholders, not $n")
    pieces.append(sql[position:])
    unused = [n for n in types if n not in order]
    if unused:
        raise QueryRejected(f"Parameter(s) declared but not used: {', '.join(unused)}")
    return "".join(pieces), tuple(order)


def _nodes(node: Any) -> Any:
    """Every AST node under ``node`` (depth first)."""
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _nodes(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _nodes(item)


def _check_read_only(sql: str) -> ast.SelectStmt:
    try:
        statements = pglast.parse_sql(sql)
    except ParseError as exc:
        raise QueryRejected(f"The SQL does not parse: {exc}") from None
    if len(statements) != 1:
        raise QueryRejected(f"Exactly one statement is allowed, found {len(statements)}")
    statement = statements[0].stmt
    if not isinstance(statement, ast.SelectStmt):
        kind = type(statement).__name__.removesuffix("Stmt").upper()
        raise QueryRejected(f"Only a single SELECT (or WITH … SELECT) is allowed, not {kind}")
    for node in _nodes(statement):
        if isinstance(node, _WRITES):
            raise QueryRejected("Data-modifying statements (in WITH) are not allowed")
        if isinstance(node, ast.SelectStmt) and (node.intoClause or node.lockingClause):
            raise QueryRejected("SELECT INTO and FOR UPDATE/SHARE are not allowed")
    return statement


def compile_query(sql: str, types: dict[str, str]) -> CompiledQuery:
    """The statement to run for ``sql`` with parameters ``{name: API type}``.
    Raises ``QueryRejected`` with a message for the author."""
    bound, order = _bind_placeholders(sql, types)
    statement = _check_read_only(bound)
    # Re-printed from the tree: the author's comments and a trailing ';' are gone, so
    # the text nests safely inside a CTE.
    return CompiledQuery(RawStream()(statement), order)


_BOOLEANS = {"true", "false", "t", "f", "1", "0", "yes", "no", "on", "off"}


def check_value(kind: str, value: str) -> str:
    """``value`` if it reads as ``kind``; raises ``ValueError`` with the expectation."""
    try:
        if kind in ("integer", "bigint"):
            int(value)
        elif kind in ("numeric", "float"):
            Decimal(value)
        elif kind == "boolean" and value.lower() not in _BOOLEANS:
            raise ValueError
        elif kind == "date":
            date.fromisoformat(value)
        elif kind in ("timestamp", "timestamptz"):
            datetime.fromisoformat(value)
        elif kind == "uuid":
            uuid.UUID(value)
        elif kind == "json":
            orjson.loads(value)
    except (ValueError, InvalidOperation, orjson.JSONDecodeError):
        raise ValueError(f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}") from None
    return value
