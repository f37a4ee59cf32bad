"""The fluent query builder over the PostgREST grammar, shared by sync and async clients.

A builder accumulates one HTTP request (method, path, query parameters, headers, body)
and hands it to an executor on ``execute()``; the sync client's executor returns a
``Result``, the async one an awaitable of it. Values are never interpolated into the
path: filters go into query parameters, which httpx encodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

__all__ = ["PreparedRequest", "QueryBuilder", "Result"]

T = TypeVar("T")
CountMethod = Literal["exact", "planned", "estimated"]


@dataclass
class PreparedRequest:
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    prefer: list[str] = field(default_factory=list)
    expect: Literal["many", "single", "maybe_single", "csv"] = "many"


@dataclass(frozen=True)
class Result:
    """``data`` is the decoded body (rows, one row, a scalar, CSV text or None);
    ``count`` the total from ``Content-Range`` when a count was asked for."""

    data: Any
    status: int
    count: int | None = None


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _list(values: Iterable[Any]) -> str:
    def quoted(v: Any) -> str:
        text = _value(v)
        return f'"{text}"' if any(c in text for c in ',()"') else text

    return "(" + ",".join(quoted(v) for v in values) + ")"


class QueryBuilder(Generic[T]):
    """``client.from_("books").select("id,title,author:authors(name)").eq("id", 1)``."""

    def __init__(self, request: PreparedRequest, execute: Callable[[PreparedRequest], T]) -> None:
        self._request = request
        self._execute = execute

    # --- verbs -------------------------------------------------------------------
    def select(self, columns: str = "*", *, count: CountMethod | None = None,
               head: bool = False) -> QueryBuilder[T]:  # fmt: skip
        if self._request.method in ("GET", "HEAD"):
            self._request.method = "HEAD" if head else "GET"
        else:
            self._request.prefer = [p for p in self._request.prefer if not p.startswith("return=")]
            self._request.prefer.append("return=representation")
        self._request.params.append(("select", columns))
        if count:
            self._request.prefer.append(f"count={count}")
        return self

    def insert(self, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
               returning: Literal["representation", "minimal"] = "representation",
               count: CountMethod | None = None) -> QueryBuilder[T]:  # fmt: skip
        # Any mapping is accepted (generated TypedDicts included); JSON needs plain dicts.
        body = dict(rows) if isinstance(rows, Mapping) else [dict(row) for row in rows]
        self._request.method, self._request.body = "POST", body
        self._request.prefer.append(f"return={returning}")
        if count:
            self._request.prefer.append(f"count={count}")
        if isinstance(rows, Sequence) and rows:
            keys = sorted({k for row in rows for k in row})
            self._request.params.append(("columns", ",".join(keys)))
        return self

    def upsert(self, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
               on_conflict: str | None = None, ignore_duplicates: bool = False,
               returning: Literal["representation", "minimal"] = "representation",
               ) -> QueryBuilder[T]:  # fmt: skip
        self.insert(rows, returning=returning)
        resolution = "ignore" if ignore_duplicates else "merge"
        self._request.prefer.append(f"resolution={resolution}-duplicates")
        if on_conflict:
            self._request.params.append(("on_conflict", on_conflict))
        return self

    def update(self, values: Mapping[str, Any], *,
               returning: Literal["representation", "minimal"] = "representation",
               ) -> QueryBuilder[T]:  # fmt: skip
        self._request.method, self._request.body = "PATCH", dict(values)
        self._request.prefer.append(f"return={returning}")
        return self

    def delete(self, *, returning: Literal["representation", "minimal"] = "representation",
               ) -> QueryBuilder[T]:  # fmt: skip
        self._request.method = "DELETE"
        self._request.prefer.append(f"return={returning}")
        return self

    # --- filters -----------------------------------------------------------------
    def filter(self, column: str, operator: str, value: Any) -> QueryBuilder[T]:
        """Any operator as PostgREST spells it: ``filter("id", "in", "(1,2)")``."""
        self._request.params.append((column, f"{operator}.{_value(value)}"))
        return self

    def eq(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "eq", value)

    def neq(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "neq", value)

    def gt(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "gt", value)

    def gte(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "gte", value)

    def lt(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "lt", value)

    def lte(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "lte", value)

    def like(self, column: str, pattern: str) -> QueryBuilder[T]:
        return self.filter(column, "like", pattern)

    def ilike(self, column: str, pattern: str) -> QueryBuilder[T]:
        return self.filter(column, "ilike", pattern)

    def is_(self, column: str, value: bool | None) -> QueryBuilder[T]:
        return self.filter(column, "is", value)

    def in_(self, column: str, values: Iterable[Any]) -> QueryBuilder[T]:
        return self.filter(column, "in", _list(values))

    def contains(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "cs", self._container(value))

    def contained_by(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "cd", self._container(value))

    def overlaps(self, column: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, "ov", self._container(value))

    def text_search(self, column: str, query: str, *, kind: Literal["fts", "plfts", "phfts",
                    "wfts"] = "fts", config: str | None = None) -> QueryBuilder[T]:  # fmt: skip
        operator = f"{kind}({config})" if config else kind
        return self.filter(column, operator, query)

    def match(self, values: Mapping[str, Any]) -> QueryBuilder[T]:
        for column, value in values.items():
            self.eq(column, value)
        return self

    def not_(self, column: str, operator: str, value: Any) -> QueryBuilder[T]:
        return self.filter(column, f"not.{operator}", value)

    def or_(self, conditions: str, *, referenced_table: str | None = None) -> QueryBuilder[T]:
        """``or_("price.lt.10,pages.gt.300")``."""
        key = f"{referenced_table}.or" if referenced_table else "or"
        self._request.params.append((key, f"({conditions})"))
        return self

    def and_(self, conditions: str, *, referenced_table: str | None = None) -> QueryBuilder[T]:
        key = f"{referenced_table}.and" if referenced_table else "and"
        self._request.params.append((key, f"({conditions})"))
        return self

    @staticmethod
    def _container(value: Any) -> str:
        if isinstance(value, dict):
            return json.dumps(value)
        if isinstance(value, (list, tuple)):
            return "{" + ",".join(_value(v) for v in value) + "}"
        return _value(value)

    # --- shaping -----------------------------------------------------------------
    def order(self, column: str, *, desc: bool = False, nulls_first: bool | None = None,
              referenced_table: str | None = None) -> QueryBuilder[T]:  # fmt: skip
        term = f"{column}.{'desc' if desc else 'asc'}"
        if nulls_first is not None:
            term += ".nullsfirst" if nulls_first else ".nullslast"
        key = f"{referenced_table}.order" if referenced_table else "order"
        for index, (name, existing) in enumerate(self._request.params):
            if name == key:
                self._request.params[index] = (key, f"{existing},{term}")
                return self
        self._request.params.append((key, term))
        return self

    def limit(self, count: int, *, referenced_table: str | None = None) -> QueryBuilder[T]:
        key = f"{referenced_table}.limit" if referenced_table else "limit"
        self._request.params.append((key, str(count)))
        return self

    def offset(self, count: int) -> QueryBuilder[T]:
        self._request.params.append(("offset", str(count)))
        return self

    def range(self, start: int, end: int) -> QueryBuilder[T]:
        """Rows ``start`` to ``end`` inclusive (0-based), as ``Range: start-end`` would."""
        return self.offset(start).limit(end - start + 1)

    def single(self) -> QueryBuilder[T]:
        """Exactly one row, else ``DbifyError`` (PGRST116, status 406)."""
        self._request.headers["Accept"] = "application/vnd.pgrst.object+json"
        self._request.expect = "single"
        return self

    def maybe_single(self) -> QueryBuilder[T]:
        """One row or None; more than one is an error."""
        self._request.expect = "maybe_single"
        return self

    def csv(self) -> QueryBuilder[T]:
        self._request.headers["Accept"] = "text/csv"
        self._request.expect = "csv"
        return self

    def execute(self) -> T:
        return self._execute(self._request)
