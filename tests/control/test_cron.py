"""Cron: two schedulers on one metadata store run each per-second occurrence exactly once
(on SQLite and PostgreSQL); missed occurrences are skipped by policy."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dbify.control.access import SYSTEM
from dbify.control.cron.scheduler import Scheduler, next_occurrence
from dbify.control.cron.store import CronStore, JobRecord, RunRecord
from dbify.control.outbound import OutboundPolicy
from dbify.control.projects.schemas import ProjectCreate
from dbify.control.projects.store import ProjectStore
from dbify.settings import Settings
from tests.fixtures.control import open_control

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


def _job(project_id: str, action: dict[str, object], **values: object) -> JobRecord:
    now = datetime.now(UTC)
    base: dict[str, object] = dict(
        id="job" + str(abs(hash(now)) % 10_000), project_id=project_id, name="tick",
        schedule="* * * * * *", timezone="Europe/Paris", action=action, enabled=True,
        missed_policy="skip", overlap_policy="allow", timeout_seconds=5.0,
        next_run_at=next_occurrence("* * * * * *", "Europe/Paris", now),
        created_at=now, updated_at=now,
    )  # fmt: skip
    base.update(values)
    return JobRecord(**base)  # type: ignore[arg-type]


async def test_two_schedulers_run_each_occurrence_once(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute("CREATE TABLE ticks (at timestamptz DEFAULT now())")
    await conn.close()
    settings = control_settings(scheduler={"tick_seconds": 0.05})
    async with open_control(settings) as c:
        from pydantic import SecretStr

        created = await c.plane.projects.create(
            SYSTEM, ProjectCreate(name="p", database_url=SecretStr(database_url))
        )
        store = CronStore(c.plane.store.engine)
        job = _job(created.id, {"kind": "sql", "sql": "INSERT INTO ticks DEFAULT VALUES"})
        await store.insert_job(job)
        schedulers = [
            Scheduler(store, ProjectStore(c.plane.store.engine), c.plane.box,
                      settings.scheduler, OutboundPolicy())
            for _ in range(2)
        ]  # fmt: skip
        for scheduler in schedulers:
            await scheduler.start()
        await asyncio.sleep(3.2)
        for scheduler in schedulers:
            await scheduler.stop()
            await scheduler.drain()
        runs = await store.runs(job.id, 100, 0)
        per_occurrence = Counter(r.scheduled_for for r in runs)
        assert len(runs) >= 2
        assert max(per_occurrence.values()) == 1
        assert {r.status for r in runs} == {"succeeded"}, [r.error for r in runs]
        assert all(r.output == "INSERT 0 1" for r in runs)
        conn = await asyncpg.connect(database_url)
        assert await conn.fetchval("SELECT count(*) FROM ticks") == len(runs)
        await conn.close()


async def test_missed_occurrences_are_skipped_or_caught_up_once(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = control_settings(scheduler={"missed_grace_seconds": 1})
    async with open_control(settings) as c:
        from pydantic import SecretStr

        created = await c.plane.projects.create(
            SYSTEM, ProjectCreate(name="p", database_url=SecretStr(database_url))
        )
        store = CronStore(c.plane.store.engine)
        hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        action: dict[str, object] = {"kind": "function", "function": "pg_catalog.now"}
        skip = _job(created.id, action, id="skipper", name="a", next_run_at=hour_ago)
        catch = _job(created.id, action, id="catcher", name="b", next_run_at=hour_ago,
                     missed_policy="catch_up_once")  # fmt: skip
        await store.insert_job(skip)
        await store.insert_job(catch)
        scheduler = Scheduler(store, ProjectStore(c.plane.store.engine), c.plane.box,
                              settings.scheduler, OutboundPolicy())  # fmt: skip
        now = datetime.now(UTC)
        assert await scheduler.tick(now) == 1
        assert await scheduler.tick(now) == 0  # nothing more: no backlog of 3,600 runs
        await scheduler.drain()
        (skipped,) = await store.runs("skipper", 10, 0)
        assert skipped.status == "skipped"
        (caught,) = await store.runs("catcher", 10, 0)
        assert caught.status == "succeeded", caught.error
        assert caught.output is not None
        assert caught.output.startswith('[{"result"')
        job = await store.job_by_id("catcher")
        assert job is not None
        assert job.next_run_at is not None
        assert job.next_run_at > now


async def test_overlap_policy_skips_or_allows_a_second_run(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        from pydantic import SecretStr

        created = await c.plane.projects.create(
            SYSTEM, ProjectCreate(name="p", database_url=SecretStr(database_url))
        )
        store = CronStore(c.plane.store.engine)
        now = datetime.now(UTC).replace(microsecond=0)
        action: dict[str, object] = {"kind": "sql", "sql": "SELECT pg_sleep(1.5)"}
        skip = _job(created.id, action, id="skipper", name="a", next_run_at=now,
                    overlap_policy="skip")  # fmt: skip
        allow = _job(created.id, action, id="allower", name="b", next_run_at=now)
        # A "running" row left an hour ago by a scheduler that died blocks nothing.
        orphan = _job(created.id, action, id="orphan", name="c", next_run_at=now,
                      overlap_policy="skip")  # fmt: skip
        for job in (skip, allow, orphan):
            await store.insert_job(job)
        await store.insert_run(
            RunRecord(
                id="dead",
                job_id="orphan",
                trigger="schedule",
                scheduled_for=now,
                status="running",
                started_at=now - timedelta(hours=1),
                finished_at=None,
                output=None,
                error=None,
            )
        )
        scheduler = Scheduler(store, ProjectStore(c.plane.store.engine), c.plane.box,
                              c.plane.settings.scheduler, OutboundPolicy())  # fmt: skip
        assert await scheduler.tick(now) == 3
        # The next second's occurrence, while the first runs are still sleeping.
        assert await scheduler.tick(now + timedelta(seconds=1.1)) == 1
        await scheduler.drain()
        skipped = sorted(r.status for r in await store.runs("skipper", 10, 0))
        assert skipped == ["skipped", "succeeded"]
        (refused,) = [r for r in await store.runs("skipper", 10, 0) if r.status == "skipped"]
        assert refused.error == "previous run still running"
        assert sorted(r.status for r in await store.runs("allower", 10, 0)) == [
            "succeeded", "succeeded",
        ]  # fmt: skip
        orphan_runs = [r for r in await store.runs("orphan", 10, 0) if r.id != "dead"]
        assert sorted(r.status for r in orphan_runs) == ["skipped", "succeeded"]
