"""The schema watcher of a project reached through PgBouncer (transaction mode).

LISTEN does not survive transaction pooling (the session that ran it goes back to the
pool), so a project with ``pgbouncer: true`` listens over its ``direct_address`` and,
without one, polls through PgBouncer. Both run against Debian's PgBouncer 1.18
(``tests/fixtures/pgbouncer.py``) in front of the test server, with the event triggers
installed through the management API:

- with ``direct_address``: the watcher's session (``application_name``
  ``dbify-schema-watch``) is a PostgreSQL backend that is none of PgBouncer's server
  connections and no PgBouncer client, and a DDL is served by the data API in under a
  second while the poll interval is 30 s (so only a notification can explain it);
- without it: the API reports ``poll`` although the triggers are installed, the
  watcher's session is a PgBouncer client, and a DDL is picked up by the poller.
"""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from dbify.backends.events import MemoryEventBus
from dbify.backends.mail import ConsoleMailBackend
from dbify.schema_watch import start_schema_watch
from dbify.schema_watch.watcher import APPLICATION_NAME
from dbify.settings import Settings
from tests.fixtures.control import PUBLIC_URL, open_control, sign_up_and_token
from tests.fixtures.database import server_url
from tests.fixtures.pgbouncer import RunningPgBouncer
from tests.schema_watch.waiting import count_is, status_is, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timing]


@dataclass
class WatchedProject:
    id: str
    api: httpx.AsyncClient
    data: httpx.AsyncClient
    auth: dict[str, str]
    rest: str
    key: str

    async def status(self, path: str) -> int:
        found = await self.data.get(f"{self.rest}{path}", headers={"apikey": self.key})
        return found.status_code

    async def history(self) -> list[dict[str, Any]]:
        found = await self.api.get(f"/projects/{self.id}/schema-changes", headers=self.auth)
        assert found.status_code == 200, found.text
        items: list[dict[str, Any]] = found.json()["items"]
        return items


