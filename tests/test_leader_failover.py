"""Singletons across instances: two ``dbify serve`` replicas sharing a PostgreSQL
metadata store and Redis, both with the schema watch and the cron scheduler enabled.

Exactly one replica leads each singleton (``dbify_leader_*`` in ``/metrics``); a schema
change is recorded and emailed once, not once per replica; when the leader is killed
(SIGKILL) the other takes over within a few seconds and the next change is again
recorded and emailed once.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import Message
from email.parser import BytesParser
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from tests.fixtures.server import RunningServer, start_server, stop_server
from tests.fixtures.waiting import until

pytestmark = pytest.mark.timing  # a takeover within a deadline

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
OWNER = "owner@example.com"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(BytesParser().parsebytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    handler = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


async def _sql(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _leads(server: RunningServer, singleton: str) -> bool:
    try:
        text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return False
    found = re.search(rf"^dbify_leader_{singleton} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"no dbify_leader_{singleton} in /metrics"
    return float(found.group(1)) == 1.0


def test_one_leader_per_singleton_and_failover(
    make_database: Callable[..., str], inbox: tuple[_Inbox, int]
) -> None:
    handler, smtp_port = inbox
    database_url = make_database("fixture.sql")
    metadata = make_database()
    env = {
        "DBIFY_METADATA__URL": metadata,
        "DBIFY_MASTER_KEY": Fernet.generate_key().decode(),
        "DBIFY_EVENTS__BACKEND": "redis",
        "DBIFY_EVENTS__REDIS_URL": REDIS_URL,
        "DBIFY_EVENTS__CHANNEL": f"test:events:{secrets.token_hex(4)}",
        "DBIFY_ANALYTICS__ENABLED": "false",
        "DBIFY_SCHEDULER__ENABLED": "true",
        "DBIFY_SCHEMA_WATCH__ENABLED": "true",
        "DBIFY_SCHEMA_WATCH__POLL_INTERVAL_SECONDS": "0.5",
        "DBIFY_SCHEMA_WATCH__DEBOUNCE_SECONDS": "0.1",
        "DBIFY_MAIL__BACKEND": "smtp",
        "DBIFY_MAIL__SMTP_HOST": "127.0.0.1",
        "DBIFY_MAIL__SMTP_PORT": str(smtp_port),
        "DBIFY_MAIL__SMTP_SECURITY": "none",
    }
    subprocess.run(
        [sys.executable, "-m", "dbify", "users", "create-admin", "--email", OWNER],
        env={**os.environ, **env, "DBIFY_ADMIN_PASSWORD": "correct horse battery",
             "DBIFY_DATA_DIR": os.path.join(os.environ.get("TMPDIR", "/tmp"), "dbify-none")},
        check=True, capture_output=True,
    )  # fmt: skip
    servers = [start_server(database_url, env=env)]
    servers.append(start_server(database_url, env=env))
    try:
        project = servers[0].id
        anyio.run(
            _sql, metadata,
            "INSERT INTO project_members (project_id, user_id, role, created_at) "
            "SELECT $1, id, 'owner', now() FROM users WHERE email = $2", project, OWNER,
        )  # fmt: skip
        for singleton in ("schema_watch", "scheduler"):
            assert sum(_leads(s, singleton) for s in servers) == 1, singleton

        def change_once(survivors: list[RunningServer]) -> None:
            before = len(handler.messages)
            recorded = anyio.run(_sql, metadata, "SELECT count(*) FROM schema_changes")[0][0]
            column = f"c_{secrets.token_hex(3)}"
            anyio.run(_sql, database_url, f"ALTER TABLE publishers ADD COLUMN {column} text")
            path = f"/publishers?select=id,{column}&limit=1"
            for s in survivors:
                until(lambda s=s: httpx.get(f"{s.rest_url}{path}",  # type: ignore[misc]
                       headers={"apikey": s.service_key}).status_code == 200, 10)  # fmt: skip
            until(lambda: len(handler.messages) > before, 10)
            time.sleep(2.0)  # a second replica would have recorded and mailed by now
            after = anyio.run(_sql, metadata, "SELECT count(*) FROM schema_changes")[0][0]
            assert after - recorded == 1
            assert len(handler.messages) - before == 1
            assert column in handler.messages[-1].as_string()

        change_once(servers)
        leader = next(s for s in servers if _leads(s, "schema_watch"))
        survivor = next(s for s in servers if s is not leader)
        leader.process.kill()  # SIGKILL: no goodbye; PostgreSQL ends its session and lock
        took = until(lambda: _leads(survivor, "schema_watch"), 8)
        until(lambda: _leads(survivor, "scheduler"), 8)
        print(f"the standby took the schema watch over after {took:.2f} s")
        change_once([survivor])
    finally:
        for server in servers:
            stop_server(server)
