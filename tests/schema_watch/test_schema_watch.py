"""Schema watch end to end, in both modes, against a real PostgreSQL and a real SMTP server.

Each DDL is applied on a separate connection; the test then polls the data API until it
serves the new schema (no restart), and checks the change log and the mail received.
Latencies (DDL commit -> API serves it) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from dbify.backends.events import MemoryEventBus
from dbify.backends.mail import SmtpMailBackend
from dbify.schema_watch import install_watcher, start_schema_watch, uninstall_watcher
from dbify.schema_watch.catalog import watcher_installed
from dbify.settings import Settings
from tests.fixtures.control import PUBLIC_URL, open_control, sign_up_and_token
from tests.schema_watch.waiting import count_is, is_true, status_is, wait_until

pytestmark = pytest.mark.anyio


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    handler = _Inbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _body(message: Message) -> tuple[str, str]:
    text = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode().replace("\r\n", "\n")  # type: ignore[union-attr]
        if part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
    return text, html


@pytest.mark.timing
@pytest.mark.parametrize("mode", ["listen", "poll"])
async def test_schema_changes_reach_api_history_and_mail(
    mode: str,
    user_database: str,
    inbox: tuple[_Inbox, int],
    tmp_path: Path,
) -> None:
    url = user_database
    ddl = await asyncpg.connect(url)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY, name text, price int)")
    if mode == "listen":
        await install_watcher(ddl)
        assert await watcher_installed(ddl)
    poll_seconds = 30.0 if mode == "listen" else 1.0
    settings = Settings(
        data_dir=tmp_path / "data",
        metadata={"url": f"sqlite:///{tmp_path / 'metadata.db'}"},
        server={"public_url": PUBLIC_URL},
        schema_watch={"poll_interval_seconds": poll_seconds, "debounce_seconds": 0.2},
    )
    handler, port = inbox
    latencies: dict[str, float] = {}
    async with open_control(settings) as control:
        token = await sign_up_and_token(control.api, "owner@example.com")
        auth = {"authorization": f"Bearer {token}"}
        response = await control.api.post(
            "/projects", json={"name": "shop", "database_url": url}, headers=auth
        )
        assert response.status_code == 201, response.text
        project_id, key = response.json()["id"], response.json()["service_key"]
        rest = f"/p/{project_id}/rest/v1"
        headers = {"apikey": key}
        bus = MemoryEventBus()
        mail = SmtpMailBackend("127.0.0.1", port, sender="dbify@test", security="none")
        watch = await start_schema_watch(control.plane, bus, mail, "https://dash.test")
        data = control.data

        async def status(path: str) -> int:
            return (await data.get(f"{rest}{path}", headers=headers)).status_code

        async def history() -> list[dict[str, Any]]:
            found = await control.api.get(f"/projects/{project_id}/schema-changes", headers=auth)
            assert found.status_code == 200, found.text
            items: list[dict[str, Any]] = found.json()["items"]
            return items

        try:
            watcher = watch.watcher(project_id)
            assert watcher is not None
            await wait_until(lambda: is_true(watcher.mode == mode))

            async def step(name: str, sql: str, path: str, expected: int) -> dict[str, Any]:
                before = len(await history())
                await ddl.execute(sql)
                # Served and recorded: a stale snapshot may already fail the right way
                # (the database rejects a dropped column), so the log entry counts too.
                started = time.monotonic()
                await wait_until(lambda: status_is(status(path), expected))
                await wait_until(lambda: count_is(history(), before + 1))
                latencies[name] = time.monotonic() - started
                return (await history())[0]

            entry = await step(
                "add column", "ALTER TABLE items ADD COLUMN sku text", "/items?select=sku", 200
            )
            assert [(c["kind"], c["subject"]) for c in entry["changes"]] == [
                ("column_added", "public.items.sku")
            ]
            assert entry["detected_by"] == mode
            assert entry["openapi_before"] != entry["openapi_after"]

            entry = await step(
                "drop column", "ALTER TABLE items DROP COLUMN name", "/items?select=name", 400
            )
            assert entry["changes"][0]["kind"] == "column_dropped"
            assert entry["breaking"] == 1

            entry = await step(
                "create table", "CREATE TABLE tags (id int PRIMARY KEY)", "/tags", 200
            )
            assert entry["changes"][0]["kind"] == "relation_added"

            entry = await step(
                "type change",
                "ALTER TABLE items ALTER COLUMN price TYPE text",
                "/items?price=like.*1*",
                200,
            )
            assert ("column_type_changed", "integer", "text") in [
                (c["kind"], c["before"], c["after"]) for c in entry["changes"]
            ]

            entry = await step(
                "create function",
                "CREATE FUNCTION hello() RETURNS text LANGUAGE sql STABLE AS $$SELECT 'hi'$$",
                "/rpc/hello",
                200,
            )
            assert entry["changes"][0]["kind"] == "function_added"

            before = len(await history())
            for i in range(50):
                await ddl.execute(f"ALTER TABLE tags ADD COLUMN c{i} int")
            latencies["50-statement migration"] = await wait_until(
                lambda: status_is(status("/tags?select=c49"), 200)
            )
            await asyncio.sleep(1.5 + (poll_seconds if mode == "poll" else 0))
            entries = await history()
            assert len(entries) == before + 1, [e["changes"][:1] for e in entries]
            assert len(entries[0]["changes"]) == 50

            await bus.drain()
            await wait_until(lambda: is_true(len(handler.messages) == 6))
        finally:
            await watch.stop()
            await bus.close()
    if mode == "listen":
        await uninstall_watcher(ddl)
        assert not await watcher_installed(ddl)
    await ddl.close()

    subjects = [m["Subject"] for m in handler.messages]
    assert all(m["To"] == "owner@example.com" for m in handler.messages)
    assert "[Dbify] Schema of shop changed: 1 change" in subjects
    assert "[Dbify] Schema of shop changed: 1 change, 1 breaking" in subjects
    assert "[Dbify] Schema of shop changed: 50 changes" in subjects
    drop_mail = handler.messages[
        subjects.index("[Dbify] Schema of shop changed: 1 change, 1 breaking")
    ]
    text, html = _body(drop_mail)
    assert "Breaking changes:\n  - column dropped: public.items.name" in text
    assert f"https://dash.test/projects/{project_id}/schema-changes" in text
    assert "<h3>Breaking changes</h3>" in html
    print(f"\n{mode} mode latency (DDL commit -> API serves it):")
    for name, seconds in latencies.items():
        print(f"  {name:24s} {seconds * 1000:7.0f} ms")
    # Issue 7's targets: < 1 s listening, < the poll interval + 1 s polling. The median is
    # held to them (one step may stall on a loaded shared machine), every step to twice.
    target = 1.0 if mode == "listen" else poll_seconds + 1.0
    assert statistics.median(latencies.values()) < target, latencies
    assert max(latencies.values()) < 2 * target, latencies