@asynccontextmanager
async def _watched_project(
    tmp_path: Path, database_url: str, config: dict[str, Any], poll_seconds: float
) -> AsyncIterator[WatchedProject]:
    """A control plane with one project on ``database_url`` and the schema watch running."""
    settings = Settings(
        data_dir=tmp_path / "data",
        metadata={"url": f"sqlite:///{tmp_path / 'metadata.db'}"},
        server={"public_url": PUBLIC_URL},
        schema_watch={"poll_interval_seconds": poll_seconds, "debounce_seconds": 0.2},
    )
    async with open_control(settings) as control:
        token = await sign_up_and_token(control.api, "owner@example.com")
        auth = {"authorization": f"Bearer {token}"}
        made = await control.api.post(
            "/projects",
            json={"name": "shop", "database_url": database_url, "config": config},
            headers=auth,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        bus = MemoryEventBus()
        watch = await start_schema_watch(
            control.plane, bus, ConsoleMailBackend(io.StringIO()), PUBLIC_URL
        )
        try:
            yield WatchedProject(
                body["id"],
                control.api,
                control.data,
                auth,
                f"/p/{body['id']}/rest/v1",
                body["service_key"],
            )
        finally:
            await watch.stop()
            await bus.close()


def _admin(bouncer: RunningPgBouncer, command: str) -> list[dict[str, str]]:
    """Rows of a PgBouncer admin command (its console speaks only the simple query
    protocol, so ``psql``)."""
    out = subprocess.run(
        ["psql", "--csv", bouncer.admin_url, "-c", command],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return list(csv.DictReader(io.StringIO(out)))


async def _watcher_backends(database_url: str) -> list[asyncpg.Record]:
    """The watcher's sessions on the PostgreSQL server, seen from a direct connection."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT pid, client_addr::text AS client, query FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
    finally:
        await conn.close()


async def _install(project: WatchedProject) -> dict[str, Any]:
    installed = await project.api.post(
        f"/projects/{project.id}/schema-watcher", headers=project.auth
    )
    assert installed.status_code == 200, installed.text
    body: dict[str, Any] = installed.json()
    assert body["installed"] is True
    return body


async def _watcher_state(project: WatchedProject) -> dict[str, Any]:
    found = await project.api.get(f"/projects/{project.id}/schema-watcher", headers=project.auth)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def test_direct_address_keeps_listen_off_pgbouncer(
    user_database: str, pgbouncer: RunningPgBouncer, tmp_path: Path
) -> None:
    url = user_database
    upstream = urlsplit(server_url())
    direct = f"{upstream.hostname or '127.0.0.1'}:{upstream.port or 5432}"
    ddl = await asyncpg.connect(url)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    config = {"pgbouncer": True, "direct_address": direct}
    try:
        # 30 s between polls: a change served within a second came from a notification.
        async with _watched_project(tmp_path, pgbouncer.url_for(url), config, 30.0) as project:
            # The data plane really goes through PgBouncer.
            assert await project.status("/items") == 200
            assert any(
                c["database"] == url.rpartition("/")[2] for c in _admin(pgbouncer, "SHOW CLIENTS")
            )

            body = await _install(project)
            assert body["watcher"]["mode"] == "listen", body
            # Installing creates the trigger function in public, which moves the catalog
            # fingerprint: the watcher re-reads it until it holds still (debounce), and a
            # DDL in that window would be folded into that look (labelled "poll").
            await asyncio.sleep(1.0)

            backends = await _watcher_backends(url)
            assert len(backends) == 1, backends
            watcher_pid = backends[0]["pid"]
            bouncer_pids = {int(s["remote_pid"]) for s in _admin(pgbouncer, "SHOW SERVERS")}
            assert watcher_pid not in bouncer_pids, (watcher_pid, bouncer_pids)
            clients = _admin(pgbouncer, "SHOW CLIENTS")
            assert APPLICATION_NAME not in {c["application_name"] for c in clients}, clients

            before = len(await project.history())
            await ddl.execute("ALTER TABLE items ADD COLUMN sku text")
            served = await wait_until(lambda: status_is(project.status("/items?select=sku"), 200))
            assert served < 1.0, served
            await wait_until(lambda: count_is(project.history(), before + 1))
            entry = (await project.history())[0]
            assert entry["detected_by"] == "listen", await project.history()
            assert [(c["kind"], c["subject"]) for c in entry["changes"]] == [
                ("column_added", "public.items.sku")
            ]
            # Still the same direct session: the watcher did not reconnect to catch up.
            assert [b["pid"] for b in await _watcher_backends(url)] == [watcher_pid]
    finally:
        await ddl.close()


async def test_without_direct_address_the_watcher_polls_through_pgbouncer(
    user_database: str, pgbouncer: RunningPgBouncer, tmp_path: Path
) -> None:
    url = user_database
    ddl = await asyncpg.connect(url)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
    try:
        async with _watched_project(
            tmp_path, pgbouncer.url_for(url), {"pgbouncer": True}, 1.0
        ) as project:
            # The triggers are installed, but a LISTEN through PgBouncer would be lost.
            body = await _install(project)
            assert body["watcher"]["mode"] == "poll", body
            state = await _watcher_state(project)
            assert state["installed"] is True
            assert state["watcher"]["mode"] == "poll"
            clients = _admin(pgbouncer, "SHOW CLIENTS")
            assert APPLICATION_NAME in {c["application_name"] for c in clients}, clients

            before = len(await project.history())
            await ddl.execute("ALTER TABLE items ADD COLUMN sku text")
            served = await wait_until(lambda: status_is(project.status("/items?select=sku"), 200))
            assert served < 1.0 + 1.0, served  # poll interval + 1 s
            await wait_until(lambda: count_is(project.history(), before + 1))
            assert (await project.history())[0]["detected_by"] == "poll"
    finally:
        await ddl.close()
