"""Issue 7's reactions: a stale-schema error triggers a re-check at once; the watcher is
installed/removed through the management API (roles checked) and switches mode at once;
emails go to owners unless opted out and to subscribed members, through the mail worker;
a real DDL reaches a webhook endpoint as a signed ``schema.changed`` (the event bus).

Real PostgreSQL (the watcher's own connection) and a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import asyncio
import functools
import io
import socket
import time
from collections.abc import Awaitable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from standardwebhooks import Webhook

from dbify.app import DbifyApp
from dbify.backends.events import MemoryEventBus
from dbify.backends.mail import ConsoleMailBackend, SmtpMailBackend
from dbify.control.webhooks.runtime import start_webhooks
from dbify.schema_watch import start_schema_watch, uninstall_watcher
from dbify.settings import Settings, WebhookSettings
from tests.fixtures.control import PUBLIC_URL, open_control, sign_up_and_token
from tests.fixtures.receiver import open_receiver
from tests.schema_watch.waiting import is_true
from tests.schema_watch.waiting import wait_until as _wait_until

# Reactions here are expected faster than a poll cycle: a tighter default deadline.
wait_until = functools.partial(_wait_until, limit=10.0)

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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _settings(tmp_path: Path, poll_seconds: float) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        metadata={"url": f"sqlite:///{tmp_path / 'metadata.db'}"},
        server={"public_url": PUBLIC_URL},
        schema_watch={"poll_interval_seconds": poll_seconds, "debounce_seconds": 0.2},
    )


async def test_stale_schema_error_triggers_an_immediate_recheck(
    user_database: str, tmp_path: Path
) -> None:
    ddl = await asyncpg.connect(user_database)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY)")
    async with open_control(_settings(tmp_path, poll_seconds=60.0)) as control:
        token = await sign_up_and_token(control.api, "owner@example.com")
        auth = {"authorization": f"Bearer {token}"}
        created = await control.api.post(
            "/projects", json={"name": "shop", "database_url": user_database}, headers=auth
        )
        project_id, key = created.json()["id"], created.json()["service_key"]
        bus = MemoryEventBus()
        watch = await start_schema_watch(
            control.plane, bus, ConsoleMailBackend(io.StringIO()), "https://dash.test"
        )
        assert control.plane.directory is not None
        app = DbifyApp(control.plane.directory, public_url=PUBLIC_URL, max_body_bytes=1 << 20)
        app.on_stale_schema = watch.recheck
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as data:
                watcher = watch.watcher(project_id)
                assert watcher is not None
                await wait_until(lambda: is_true(watcher.mode == "poll"))
                await asyncio.sleep(1.0)  # the look after connecting is over
                path = f"/p/{project_id}/rest/v1/items?select=sku"

                async def status() -> int:
                    return (await data.get(path, headers={"apikey": key})).status_code

                # A name that exists nowhere: re-checked, nothing changes, still 400.
                bad = await data.get(
                    f"/p/{project_id}/rest/v1/items?select=nope", headers={"apikey": key}
                )
                assert bad.status_code == 400
                assert bad.json()["code"] == "42703"

                await ddl.execute("ALTER TABLE items ADD COLUMN sku text")
                first = await data.get(path, headers={"apikey": key})
                assert first.status_code == 400, first.text  # the stale snapshot
                assert first.json()["code"] == "42703"
                seconds = await wait_until(lambda: _equal(status(), 200), limit=2.0)
                print(f"\nstale request -> API serves the new column: {seconds * 1000:.0f} ms")

                log = await control.api.get(f"/projects/{project_id}/schema-changes", headers=auth)
                items = log.json()["items"]
                assert [i["detected_by"] for i in items] == ["recheck"]
                assert items[0]["changes"][0]["subject"] == "public.items.sku"
        finally:
            await watch.stop()
            await bus.close()
    await ddl.close()


async def test_watcher_installed_through_the_api_and_uninstall_switches_to_poll(
    user_database: str, tmp_path: Path
) -> None:
    ddl = await asyncpg.connect(user_database)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY)")
    async with open_control(_settings(tmp_path, poll_seconds=60.0)) as control:
        owner = {"authorization": f"Bearer {await sign_up_and_token(control.api, 'o@x.io')}"}
        viewer = {"authorization": f"Bearer {await sign_up_and_token(control.api, 'v@x.io')}"}
        created = await control.api.post(
            "/projects", json={"name": "shop", "database_url": user_database}, headers=owner
        )
        project_id = created.json()["id"]
        added = await control.api.put(
            f"/projects/{project_id}/members",
            json={"email": "v@x.io", "role": "viewer"},
            headers=owner,
        )
        assert added.status_code == 200, added.text
        watcher_url = f"/projects/{project_id}/schema-watcher"
        bus = MemoryEventBus()
        watch = await start_schema_watch(
            control.plane, bus, ConsoleMailBackend(io.StringIO()), "https://dash.test"
        )
        try:
            watcher = watch.watcher(project_id)
            assert watcher is not None
            await wait_until(lambda: is_true(watcher.mode == "poll"))

            refused = await control.api.post(watcher_url, headers=viewer)
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "DBIFY602"
            assert "admin role" in refused.json()["message"]
            seen = await control.api.get(watcher_url, headers=viewer)
            assert seen.status_code == 200
            assert seen.json()["installed"] is False

            installed = await control.api.post(watcher_url, headers=owner)
            assert installed.status_code == 200, installed.text
            body = installed.json()
            assert body["installed"] is True
            assert body["watcher"]["mode"] == "listen"
            status = (await control.api.get(f"/projects/{project_id}/status", headers=owner)).json()
            assert status["schema_watcher"] == {"running": True, "mode": "listen", "last_error": ""}

            # Listening: a DDL is served well before the 60 s poll.
            await ddl.execute("ALTER TABLE items ADD COLUMN sku text")
            project = control.plane.directory.get(project_id)  # type: ignore[union-attr]
            assert project is not None
            await wait_until(
                lambda: is_true(any(c.name == "sku" for c in _columns(project, "items"))),
                limit=3.0,
            )

            # Removed from elsewhere (the CLI, another instance): the watcher hears it.
            started = time.monotonic()
            await uninstall_watcher(ddl)
            await wait_until(lambda: is_true(watcher.mode == "poll"), limit=2.0)
            print(f"\nuninstall -> poll mode: {(time.monotonic() - started) * 1000:.0f} ms")

            again = await control.api.post(watcher_url, headers=owner)
            assert again.json()["watcher"]["mode"] == "listen"
            removed = await control.api.delete(watcher_url, headers=owner)
            assert removed.status_code == 200, removed.text
            assert removed.json()["installed"] is False
            assert removed.json()["watcher"]["mode"] == "poll"
            listening = await ddl.fetchval(
                "SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'dbify_%'"
            )
            assert listening == 0
        finally:
            await watch.stop()
            await bus.close()
    await ddl.close()


async def test_mail_goes_to_owners_unless_opted_out_and_to_subscribers(
    user_database: str, tmp_path: Path, inbox: tuple[_Inbox, int]
) -> None:
    handler, port = inbox
    ddl = await asyncpg.connect(user_database)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY)")
    async with open_control(_settings(tmp_path, poll_seconds=0.5)) as control:
        tokens = {
            name: {"authorization": f"Bearer {await sign_up_and_token(control.api, name)}"}
            for name in ("owner@x.io", "admin@x.io", "viewer@x.io", "quiet@x.io")
        }
        owner = tokens["owner@x.io"]
        created = await control.api.post(
            "/projects", json={"name": "shop", "database_url": user_database}, headers=owner
        )
        project_id = created.json()["id"]
        for email, role in (("admin@x.io", "admin"), ("viewer@x.io", "viewer"),
                            ("quiet@x.io", "viewer")):  # fmt: skip
            await control.api.put(
                f"/projects/{project_id}/members",
                json={"email": email, "role": role},
                headers=owner,
            )
        default = await control.api.get("/users/me/notifications", headers=owner)
        assert default.json()["schema_changes"] == "owned"
        opted_out = await control.api.put(
            "/users/me/notifications", json={"schema_changes": "none"}, headers=owner
        )
        assert opted_out.status_code == 200, opted_out.text
        await control.api.put(
            "/users/me/notifications", json={"schema_changes": "all"},
            headers=tokens["viewer@x.io"],
        )  # fmt: skip
        invalid = await control.api.put(
            "/users/me/notifications", json={"schema_changes": "sometimes"}, headers=owner
        )
        assert invalid.status_code in (400, 422)
        assert (await control.api.get("/users/me/notifications", headers=owner)).json()[
            "schema_changes"
        ] == "none"

        bus = MemoryEventBus()
        mail = SmtpMailBackend("127.0.0.1", port, sender="dbify@test", security="none")
        watch = await start_schema_watch(control.plane, bus, mail, "https://dash.test")
        try:
            watcher = watch.watcher(project_id)
            assert watcher is not None
            await wait_until(lambda: is_true(watcher.mode == "poll"))
            await ddl.execute("ALTER TABLE items ADD COLUMN sku text")
            await wait_until(lambda: is_true(len(handler.messages) == 1))
            await asyncio.sleep(0.5)
        finally:
            await watch.stop()
            await bus.close()
    await ddl.close()
    assert [m["To"] for m in handler.messages] == ["viewer@x.io"]
    assert handler.messages[0]["Subject"] == "[Dbify] Schema of shop changed: 1 change"


def _columns(project: Any, table: str) -> list[Any]:
    for relation in project.snapshot.relations.values():
        if relation.name.name == table:
            return list(relation.columns)
    return []


async def _equal(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_real_schema_change_reaches_a_webhook_through_the_event_bus(
    user_database: str, tmp_path: Path
) -> None:
    ddl = await asyncpg.connect(user_database)
    await ddl.execute("CREATE TABLE items (id int PRIMARY KEY)")
    settings = _settings(tmp_path, poll_seconds=0.5).model_copy(
        update={"webhooks": WebhookSettings(allowed_hosts=("127.0.0.1/32",), poll_seconds=0.05)}
    )
    async with open_receiver() as receiver, open_control(settings) as control:
        owner = {"authorization": f"Bearer {await sign_up_and_token(control.api, 'o@x.io')}"}
        created = await control.api.post(
            "/projects", json={"name": "shop", "database_url": user_database}, headers=owner
        )
        project_id = created.json()["id"]
        hook = await control.api.post(
            f"/projects/{project_id}/webhooks",
            json={"url": receiver.script("/hook", [200]), "events": ["schema.changed"]},
            headers=owner,
        )
        assert hook.status_code == 201, hook.text
        bus = MemoryEventBus()
        webhooks = await start_webhooks(control.plane, bus, run_worker=True)
        watch = await start_schema_watch(
            control.plane, bus, ConsoleMailBackend(io.StringIO()), "https://dash.test"
        )
        try:
            watcher = watch.watcher(project_id)
            assert watcher is not None
            await wait_until(lambda: is_true(watcher.mode == "poll"))
            await ddl.execute("ALTER TABLE items ADD COLUMN sku text")
            (received,) = await receiver.wait_for("/hook", within=10)
        finally:
            await watch.stop()
            await webhooks.stop()
            await bus.close()
    await ddl.close()
    message = Webhook(hook.json()["secret"]).verify(received.body, received.headers)
    assert message["type"] == "schema.changed"
    assert message["data"]["project_id"] == project_id
    assert [c["subject"] for c in message["data"]["changes"]] == ["public.items.sku"]
