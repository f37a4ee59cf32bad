"""Rules of the stats and log endpoints: who may read, time ranges, cursors, units.

Viewers of a project may read its stats and logs. Time ranges default to the last 24
hours; ``to`` is exclusive; a time without a zone is read as UTC (never as the host's
zone, so answers do not depend on where the server runs). Durations are stored in µs
and answered in ms. A log cursor is ``{timestamp_us}:{event_id}`` of the last item of
the previous page.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from dbify.backends.analytics import AnalyticsStore, AnalyticsUnavailable
from dbify.backends.analytics.base import COLUMNS
from dbify.control.access import Caller
from dbify.control.analytics.schemas import (
    Breakdown,
    Bucket,
    LogEvent,
    LogPage,
    SeriesPoint,
    SlowEndpoint,
    Stats,
    Totals,
)
from dbify.control.analytics.store import AnalyticsQueries, LogFilters
from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.service import ProjectService

__all__ = ["AnalyticsService"]

_DAY = 86_400


def _ms(value: Any) -> float:
    number = float(value or 0)
    return 0.0 if number != number else round(number / 1000, 3)  # NaN on an empty range


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _range(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    to = _seconds(end) if end else int(time.time()) + 1
    since = _seconds(start) if start else to - _DAY
    if since >= to:
        raise control_error(ControlCodes.INVALID_REQUEST, "'from' must be before 'to'")
    return since, to


class AnalyticsService:
    def __init__(self, store: AnalyticsStore | None, projects: ProjectService) -> None:
        self._queries = AnalyticsQueries(store) if store is not None else None
        self._projects = projects

    async def _ready(self, caller: Caller, project_id: str) -> AnalyticsQueries:
        await self._projects.require_role(caller, project_id, "viewer")
        if self._queries is None:
            raise control_error(
                ControlCodes.ANALYTICS_UNAVAILABLE,
                "Request analytics are not available in this process",
                hint="Run the request-log worker here, or configure a ClickHouse server.",
            )
        return self._queries

    async def stats(
        self,
        caller: Caller,
        project_id: str,
        start: datetime | None,
        end: datetime | None,
        bucket: Bucket,
    ) -> Stats:
        queries = await self._ready(caller, project_id)
        since, to = _range(start, end)
        try:
            count, errors, avg, (p50, p95, p99) = await queries.totals(project_id, since, to)
            series = await queries.series(project_id, since, to, bucket)
            by = {
                column: await queries.breakdown(project_id, since, to, column)
                for column in ("status", "method", "target", "key_id")
            }
            slowest = await queries.slowest(project_id, since, to)
        except AnalyticsUnavailable as error:
            raise control_error(ControlCodes.ANALYTICS_UNAVAILABLE, str(error)) from error

        def breakdown(rows: list[Any]) -> list[Breakdown]:
            return [Breakdown(value=v, requests=int(n), avg_ms=_ms(a)) for v, n, a in rows]

        return Stats(
            project_id=project_id,
            from_=_iso(since),
            to=_iso(to),
            bucket=bucket,
            totals=Totals(
                requests=int(count),
                errors=int(errors),
                error_rate=round(int(errors) / int(count), 4) if count else 0.0,
                avg_ms=_ms(avg),
                p50_ms=_ms(p50),
                p95_ms=_ms(p95),
                p99_ms=_ms(p99),
            ),
            series=[
                SeriesPoint(
                    time=_iso(int(t)), requests=int(n), errors=int(e), avg_ms=_ms(a), p95_ms=_ms(p)
                )
                for t, n, e, a, p in series
            ],
            by_status=breakdown(by["status"]),
            by_method=breakdown(by["method"]),
            by_table=breakdown(by["target"]),
            by_key=breakdown(by["key_id"]),
            slowest=[
                SlowEndpoint(method=m, target=t, requests=int(n), avg_ms=_ms(a), p95_ms=_ms(p))
                for m, t, n, a, p in slowest
            ],
        )

    async def logs(
        self,
        caller: Caller,
        project_id: str,
        start: datetime | None,
        end: datetime | None,
        filters: LogFilters,
        cursor: str | None,
        limit: int,
    ) -> LogPage:
        queries = await self._ready(caller, project_id)
        since, to = _range(start, end)
        after: tuple[int, str] | None = None
        if cursor:
            ts, sep, event_id = cursor.partition(":")
            if not sep or not ts.isdigit():
                raise control_error(ControlCodes.INVALID_REQUEST, "Invalid cursor")
            after = (int(ts), event_id)
        try:
            rows = await queries.logs(project_id, since, to, filters, after, limit + 1)
        except AnalyticsUnavailable as error:
            raise control_error(ControlCodes.ANALYTICS_UNAVAILABLE, str(error)) from error
        items = [LogEvent(**dict(zip(COLUMNS, row, strict=True))) for row in rows[:limit]]
        more = len(rows) > limit
        next_cursor = f"{items[-1].timestamp_us}:{items[-1].event_id}" if more else None
        return LogPage(items=items, next_cursor=next_cursor)

    async def event(self, caller: Caller, project_id: str, event_id: str) -> LogEvent:
        queries = await self._ready(caller, project_id)
        try:
            row = await queries.event(project_id, event_id)
        except AnalyticsUnavailable as error:
            raise control_error(ControlCodes.ANALYTICS_UNAVAILABLE, str(error)) from error
        if row is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Log event '{event_id}' not found")
        return LogEvent(**dict(zip(COLUMNS, row, strict=True)))
