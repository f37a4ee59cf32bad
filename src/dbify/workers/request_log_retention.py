"""The request-log retention job: removes what each project no longer keeps.

Run by whoever writes the analytics store (the request-log worker: in-process in
``dbify serve`` all-in-one, or ``dbify worker request-log``), every
``analytics.retention_interval_seconds``. One round:

1. on a server without table TTL (ClickHouse < 19.6), drop the day partitions older than
   the instance's ``analytics.retention_days`` (where TTL exists it does this itself);
2. read each project's ``log_retention_days`` from the metadata store and, unless a
   previous delete is still being applied, issue one ``ALTER TABLE … DELETE`` for the
   projects that have rows past their limit (SQL in ``backends/analytics/retention.py``).

The job runs in its own task and only logs its failures (the metadata store or the
analytics store down): it never stands in the way of request logging, and the next round
tries again. The statements return as soon as the engine has queued the mutation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.backends.analytics.base import AnalyticsStore, supports_ttl
from dbify.backends.analytics.retention import (
    PENDING_DELETES_SQL,
    delete_expired_sql,
    drop_partition_sql,
    expired_counts_sql,
    expired_partitions_sql,
    oldest_kept_day,
    project_cutoffs,
)
from dbify.background import cancel_and_wait
from dbify.settings import Settings

__all__ = ["RequestLogRetention", "RetentionRound", "build_request_log_retention"]

log = logging.getLogger("dbify.workers")

RetentionPolicies = Callable[[], Awaitable[Mapping[str, int]]]


@dataclass(slots=True)
class RetentionRound:
    """What one round did: partitions dropped, and expired rows found per project."""

    partitions_dropped: list[str] = field(default_factory=list)
    expired_rows: dict[str, int] = field(default_factory=dict)
    delete_issued: bool = False
    waited_for_pending: bool = False


class RequestLogRetention:
    name = "request-log-retention"

    def __init__(
        self,
        store: AnalyticsStore,
        policies: RetentionPolicies,
        *,
        instance_days: int | None,
        interval_seconds: float = 3600.0,
    ) -> None:
        self.store = store
        self._policies = policies
        self.instance_days = instance_days
        self.interval_seconds = interval_seconds
        self._has_ttl: bool | None = None
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self.last_error = ""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # next round retries; logging must go on
                self.last_error = str(error)[:500]
                log.warning("request-log retention failed (next try in %.0fs): %s",
                            self.interval_seconds, error)  # fmt: skip
            await asyncio.sleep(self.interval_seconds)

    async def run_once(self, today: date | None = None) -> RetentionRound:
        """One round as of ``today`` (UTC by default)."""
        day = today or datetime.now(UTC).date()
        done = RetentionRound()
        if self.instance_days is not None and not await self._store_has_ttl():
            done.partitions_dropped = await self._drop_partitions(day, self.instance_days)
        cutoffs = project_cutoffs(await self._policies(), self.instance_days, day)
        if cutoffs:
            expired = await self.store.select(expired_counts_sql(cutoffs))
            done.expired_rows = {str(project): int(rows) for project, rows in expired}
        if done.expired_rows:
            pending = await self.store.select(PENDING_DELETES_SQL)
            if int(pending[0][0]):
                done.waited_for_pending = True
            else:
                expiring = [cut for cut in cutoffs if cut.project_id in done.expired_rows]
                await self.store.select(delete_expired_sql(expiring))
                done.delete_issued = True
        self.rounds += 1
        return done

    async def _store_has_ttl(self) -> bool:
        if self._has_ttl is None:
            version = await self.store.select("SELECT version()")
            self._has_ttl = supports_ttl(str(version[0][0]))
        return self._has_ttl

    async def _drop_partitions(self, today: date, days: int) -> list[str]:
        keep_from = oldest_kept_day(today, days)
        rows = await self.store.select(expired_partitions_sql(keep_from))
        dropped = [str(partition) for (partition,) in rows]
        for partition in dropped:
            await self.store.select(drop_partition_sql(partition))
        return dropped


def build_request_log_retention(
    settings: Settings, store: AnalyticsStore, metadata: AsyncEngine
) -> RequestLogRetention:
    """The job for ``store``, reading the projects' limits from the metadata store."""
    from dbify.control.projects.store import ProjectStore

    projects = ProjectStore(metadata)
    return RequestLogRetention(
        store,
        projects.log_retention_days,
        instance_days=settings.analytics.retention_days,
        interval_seconds=settings.analytics.retention_interval_seconds,
    )
