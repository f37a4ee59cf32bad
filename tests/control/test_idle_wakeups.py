"""An idle scheduler and webhook worker make no metadata queries, yet nothing they do
gets later: a job created or run while the scheduler sleeps starts on time, a message
queued while the worker sleeps is sent at once and its retry at its backoff time, and a
change made by another process wakes them through the Redis event bus."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.app import DbifyApp
from dbify.backends.loader import open_event_bus
from dbify.control import open_control_plane
from dbify.control.automation import start_automation
from dbify.control.cron.runtime import build_scheduler
from dbify.control.webhooks.runtime import open_webhook_worker, start_webhooks
from dbify.settings import Settings
from tests.fixtures.control import PUBLIC_URL, open_control, sign_up_and_token
from tests.fixtures.receiver import open_receiver

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_ALLOW = {"allowed_hosts": ["127.0.0.1/32"]}


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement sent on ``engine`` while inside."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))  # (conn, cursor, statement, parameters, context, many)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _project(api: httpx.AsyncClient, token: str, url: str) -> str:
    response = await api.post(
        "/projects", json={"name": "p", "database_url": url}, headers=_auth(token)
    )
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


async def _finished_runs(
    api: httpx.AsyncClient, token: str, path: str, count: int, within: float
) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        items: list[dict[str, Any]] = (await api.get(path, headers=_auth(token))).json()["items"]
        done = [r for r in items if r["finished_at"] is not None]
        if len(done) >= count:
            return done
        assert loop.time() < deadline, items
        await asyncio.sleep(0.02)


async def test_idle_scheduler_and_worker_send_no_queries(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    """With a job due next year and a retry due in an hour, three idle seconds cost no
    query (the former 0.5 s tick and 1 s poll made about fifteen)."""
    settings = control_settings(webhooks=_ALLOW)
    async with open_receiver() as receiver, open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        pid = await _project(c.api, token, database_url)
        job = {"name": "yearly", "schedule": "0 0 1 1 *",
               "action": {"kind": "sql", "sql": "select 1"}}  # fmt: skip
        response = await c.api.post(f"/projects/{pid}/cron/jobs", json=job, headers=_auth(token))
        assert response.status_code == 201, response.text
        hook = {"url": receiver.script("/hook", [200]), "events": ["row.inserted"]}
        response = await c.api.post(f"/projects/{pid}/webhooks", json=hook, headers=_auth(token))
        assert response.status_code == 201, response.text
        endpoint = response.json()["id"]
        ping = await c.api.post(f"/projects/{pid}/webhooks/{endpoint}/test", headers=_auth(token))
        assert ping.status_code == 202, ping.text
        # Parked as a retry due in an hour.
        async with c.plane.store.engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE webhook_deliveries SET next_attempt_at = :at"),
                {"at": datetime.now(UTC) + timedelta(hours=1)},
            )

        scheduler = build_scheduler(c.plane)
        webhooks = await start_webhooks(c.plane, None, run_worker=True)
        await webhooks.dispatcher.stop()  # its own periodic reload is not under test
        await scheduler.start()
        try:
            await asyncio.sleep(0.5)  # the first tick and claim, then sleep
            with _statements(c.plane.store.engine) as statements:
                await asyncio.sleep(3.0)
            assert statements == []
            assert receiver.at("/hook") == []
        finally:
            await scheduler.stop()
            await webhooks.stop()


async def test_a_job_created_or_run_while_the_scheduler_sleeps_starts_on_time(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        pid = await _project(c.api, token, database_url)
        jobs = f"/projects/{pid}/cron/jobs"
        scheduler = build_scheduler(c.plane)
        await scheduler.start()
        try:
            await asyncio.sleep(0.3)  # no job: it sleeps its idle ceiling (10 s)
            every_second = {"name": "tick", "schedule": "* * * * * *",
                            "action": {"kind": "sql", "sql": "select 1"}}  # fmt: skip
            response = await c.api.post(jobs, json=every_second, headers=_auth(token))
            assert response.status_code == 201, response.text
            tick = response.json()
            runs = await _finished_runs(c.api, token, f"{jobs}/{tick['id']}/runs", 2, 5.0)
            for run in runs:
                assert run["status"] == "succeeded", run
                late = datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(
                    run["scheduled_for"]
                )
                assert timedelta(0) <= late < timedelta(seconds=0.25), run
            await c.api.patch(f"{jobs}/{tick['id']}", json={"enabled": False},
                              headers=_auth(token))  # fmt: skip

            yearly = {**every_second, "name": "yearly", "schedule": "0 0 1 1 *"}
            response = await c.api.post(jobs, json=yearly, headers=_auth(token))
            job = response.json()
            await asyncio.sleep(0.5)  # asleep again, until next year or its ceiling
            queued = await c.api.post(f"{jobs}/{job['id']}/run", headers=_auth(token))
            assert queued.status_code == 202, queued.text
            (run,) = await _finished_runs(c.api, token, f"{jobs}/{job['id']}/runs", 1, 2.0)
            waited = datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(
                run["scheduled_for"]
            )
            assert waited < timedelta(seconds=0.25), run
        finally:
            await scheduler.stop()
            await scheduler.drain()


async def test_a_message_queued_while_the_worker_sleeps_is_sent_at_once_and_retried_on_time(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    backoff = 1.0  # the retry comes after 0.5-1.0 s (full jitter over the first cap)
    settings = control_settings(webhooks={**_ALLOW, "backoff_initial_seconds": backoff})
    async with open_receiver() as receiver, open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        pid = await _project(c.api, token, database_url)
        hook = {"url": receiver.script("/flaky", [500, 200]), "events": ["row.inserted"]}
        hooks = f"/projects/{pid}/webhooks"
        response = await c.api.post(hooks, json=hook, headers=_auth(token))
        endpoint = response.json()["id"]
        webhooks = await start_webhooks(c.plane, None, run_worker=True)
        try:
            await asyncio.sleep(0.5)  # nothing queued: it sleeps its ceiling (10 s)
            loop = asyncio.get_running_loop()
            queued_at = loop.time()
            ping = await c.api.post(f"{hooks}/{endpoint}/test", headers=_auth(token))
            assert ping.status_code == 202, ping.text
            first, second = await receiver.wait_for("/flaky", 2, within=3.0)
            assert first.at - queued_at < 0.3
            assert backoff / 2 - 0.05 <= second.at - first.at < backoff + 0.3
        finally:
            await webhooks.stop()


async def test_another_process_change_wakes_the_scheduler_through_the_redis_bus(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    """The serving process announces a new job on Redis; a scheduler built as ``dbify
    scheduler`` builds it (its own plane and engine, so it cannot hear the serving
    process's store) starts the job on time instead of at its idle ceiling."""
    settings = control_settings(
        scheduler={"enabled": False}, webhooks={"worker_enabled": False},
        events={"backend": "redis", "redis_url": REDIS_URL,
                "channel": f"test:{os.urandom(4).hex()}"},
    )  # fmt: skip
    async with open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        pid = await _project(c.api, token, database_url)
        serving_bus, scheduler_bus = await open_event_bus(settings), await open_event_bus(settings)
        assert c.plane.directory is not None
        app = DbifyApp(c.plane.directory, public_url=PUBLIC_URL, max_body_bytes=1 << 20)
        management = c.api._transport.app  # type: ignore[attr-defined]
        automation = await start_automation(c.plane, app, management, serving_bus)
        elsewhere = await open_control_plane(settings, migrate=False)
        scheduler = build_scheduler(elsewhere, scheduler_bus)
        await scheduler.start()
        try:
            await asyncio.sleep(0.5)  # no job: asleep for its idle ceiling (10 s)
            every_second = {"name": "tick", "schedule": "* * * * * *",
                            "action": {"kind": "sql", "sql": "select 1"}}  # fmt: skip
            jobs = f"/projects/{pid}/cron/jobs"
            response = await c.api.post(jobs, json=every_second, headers=_auth(token))
            assert response.status_code == 201, response.text
            tick = response.json()
            (run, *_) = await _finished_runs(c.api, token, f"{jobs}/{tick['id']}/runs", 1, 3.0)
            late = datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(
                run["scheduled_for"]
            )
            assert late < timedelta(seconds=0.25), run
        finally:
            await scheduler.stop()
            await scheduler.drain()
            await automation.stop()
            await elsewhere.close()
            for bus in (serving_bus, scheduler_bus):
                await bus.close()


async def test_a_message_queued_by_another_process_wakes_the_worker_through_the_redis_bus(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    """The serving process (no worker of its own) queues a test ping and announces it on
    Redis; the worker ``dbify worker webhooks`` builds (its own plane, engine and bus
    connection) sends it at once instead of at its idle ceiling (10 s)."""
    settings = control_settings(
        webhooks={**_ALLOW, "worker_enabled": False}, scheduler={"enabled": False},
        events={"backend": "redis", "redis_url": REDIS_URL,
                "channel": f"test:{os.urandom(4).hex()}"},
    )  # fmt: skip
    async with open_receiver() as receiver, open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        pid = await _project(c.api, token, database_url)
        hooks = f"/projects/{pid}/webhooks"
        hook = {"url": receiver.script("/elsewhere", [200]), "events": ["row.inserted"]}
        response = await c.api.post(hooks, json=hook, headers=_auth(token))
        assert response.status_code == 201, response.text
        endpoint = response.json()["id"]
        serving_bus = await open_event_bus(settings)
        assert c.plane.directory is not None
        app = DbifyApp(c.plane.directory, public_url=PUBLIC_URL, max_body_bytes=1 << 20)
        management = c.api._transport.app  # type: ignore[attr-defined]
        automation = await start_automation(c.plane, app, management, serving_bus)
        elsewhere = await open_control_plane(settings, migrate=False)
        worker = await open_webhook_worker(settings, elsewhere)
        await worker.start()
        try:
            await asyncio.sleep(0.5)  # nothing queued: asleep for its idle ceiling
            ping = await c.api.post(f"{hooks}/{endpoint}/test", headers=_auth(token))
            assert ping.status_code == 202, ping.text
            queued_at = asyncio.get_running_loop().time()  # queued and announced by now
            (delivered,) = await receiver.wait_for("/elsewhere", 1, within=5.0)
            # ~40 ms here; the bound only has to tell a wake-up from the 10 s ceiling on
            # a loaded CI machine (1.08 s from before the POST was seen there).
            assert delivered.at - queued_at < 2.0
        finally:
            await worker.stop()
            await automation.stop()
            await elsewhere.close()
            await serving_bus.close()
