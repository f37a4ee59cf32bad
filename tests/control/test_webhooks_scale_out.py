"""Webhooks across several ``serve`` processes sharing a Redis event bus: an endpoint
created through one instance's API is fanned out by every instance at once (the
``cache.webhooks`` announcement), and a schema change is queued once, by the instance
whose schema watch saw it, not once per instance.

Two dispatchers with their own ``RedisEventBus`` on one channel stand in for two
processes (each has its own origin, so each hears the other only through Redis)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from dbify.backends.events import Event
from dbify.backends.events.redis_pubsub import RedisEventBus
from dbify.control.outbound import OutboundPolicy
from dbify.control.webhooks.dispatch import WebhookDispatcher
from dbify.control.webhooks.service import WebhookService
from dbify.control.webhooks.store import WebhookStore
from dbify.dataplane.changes import RowChange
from dbify.metadata.tables import webhook_deliveries
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def _event_types(c: Any) -> list[str]:
    async with c.plane.store.engine.connect() as conn:
        rows = await conn.execute(sa.select(webhook_deliveries.c.event_type))
        return sorted(r[0] for r in rows)


async def test_endpoint_changes_reach_every_instance_and_schema_events_are_sent_once(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = control_settings(webhooks={"allowed_hosts": ["127.0.0.1/32"]})
    async with open_control(settings) as c:
        conn = await asyncpg.connect(database_url)
        await conn.execute("CREATE TABLE items (id serial PRIMARY KEY)")
        await conn.close()
        token = await sign_up_and_token(c.api)
        auth = {"authorization": f"Bearer {token}"}
        response = await c.api.post(
            "/projects", json={"name": "p", "database_url": database_url}, headers=auth
        )
        pid = response.json()["id"]
        channel = f"test:{os.urandom(4).hex()}"
        buses = [RedisEventBus(REDIS_URL, channel=channel) for _ in range(2)]
        dispatchers: list[WebhookDispatcher] = []
        for bus in buses:
            await bus.start()
            assert bus.connected
            store = WebhookStore(c.plane.store.engine)
            service = WebhookService(store, c.plane.projects, c.plane.box, OutboundPolicy(
                ["127.0.0.1/32"]))  # fmt: skip
            dispatcher = WebhookDispatcher(service)
            await dispatcher.start(bus)
            dispatchers.append(dispatcher)
        here, there = dispatchers
        try:
            # Created through instance A's API (whose route then calls A's refresh).
            c.api._transport.app.state.webhook_endpoints_changed = here.refresh  # type: ignore[attr-defined]
            response = await c.api.post(
                f"/projects/{pid}/webhooks",
                json={"url": "http://127.0.0.1:9/hook", "events": ["row.inserted",
                      "schema.changed"]},
                headers=auth,
            )  # fmt: skip
            assert response.status_code == 201, response.text
            # Instance B fans out a write it serves within a second, with no reload due.
            change = RowChange(project_id=pid, schema="public", table="items",
                               operation="insert", affected=1, rows_json=b'[{"id": 1}]',
                               payload_json=None, keys=((("1",),)))  # fmt: skip
            deadline = asyncio.get_running_loop().time() + 1.0
            while pid not in there._projects:
                assert asyncio.get_running_loop().time() < deadline, "B never heard"
                await asyncio.sleep(0.02)
            there.row_changed(change)
            await there.drain()
            assert await _event_types(c) == ["row.inserted"]

            # The schema watch (on the leader, instance A) publishes schema.changed on
            # its bus: a local event, so A's dispatcher queues it and B's does not.
            await buses[0].publish(Event("schema.changed", {"project_id": pid, "changes": []}))
            await asyncio.sleep(0.5)  # time enough for Redis to (not) carry it to B
            await buses[0].drain()
            await buses[1].drain()
            assert await _event_types(c) == ["row.inserted", "schema.changed"]
        finally:
            for dispatcher in dispatchers:
                await dispatcher.stop()
            for bus in buses:
                await bus.close()
