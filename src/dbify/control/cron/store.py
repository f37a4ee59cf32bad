"""SQL for cron jobs and their runs (metadata store).

Exactly one scheduler runs each occurrence: ``claim_occurrence`` moves a job's
``next_run_at`` from the occurrence to the next one with a compare-and-set UPDATE, and
only the scheduler whose UPDATE changed the row runs it. This holds on PostgreSQL with
any number of schedulers and on SQLite for schedulers sharing the file (one node), with
no lock held while the action runs. Manual runs are queued rows claimed the same way.

Writes that can make something due sooner (a job created or changed, a run queued) call
this process's listeners (``listen``): every ``CronStore`` on one engine shares them, so
the scheduler hears of a change made through the API's store and need not poll.
Other processes hear of it through the event bus (``runtime.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import cron_jobs, cron_runs
from dbify.metadata.write_listeners import NotifiesWrites

__all__ = ["CronStore", "JobRecord", "RunRecord"]


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    project_id: str
    name: str
    schedule: str
    timezone: str
    action: dict[str, Any]
    enabled: bool
    missed_policy: str
    overlap_policy: str
    timeout_seconds: float
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    job_id: str
    trigger: str
    scheduled_for: datetime
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    output: str | None
    error: str | None


def _job(row: sa.Row[Any]) -> JobRecord:
    return JobRecord(**{f: row._mapping[f] for f in JobRecord.__slots__})


def _run(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(**{f: row._mapping[f] for f in RunRecord.__slots__})


class CronStore(NotifiesWrites):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_job(self, record: JobRecord) -> None:
        values = {f: getattr(record, f) for f in JobRecord.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(cron_jobs.insert().values(**values))
        self._changed()

    async def job(self, project_id: str, job_id: str) -> JobRecord | None:
        query = cron_jobs.select().where(
            cron_jobs.c.id == job_id, cron_jobs.c.project_id == project_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _job(row)

    async def jobs(self, project_id: str) -> list[JobRecord]:
        query = cron_jobs.select().where(cron_jobs.c.project_id == project_id)
        async with self._engine.connect() as conn:
            return [_job(r) for r in await conn.execute(query.order_by(cron_jobs.c.name))]

    async def due_jobs(self, now: datetime) -> list[JobRecord]:
        query = cron_jobs.select().where(cron_jobs.c.enabled, cron_jobs.c.next_run_at <= now)
        async with self._engine.connect() as conn:
            return [_job(r) for r in await conn.execute(query)]

    async def next_run_at(self) -> datetime | None:
        """The earliest ``next_run_at`` of the enabled jobs (None: no enabled job)."""
        query = sa.select(sa.func.min(cron_jobs.c.next_run_at)).where(cron_jobs.c.enabled)
        async with self._engine.connect() as conn:
            earliest: datetime | None = (await conn.execute(query)).scalar_one()
        return earliest

    async def update_job(self, job_id: str, **values: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(cron_jobs.update().where(cron_jobs.c.id == job_id).values(**values))
        self._changed()

    async def delete_job(self, project_id: str, job_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                cron_jobs.delete().where(
                    cron_jobs.c.id == job_id, cron_jobs.c.project_id == project_id
                )
            )
        return bool(result.rowcount)

    async def claim_occurrence(
        self, job_id: str, occurrence: datetime, following: datetime
    ) -> bool:
        """Move ``next_run_at`` from ``occurrence`` to ``following``; True if we did."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                cron_jobs.update()
                .where(cron_jobs.c.id == job_id, cron_jobs.c.next_run_at == occurrence)
                .values(next_run_at=following)
            )
        return result.rowcount == 1

    async def insert_run(self, record: RunRecord) -> None:
        values = {f: getattr(record, f) for f in RunRecord.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(cron_runs.insert().values(**values))
        if record.status == "queued":  # the scheduler's own rows start nothing new
            self._changed()

    async def running(self, job_id: str, started_after: datetime) -> bool:
        """Whether a run of the job started after ``started_after`` is still running (an
        older "running" row is a dead scheduler's: it must not block the job forever)."""
        query = sa.select(sa.func.count()).where(
            cron_runs.c.job_id == job_id,
            cron_runs.c.status == "running",
            cron_runs.c.started_at > started_after,
        )
        async with self._engine.connect() as conn:
            return bool((await conn.execute(query)).scalar_one())

    async def claim_queued(self, now: datetime) -> list[RunRecord]:
        """Manual runs waiting for a scheduler, each claimed by one (queued → running)."""
        query = cron_runs.select().where(cron_runs.c.status == "queued")
        claimed: list[RunRecord] = []
        async with self._engine.connect() as conn:
            queued = [_run(r) for r in await conn.execute(query)]
        for run in queued:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    cron_runs.update()
                    .where(cron_runs.c.id == run.id, cron_runs.c.status == "queued")
                    .values(status="running", started_at=now)
                )
            if result.rowcount == 1:
                claimed.append(run)
        return claimed

    async def finish_run(self, run_id: str, **values: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(cron_runs.update().where(cron_runs.c.id == run_id).values(**values))

    async def job_by_id(self, job_id: str) -> JobRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(cron_jobs.select().where(cron_jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def run(self, job_id: str, run_id: str) -> RunRecord | None:
        query = cron_runs.select().where(cron_runs.c.id == run_id, cron_runs.c.job_id == job_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _run(row)

    async def runs(self, job_id: str, limit: int, offset: int) -> list[RunRecord]:
        query = (
            cron_runs.select()
            .where(cron_runs.c.job_id == job_id)
            .order_by(cron_runs.c.scheduled_for.desc(), cron_runs.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as conn:
            return [_run(r) for r in await conn.execute(query)]
