"""Performance rules learnt from the request logs: slow endpoints, unindexed filters.

The request log keeps each request's *query shape* (``status=eq.?&order=id.desc``,
values removed) with its method, target and duration. Grouped per shape they say
which endpoints are slow at the 95th percentile and which columns clients filter on
often; with the catalog's indexes (``CatalogFacts``) and an ``EXPLAIN`` of a
representative query per slow shape, the rules below say why and what to do.

Everything here is pure: ``control/analytics/store.py`` reads the shapes,
``control/lint/store.py`` runs the ``EXPLAIN``s of ``representative_query`` and
``control/lint/service.py`` wires them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from dbify.lint.facts import CatalogFacts
from dbify.lint.findings import Finding
from dbify.schema.model import QualifiedName, Relation, SchemaSnapshot

__all__ = [
    "RequestUsage",
    "ShapeUsage",
    "UsageThresholds",
    "filtered_columns",
    "lint_usage",
    "representative_query",
]

# Query keys that are grammar, not filters (``shape_of_query`` keeps them verbatim).
_GRAMMAR = frozenset(
    {"select", "order", "limit", "offset", "columns", "on_conflict", "or", "and", "not.or"}
)
# Operators with a plain SQL form an index can serve; others (fts, cs, is...) are left
# out of the representative query rather than guessed at.
_SQL_OPERATORS = {
    "eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
    "like": "LIKE", "ilike": "ILIKE",
}  # fmt: skip
_ORDER_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\.(asc|desc))?(?:\.nulls(first|last))?$")


@dataclass(frozen=True, slots=True)
class ShapeUsage:
    """One (method, target, query shape) over the linted window."""

    method: str
    target: str
    shape: str
    requests: int
    p95_ms: float


@dataclass(frozen=True, slots=True)
class UsageThresholds:
    """``slow_p95_ms``: an endpoint slower than this at p95 is reported;
    ``min_filter_requests``: a column filtered in fewer requests is not."""

    slow_p95_ms: float = 200.0
    min_filter_requests: int = 100


@dataclass(frozen=True, slots=True)
class RequestUsage:
    """The logged shapes of a project and the ``EXPLAIN`` text of the slow ones,
    keyed by (target, shape)."""

    shapes: tuple[ShapeUsage, ...]
    plans: Mapping[tuple[str, str], str] = field(default_factory=dict)
    window: str = "the last 7 days"


def _pairs(shape: str) -> Iterator[tuple[str, str]]:
    for part in shape.split("&") if shape else ():
        name, _, value = part.partition("=")
        yield name, value


def filtered_columns(shape: str) -> list[tuple[str, str]]:
    """(column, operator) of each horizontal filter on the target itself.

    >>> filtered_columns("select=id&status=eq.?&author.name=eq.?&age=not.gt.?&limit=5")
    [('status', 'eq'), ('age', 'not.gt')]
    """
    found = []
    for name, value in _pairs(shape):
        if name in _GRAMMAR or "." in name or not value.endswith(".?"):
            continue  # grammar, embedded-resource filters, logic trees
        found.append((name, value[:-2]))
    return found


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def representative_query(relation: Relation, shape: str) -> tuple[str, int] | None:
    """SQL with ``$n`` placeholders standing for the shape's removed values, and the
    number of parameters; None when no filter or order of the shape maps to SQL."""
    conditions: list[str] = []
    for column, operator in filtered_columns(shape):
        sql_op = _SQL_OPERATORS.get(operator)
        if sql_op is None or relation.column(column) is None:
            continue
        conditions.append(f"{_quote(column)} {sql_op} ${len(conditions) + 1}")
    values = dict(_pairs(shape))
    orders: list[str] = []
    for item in values.get("order", "").split(",") if values.get("order") else ():
        match = _ORDER_ITEM.match(item)
        if match and relation.column(match[1]) is not None:
            orders.append(f"{_quote(match[1])} {(match[2] or 'asc').upper()}")
    if not conditions and not orders:
        return None
    table = f"{_quote(relation.name.schema)}.{_quote(relation.name.name)}"
    sql = f"SELECT * FROM {table}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if orders:
        sql += " ORDER BY " + ", ".join(orders)
    limit = values.get("limit", "")
    sql += f" LIMIT {int(limit)}" if limit.isdigit() else ""
    return sql, len(conditions)


def resolve_target(snapshot: SchemaSnapshot, target: str) -> Relation | None:
    """The exposed relation a logged target names (the first exposed schema's)."""
    for schema in snapshot.exposed_schemas:
        relation = snapshot.relations.get(QualifiedName(schema, target))
        if relation is not None:
            return relation
    return None


def _indexed(relation: Relation, facts: CatalogFacts, column: str) -> bool:
    keys = [relation.primary_key, *relation.unique_constraints]
    keys += facts.indexes.get(relation.name, ())
    return any(key and key[0] == column for key in keys)


def slow_endpoint(
    snapshot: SchemaSnapshot, usage: RequestUsage, thresholds: UsageThresholds
) -> Iterable[Finding]:
    for shape in usage.shapes:
        if shape.p95_ms <= thresholds.slow_p95_ms:
            continue
        plan = usage.plans.get((shape.target, shape.shape), "")
        scans = "Seq Scan" in plan
        query = f"{shape.method} /{shape.target}" + (f"?{shape.shape}" if shape.shape else "")
        message = (
            f"{query} took {shape.p95_ms:.0f} ms at p95 over {shape.requests} request(s) in "
            f"{usage.window} (threshold {thresholds.slow_p95_ms:.0f} ms)."
        )
        if plan:
            message += (" Its plan scans the whole table: " if scans else " Its plan: ") + plan
        remedy = (
            "Index the filtered/ordered columns of this query (see the plan), or add a limit."
            if scans
            else "Check the plan with EXPLAIN ANALYZE; narrow select=, embeds and ranges, or "
            "move heavy work into a materialized view."
        )
        yield Finding(
            "slow_endpoint", "warning", "performance", query,
            message, remedy,
        )  # fmt: skip


def unindexed_filter_column(
    snapshot: SchemaSnapshot,
    facts: CatalogFacts | None,
    usage: RequestUsage,
    thresholds: UsageThresholds,
) -> Iterable[Finding]:
    if facts is None:
        return
    counts: dict[tuple[str, str], int] = {}
    for shape in usage.shapes:
        for column, _ in filtered_columns(shape.shape):
            key = (shape.target, column)
            counts[key] = counts.get(key, 0) + shape.requests
    for (target, column), requests in sorted(counts.items()):
        relation = resolve_target(snapshot, target)
        if relation is None or relation.kind not in ("table", "partitioned_table"):
            continue
        if relation.column(column) is None or requests < thresholds.min_filter_requests:
            continue
        if not _indexed(relation, facts, column):
            yield Finding(
                "unindexed_filter_column", "warning", "performance",
                f"{relation.name}.{column}",
                f"{requests} request(s) in {usage.window} filtered /{target} on {column}, "
                "and no index starts with it: each one reads the whole table.",
                f"CREATE INDEX ON {relation.name} ({_quote(column)});",
            )  # fmt: skip


def lint_usage(
    snapshot: SchemaSnapshot,
    facts: CatalogFacts | None,
    usage: RequestUsage,
    thresholds: UsageThresholds = UsageThresholds(),
) -> list[Finding]:
    """The findings of the request-log rules, in the order of ``lint_snapshot``."""
    found = [
        *slow_endpoint(snapshot, usage, thresholds),
        *unindexed_filter_column(snapshot, facts, usage, thresholds),
    ]
    return sorted(set(found), key=lambda f: f.sort_key)
