"""Cron through the management API: validation, jobs CRUD, a per-second SQL job and a
function call with arguments run by the scheduler, run history, "run now", HTTP actions
through the SSRF policy to a real local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from dbify.control.cron.runtime import build_scheduler
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token
from tests.fixtures.receiver import open_receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _wait_runs(
    api: httpx.AsyncClient, token: str, path: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    for _ in range(200):
        items: list[dict[str, Any]] = (await api.get(path, headers=_auth(token))).json()["items"]
        if done(items):
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(items)


async def test_jobs_runs_and_run_now(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute(
        "CREATE TABLE ticks (n int, note text);"
        "CREATE FUNCTION record_tick(n int, note text DEFAULT 'none') RETURNS int"
        " LANGUAGE sql AS $$ INSERT INTO ticks VALUES (n, note) RETURNING n * 2 $$;"
    )
    await conn.close()
    settings = control_settings(
        scheduler={"tick_seconds": 0.05}, webhooks={"allowed_hosts": ["127.0.0.1/32"]}
    )
    async with open_receiver() as receiver, open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        created = await c.api.post(
            "/projects", json={"name": "p", "database_url": database_url}, headers=_auth(token)
        )
        pid = created.json()["id"]
        jobs = f"/projects/{pid}/cron/jobs"

        bad: list[dict[str, Any]] = [
            {"schedule": "every minute"},
            {"schedule": "* * * * *", "timezone": "Mars/Olympus"},
            {"schedule": "* * * * *", "action": {"kind": "sql"}},
            {"schedule": "* * * * *", "action": {"kind": "function", "function": "a;b"}},
            {"schedule": "* * * * *", "missed_policy": "sometimes"},
        ]
        for change in bad:
            body = {"name": "x", "schedule": "* * * * *",
                    "action": {"kind": "sql", "sql": "select 1"}, **change}  # fmt: skip
            response = await c.api.post(jobs, json=body, headers=_auth(token))
            assert response.status_code == 400, (change, response.text)
        refused = await c.api.post(jobs, json={
            "name": "h", "schedule": "* * * * *",
            "action": {"kind": "http", "url": "http://169.254.169.254/latest"},
        }, headers=_auth(token))  # fmt: skip
        assert refused.status_code == 400
        assert "refused" in refused.json()["message"]

        response = await c.api.post(jobs, json={
            "name": "tick", "schedule": "* * * * * *", "timezone": "Europe/Paris",
            "action": {"kind": "sql", "sql": "INSERT INTO ticks VALUES (1, 'sql')"},
            "timeout_seconds": 5,
        }, headers=_auth(token))  # fmt: skip
        assert response.status_code == 201, response.text
        tick = response.json()
        assert tick["next_run_at"] is not None
        response = await c.api.post(jobs, json={
            "name": "call", "schedule": "0 0 1 1 *", "enabled": False,
            "action": {"kind": "function", "function": "public.record_tick",
                       "arguments": {"n": 21, "note": "it's fine"}},
        }, headers=_auth(token))  # fmt: skip
        assert response.status_code == 201, response.text
        call = response.json()
        response = await c.api.post(jobs, json={
            "name": "ping", "schedule": "0 0 1 1 *",
            "action": {"kind": "http", "url": receiver.script("/cron", [200]), "body": "hi"},
        }, headers=_auth(token))  # fmt: skip
        assert response.status_code == 201, response.text
        ping = response.json()
        duplicate = await c.api.post(jobs, json={"name": "tick", "schedule": "* * * * *",
            "action": {"kind": "sql", "sql": "select 1"}}, headers=_auth(token))  # fmt: skip
        assert duplicate.status_code == 409

        scheduler = build_scheduler(c.plane)
        await scheduler.start()
        try:
            runs = await _wait_runs(c.api, token, f"{jobs}/{tick['id']}/runs",
                                    lambda items: sum(r["status"] == "succeeded" for r in items) >= 2)  # fmt: skip
            assert runs[0]["output"] == "INSERT 0 1"
            # Disable it: no more scheduled runs.
            response = await c.api.patch(f"{jobs}/{tick['id']}", json={"enabled": False},
                                         headers=_auth(token))  # fmt: skip
            assert response.json()["enabled"] is False

            # Run now, even a disabled job: a function call with typed arguments.
            queued = await c.api.post(f"{jobs}/{call['id']}/run", headers=_auth(token))
            assert queued.status_code == 202
            assert queued.json()["status"] == "queued"
            runs = await _wait_runs(c.api, token, f"{jobs}/{call['id']}/runs",
                                    lambda items: bool(items) and items[0]["status"]
                                    not in ("queued", "running"))  # fmt: skip
            assert runs[0]["status"] == "succeeded", runs[0]
            assert runs[0]["trigger"] == "manual"
            assert runs[0]["output"] == '[{"result":42}]'
            detail = await c.api.get(f"{jobs}/{call['id']}/runs/{runs[0]['id']}",
                                     headers=_auth(token))  # fmt: skip
            assert detail.json()["finished_at"] is not None

            await c.api.post(f"{jobs}/{ping['id']}/run", headers=_auth(token))
            (received,) = await receiver.wait_for("/cron")
            assert received.body == b"hi"
            runs = await _wait_runs(c.api, token, f"{jobs}/{ping['id']}/runs",
                                    lambda items: bool(items) and items[0]["status"] == "succeeded")  # fmt: skip
            assert runs[0]["output"].startswith("HTTP 200")
        finally:
            await scheduler.stop()
            await scheduler.drain()

        conn = await asyncpg.connect(database_url)
        assert await conn.fetchval("SELECT note FROM ticks WHERE n = 21") == "it's fine"
        await conn.close()
        listed = (await c.api.get(jobs, headers=_auth(token))).json()
        assert [j["name"] for j in listed] == ["call", "ping", "tick"]
        assert (await c.api.delete(f"{jobs}/{tick['id']}", headers=_auth(token))).status_code == 204
        assert (await c.api.get(f"{jobs}/{tick['id']}", headers=_auth(token))).status_code == 404
