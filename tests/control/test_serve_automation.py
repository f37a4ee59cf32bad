"""A real ``dbify serve`` process (all-in-one) runs issue 10 end to end: an insert
through the data API reaches a local receiver as a signed webhook (verified with the
independent ``standardwebhooks`` library), the in-process scheduler runs a per-second
cron job, and a saved query answers at ``/p/{id}/queries/v1/{name}``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook

from tests.fixtures.receiver import open_receiver
from tests.fixtures.server import RunningServer, start_server, stop_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _admin_token(server: RunningServer) -> str:
    env = {**os.environ, "DBIFY_DATA_DIR": server.data_dir, "DBIFY_ADMIN_PASSWORD": "pw-automation"}
    subprocess.run(
        [sys.executable, "-m", "dbify", "users", "create-admin", "--email", "ops@example.com"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with httpx.Client(base_url=f"{server.base_url}/api/v1", timeout=30) as api:
        signed = api.post(
            "/auth/sign-in", json={"email": "ops@example.com", "password": "pw-automation"}
        )
        assert signed.status_code == 200, signed.text
        cookie = f"dbify_session={signed.cookies['dbify_session']}"
        headers = {"cookie": cookie, "x-csrf-token": signed.json()["csrf_token"]}
        made = api.post("/users/me/tokens", json={"name": "tests"}, headers=headers)
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        return token


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def test_serve_delivers_webhooks_runs_cron_and_saved_queries(database_url: str) -> None:
    url = database_url
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)")
    await conn.close()
    env = {
        "DBIFY_WEBHOOKS__ALLOWED_HOSTS": json.dumps(["127.0.0.1/32"]),
        "DBIFY_WEBHOOKS__POLL_SECONDS": "0.1",
        "DBIFY_SCHEDULER__TICK_SECONDS": "0.1",
    }
    async with open_receiver() as receiver:
        server = await asyncio.to_thread(start_server, url, env=env)
        try:
            token = await asyncio.to_thread(_admin_token, server)
            auth = {"authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                api = f"/api/v1/projects/{server.id}"
                response = await client.post(
                    f"{api}/webhooks",
                    json={"url": receiver.script("/hook", [200]), "events": ["row.inserted"]},
                    headers=auth,
                )
                assert response.status_code == 201, response.text
                secret = response.json()["secret"]
                key = {"apikey": server.service_key}
                response = await client.post(
                    f"/p/{server.id}/rest/v1/items", json={"name": "first"}, headers=key
                )
                assert response.status_code == 201, response.text

                (hook,) = await receiver.wait_for("/hook", within=15)
                payload: dict[str, Any] = Webhook(secret).verify(hook.body, hook.headers)
                assert payload["type"] == "row.inserted"
                assert payload["data"]["table"] == "items"
                assert hook.headers["webhook-id"].startswith("msg_")

                response = await client.post(f"{api}/cron/jobs", json={
                    "name": "tick", "schedule": "* * * * * *",
                    "action": {"kind": "sql", "sql": "INSERT INTO items (name) VALUES ('cron')"},
                }, headers=auth)  # fmt: skip
                assert response.status_code == 201, response.text
                job = response.json()["id"]
                for _ in range(100):
                    runs = (await client.get(f"{api}/cron/jobs/{job}/runs", headers=auth)).json()
                    if any(r["status"] == "succeeded" for r in runs["items"]):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(runs)
                await client.patch(f"{api}/cron/jobs/{job}", json={"enabled": False},
                                   headers=auth)  # fmt: skip

                response = await client.post(f"{api}/queries", json={
                    "name": "by-name", "sql": "select id, name from items where name = :name",
                    "parameters": [{"name": "name", "type": "text"}],
                }, headers=auth)  # fmt: skip
                assert response.status_code == 201, response.text
                response = await client.get(
                    f"/p/{server.id}/queries/v1/by-name", params={"name": "first"}, headers=key
                )
                assert response.status_code == 200, response.text
                assert response.json() == [{"id": 1, "name": "first"}]
        finally:
            await asyncio.to_thread(stop_server, server)
