"""The SQL of stats and log search over ``request_log`` (ClickHouse dialect, 18.16-safe).

Every value is rendered with ``literal``; every query filters on ``project_id`` and the
``time`` range first, which the table's order key serves. ``FINAL`` collapses events
written twice by a redelivered batch.
"""

from __future__ import annotations

from typing import Any

from dbify.backends.analytics import AnalyticsStore, literal
from dbify.backends.analytics.base import COLUMNS

__all__ = ["AnalyticsQueries", "LogFilters"]

_BUCKETS = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay"}
_TABLE = "{db}.request_log FINAL"

LogFilters = dict[str, Any]


def _condition(name: str, value: Any) -> str:
    if name == "status_class":  # "4xx": every status from 400 to 499
        return f"intDiv(status, 100) = {int(str(value)[0])}"
    return f"{name} = {literal(value)}"


class AnalyticsQueries:
    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store

    @staticmethod
    def _where(project_id: str, start: int, end: int) -> str:
        return (
            f"project_id = {literal(project_id)} AND time >= toDateTime({int(start)}) "
            f"AND time < toDateTime({int(end)})"
        )

    async def totals(self, project_id: str, start: int, end: int) -> tuple[Any, ...]:
        rows = await self._store.select(
            "SELECT count(), countIf(status >= 400), avg(duration_us), "
            f"quantiles(0.5, 0.95, 0.99)(duration_us) FROM {_TABLE} "
            f"WHERE {self._where(project_id, start, end)}"
        )
        return rows[0]

    async def series(self, project_id: str, start: int, end: int, bucket: str) -> list[Any]:
        return await self._store.select(
            f"SELECT toUnixTimestamp({_BUCKETS[bucket]}(time)) AS t, count(), "
            f"countIf(status >= 400), avg(duration_us), quantile(0.95)(duration_us) "
            f"FROM {_TABLE} WHERE {self._where(project_id, start, end)} GROUP BY t ORDER BY t"
        )

    async def breakdown(self, project_id: str, start: int, end: int, column: str) -> list[Any]:
        assert column in ("status", "method", "target", "key_id")
        return await self._store.select(
            f"SELECT toString({column}) AS v, count() AS n, avg(duration_us) FROM {_TABLE} "
            f"WHERE {self._where(project_id, start, end)} GROUP BY v ORDER BY n DESC LIMIT 20"
        )

    async def slowest(self, project_id: str, start: int, end: int) -> list[Any]:
        return await self._store.select(
            "SELECT method, target, count(), avg(duration_us), quantile(0.95)(duration_us) AS p "
            f"FROM {_TABLE} WHERE {self._where(project_id, start, end)} "
            "GROUP BY method, target ORDER BY p DESC LIMIT 10"
        )

    async def shapes(self, project_id: str, start: int, end: int, limit: int = 500) -> list[Any]:
        """(method, target, query_shape, requests, p95 µs) of successful data requests,
        most requested first: what the linter learns usage from."""
        return await self._store.select(
            "SELECT method, target, query_shape, count() AS n, quantile(0.95)(duration_us) "
            f"FROM {_TABLE} WHERE {self._where(project_id, start, end)} AND status < 400 "
            f"AND target != '' GROUP BY method, target, query_shape ORDER BY n DESC "
            f"LIMIT {int(limit)}"
        )

    async def logs(
        self,
        project_id: str,
        start: int,
        end: int,
        filters: LogFilters,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Any]:
        conditions = [self._where(project_id, start, end)]
        conditions += [_condition(name, value) for name, value in filters.items()]
        if after is not None:
            ts, event_id = after
            conditions.append(
                f"(timestamp_us < {int(ts)} OR "
                f"(timestamp_us = {int(ts)} AND event_id < {literal(event_id)}))"
            )
        return await self._store.select(
            f"SELECT {', '.join(COLUMNS)} FROM {_TABLE} WHERE {' AND '.join(conditions)} "
            f"ORDER BY timestamp_us DESC, event_id DESC LIMIT {int(limit)}"
        )

    async def event(self, project_id: str, event_id: str) -> tuple[Any, ...] | None:
        rows = await self._store.select(
            f"SELECT {', '.join(COLUMNS)} FROM {_TABLE} "
            f"WHERE project_id = {literal(project_id)} AND event_id = {literal(event_id)} LIMIT 1"
        )
        return rows[0] if rows else None
