"""Per-project log retention end to end: the API setting, the metadata store, the job.

The store-level behaviour on chDB and ClickHouse 18.16 is in the analytics store contract
(``tests/contracts/test_analytics_store.py``); here a project's ``log_retention_days`` is
set through the management API, checked against the instance's limit, and read back by
the job the request-log worker runs, which then deletes from a real chDB store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time
from pathlib import Path

import anyio
import pytest

from dbify.analytics.event import RequestLog
from dbify.backends.analytics.base import literal
from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.backends.queue.memory import MemoryQueue
from dbify.settings import Settings
from dbify.workers.request_log import RequestLogWorker, build_request_log_worker
from dbify.workers.request_log_retention import RequestLogRetention, build_request_log_retention
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


def _aged(i: int, days_ago: int, project: str) -> RequestLog:
    # Today when the event is made, not when the module was imported: a suite collected
    # before midnight (UTC) and run after it dated every event a day too early.
    today = datetime.now(UTC).date()
    midnight = int(datetime.combine(today, time(), UTC).timestamp()) - days_ago * 86_400
    return RequestLog(
        event_id=f"e{i}", timestamp_us=(midnight + 3_600) * 1_000_000, project_id=project,
        request_id=f"r{i}", method="GET", path="/t", target="t", query_shape="", status=200,
        error_code="", duration_us=1, db_us=0, rows=1, response_bytes=1, key_id="k",
        role="anon", client_ip="", user_agent="",
    )  # fmt: skip


async def test_log_retention_days_is_checked_stored_and_enforced(
    control_settings: Callable[..., Settings], fixture_database_url: str, tmp_path: Path
) -> None:
    settings = control_settings(analytics={"retention_days": 7})
    async with open_control(settings) as c:
        auth = {"authorization": f"Bearer {await sign_up_and_token(c.api)}"}
        created = await c.api.post(
            "/projects", json={"name": "a", "database_url": fixture_database_url}, headers=auth
        )
        project = created.json()["id"]
        other = (
            await c.api.post(
                "/projects", json={"name": "b", "database_url": fixture_database_url}, headers=auth
            )
        ).json()["id"]

        too_long = await c.api.patch(
            f"/projects/{project}", json={"log_retention_days": 8}, headers=auth
        )
        assert too_long.status_code == 400, too_long.text
        assert too_long.json()["code"] == "DBIFY600"
        assert "at most 7" in too_long.json()["message"]
        zero = await c.api.patch(
            f"/projects/{project}", json={"log_retention_days": 0}, headers=auth
        )
        assert zero.status_code == 400
        refused = await c.api.post(
            "/projects",
            json={"name": "c", "database_url": fixture_database_url,
                  "config": {"log_retention_days": 30}},
            headers=auth,
        )  # fmt: skip
        assert refused.status_code == 400, refused.text

        kept = await c.api.patch(
            f"/projects/{project}", json={"log_retention_days": 2}, headers=auth
        )
        assert kept.status_code == 200, kept.text
        assert kept.json()["config"]["log_retention_days"] == 2

        store = ChdbStore(tmp_path / "chdb", retention_days=7)
        try:
            await store.insert(
                [_aged(d, d, project) for d in range(5)]
                + [_aged(10 + d, d, other) for d in range(5)]
            )
            job = build_request_log_retention(settings, store, c.plane.store.engine)
            assert (job.instance_days, job.interval_seconds) == (7, 3600.0)
            done = await job.run_once()
            assert done.expired_rows == {project: 2}
            for _ in range(100):  # the delete is a background mutation
                counts = dict(
                    await store.select(
                        "SELECT project_id, count() FROM {db}.request_log GROUP BY project_id"
                    )
                )
                if counts.get(project) == 3:
                    break
                await asyncio.sleep(0.1)
            assert counts == {project: 3, other: 5}

            cleared = await c.api.patch(
                f"/projects/{project}", json={"log_retention_days": None}, headers=auth
            )
            assert cleared.json()["config"]["log_retention_days"] is None
            assert (await job.run_once()).expired_rows == {}
        finally:
            await store.close()


async def test_the_job_survives_failures_and_stops_with_the_worker(tmp_path: Path) -> None:
    """A metadata store that cannot be read is logged and retried; request logging goes on."""
    calls = 0

    async def unreachable() -> dict[str, int]:
        nonlocal calls
        calls += 1
        raise OSError("metadata store unreachable")

    store = ChdbStore(tmp_path / "chdb", retention_days=7)
    queue = MemoryQueue()
    worker = RequestLogWorker(queue, store, flush_seconds=0.05)
    job = RequestLogRetention(store, unreachable, instance_days=7, interval_seconds=0.05)
    await worker.keep_retention(job)  # before start: started with the worker
    await worker.start()
    try:
        for _ in range(100):
            if calls >= 2:
                break
            await asyncio.sleep(0.05)
        assert calls >= 2
        assert "unreachable" in job.last_error
        assert job._task is not None
        assert not job._task.done()
        await store.insert([_aged(1, 0, "p")])
        rows = await store.select("SELECT count() FROM {db}.request_log")
        assert rows == [(1,)]
    finally:
        await worker.stop()
        assert job._task is None
        await store.close()


async def test_dbify_worker_request_log_runs_the_job(
    control_settings: Callable[..., Settings],
) -> None:
    """Scale-out: the worker ``dbify worker request-log`` builds owns the retention job."""
    settings = control_settings(
        analytics={"queue": "redis", "queue_url": "redis://127.0.0.1:6379/15",
                   "retention_days": 9, "retention_interval_seconds": 60},
    )  # fmt: skip
    async with open_control(settings) as c:
        worker = await build_request_log_worker(settings, c.plane)
        try:
            assert worker.retention is not None
            assert worker.retention.store is worker.store
            assert (worker.retention.instance_days, worker.retention.interval_seconds) == (9, 60)
            assert (await worker.retention.run_once()).expired_rows == {}
        finally:
            await worker.stop()


async def test_all_in_one_request_logging_runs_the_job(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    """``start_request_logging`` (what ``dbify serve`` runs) gives its in-process worker
    the job: a project's old events leave the chDB child's store by themselves."""
    settings = control_settings(analytics={"retention_days": 7, "retention_interval_seconds": 0.2})
    async with open_control(settings, request_logging=True) as c:
        assert c.request_logging is not None
        assert c.request_logging.store is not None
        auth = {"authorization": f"Bearer {await sign_up_and_token(c.api)}"}
        project = (
            await c.api.post(
                "/projects", json={"name": "a", "database_url": fixture_database_url}, headers=auth
            )
        ).json()["id"]
        await c.request_logging.store.insert([_aged(d, d, project) for d in range(5)])
        kept = await c.api.patch(
            f"/projects/{project}", json={"log_retention_days": 1}, headers=auth
        )
        assert kept.status_code == 200, kept.text
        sql = "SELECT count() FROM {db}.request_log WHERE project_id = " + literal(project)
        counts: list[tuple[int, ...]] = []
        with anyio.fail_after(30):
            for _ in range(150):  # rounds every 0.2 s; the delete is a background mutation
                counts = await c.request_logging.store.select(sql)
                if counts == [(2,)]:  # today and yesterday
                    break
                await asyncio.sleep(0.2)
        assert counts == [(2,)]
