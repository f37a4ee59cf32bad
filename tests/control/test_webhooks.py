"""Webhooks end to end: data API writes → queued messages → signed POSTs to a real local
receiver (verified with the independent ``standardwebhooks`` library), isolation of a
slow endpoint, retries, dead-lettering, redelivery, ping, schema events and SSRF."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from dbify.app import DbifyApp
from dbify.backends.events import Event, MemoryEventBus
from dbify.control.outbound import OutboundPolicy, TargetRefused
from dbify.control.webhooks.runtime import start_webhooks
from dbify.settings import Settings
from tests.fixtures.control import PUBLIC_URL, open_control, sign_up_and_token
from tests.fixtures.receiver import open_receiver

pytestmark = pytest.mark.anyio

_FAST = {
    "allowed_hosts": ["127.0.0.1/32"],
    "backoff_initial_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "retry_window_seconds": 1.5,
    "poll_seconds": 0.05,
    # Long enough that a quick receiver never times out on a loaded CI machine, well
    # below the slow endpoint's 3 s.
    "timeout_seconds": 1.0,
}


async def _project(api: httpx.AsyncClient, token: str, url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)")
    await conn.close()
    response = await api.post(
        "/projects", json={"name": "p", "database_url": url}, headers=_auth(token)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    return make_database()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _wait_status(
    api: httpx.AsyncClient, token: str, path: str, status: str, within: float = 10.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        page = (await api.get(path, headers=_auth(token))).json()
        found = [d for d in page["items"] if d["status"] == status]
        if found:
            detail = await api.get(f"{path}/{found[0]['id']}", headers=_auth(token))
            body: dict[str, Any] = detail.json()
            return body
        assert asyncio.get_running_loop().time() < deadline, page
        await asyncio.sleep(0.05)


@pytest.mark.timing
async def test_row_events_are_signed_retried_isolated_and_dead_lettered(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = control_settings(webhooks=_FAST)
    async with open_receiver() as receiver, open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c.api, token, database_url)
        pid = project["id"]
        hooks = f"/projects/{pid}/webhooks"
        endpoints = {}
        for name, statuses, delay in (
            ("ok", [200], 0.0),
            ("slow", [200], 3.0),
            ("flaky", [500, 503, 200], 0.0),
            ("down", [500], 0.0),
        ):
            url = receiver.script(f"/{name}", statuses, delay)
            body = {"url": url, "events": ["row.inserted", "row.updated"], "tables": ["items"]}
            response = await c.api.post(hooks, json=body, headers=_auth(token))
            assert response.status_code == 201, response.text
            endpoints[name] = response.json()
        assert endpoints["ok"]["secret"].startswith("whsec_")
        listed = (await c.api.get(hooks, headers=_auth(token))).json()
        assert "secret" not in listed[0]
        assert len(listed) == 4

        bus = MemoryEventBus()
        webhooks = await start_webhooks(c.plane, bus, run_worker=True)
        assert c.plane.directory is not None
        data = DbifyApp(c.plane.directory, public_url=PUBLIC_URL, max_body_bytes=1 << 20)
        data.changes = webhooks.dispatcher
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=data), base_url=PUBLIC_URL
            ) as client:
                key = {"apikey": project["service_key"], "prefer": "return=representation"}
                response = await client.post(
                    f"/p/{pid}/rest/v1/items", json={"name": "first"}, headers=key
                )
                assert response.status_code == 201, response.text
                started = asyncio.get_running_loop().time()

                # The slow endpoint (3 s, beyond the 1 s timeout) holds nothing up.
                (ok,) = await receiver.wait_for("/ok", within=5)
                assert ok.at - started < 1.5
                message = Webhook(endpoints["ok"]["secret"]).verify(ok.body, ok.headers)
                assert message["type"] == "row.inserted"
                assert message["data"]["table"] == "items"
                assert message["data"]["record"] == {"id": 1, "name": "first"}
                with pytest.raises(Exception):  # noqa: B017, PT011 - any verification failure
                    Webhook(endpoints["flaky"]["secret"]).verify(ok.body, ok.headers)

                # Retries: two failures then success, one webhook-id throughout.
                flaky = await receiver.wait_for("/flaky", 3, within=5)
                assert len({r.headers["webhook-id"] for r in flaky}) == 1
                detail = await _wait_status(
                    c.api, token, f"{hooks}/{endpoints['flaky']['id']}/deliveries", "succeeded"
                )
                assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503, 200]
                assert detail["attempt_log"][0]["response_excerpt"] == "status 500 for /flaky"
                assert detail["attempt_log"][0]["duration_ms"] > 0

                # Dead-lettered after the retry window; redelivery tries once more.
                down = f"{hooks}/{endpoints['down']['id']}/deliveries"
                dead = await _wait_status(c.api, token, down, "dead", within=6)
                assert dead["attempts"] >= 2
                assert dead["last_error"] == "HTTP 500"
                before = len(receiver.at("/down"))
                receiver.script("/down", [200])
                again = await c.api.post(f"{down}/{dead['id']}/redeliver", headers=_auth(token))
                assert again.status_code == 202, again.text
                await receiver.wait_for("/down", before + 1)
                await _wait_status(c.api, token, down, "succeeded")

                slow = await _wait_status(
                    c.api, token, f"{hooks}/{endpoints['slow']['id']}/deliveries", "pending", 2
                )
                assert "timed out" in (slow["last_error"] or "") or slow["attempts"] == 0

                # Filters: another table and a deleted event do not reach these endpoints.
                await client.delete(f"/p/{pid}/rest/v1/items?id=eq.1", headers=key)
                await webhooks.dispatcher.drain()
                assert len(receiver.at("/ok")) == 1

            # Ping, and schema changes from the event bus.
            ping = await c.api.post(f"{hooks}/{endpoints['ok']['id']}/test", headers=_auth(token))
            assert ping.status_code == 202, ping.text
            (_, pinged) = await receiver.wait_for("/ok", 2)
            assert orjson.loads(pinged.body)["type"] == "webhook.ping"
            await c.api.patch(
                f"{hooks}/{endpoints['ok']['id']}",
                json={"events": ["schema.changed"]},
                headers=_auth(token),
            )
            await bus.publish(Event("schema.changed", {"project_id": pid, "breaking": 0}))
            await bus.drain()
            (*_, changed) = await receiver.wait_for("/ok", 3)
            assert (
                Webhook(endpoints["ok"]["secret"]).verify(changed.body, changed.headers)["type"]
                == "schema.changed"
            )
        finally:
            await webhooks.stop()


async def test_internal_targets_are_refused_without_the_allow_list(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    async with open_control(control_settings()) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c.api, token, database_url)
        for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]/x", "ftp://a.b/"):
            response = await c.api.post(
                f"/projects/{project['id']}/webhooks", json={"url": url}, headers=_auth(token)
            )
            assert response.status_code == 400, (url, response.text)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest",
        "http://192.168.1.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://localhost/",
    ],
)
async def test_policy_refuses_internal_addresses(url: str) -> None:
    with pytest.raises(TargetRefused):
        await OutboundPolicy().check(url)


async def test_policy_allow_list_by_cidr_and_name() -> None:
    await OutboundPolicy(["127.0.0.0/8"]).check("http://127.0.0.1:8080/hook")
    await OutboundPolicy(["localhost"]).check("http://localhost/hook")
    await OutboundPolicy().check("https://93.184.215.14/")  # public addresses pass


async def test_messages_about_one_row_arrive_in_order_and_hold_back_only_that_row(
    control_settings: Callable[..., Settings], database_url: str
) -> None:
    # A retry 1.5-3 s away: later writes are queued while the row's first message waits,
    # and row 2's message has time to arrive first even on a loaded CI machine. (_FAST's
    # backoff_max capped an earlier 1.0 here to 0.2: a retry 0.1-0.2 s away, which on
    # CI once came before row 2's message.)
    settings = control_settings(
        webhooks={**_FAST, "backoff_initial_seconds": 3.0, "backoff_max_seconds": 3.0,
                  "retry_window_seconds": 10.0}
    )  # fmt: skip
    async with open_receiver() as receiver, open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        project = await _project(c.api, token, database_url)
        pid = project["id"]
        url = receiver.script("/hook", [500, 200])
        body = {"url": url, "events": ["row.inserted", "row.updated"]}
        response = await c.api.post(f"/projects/{pid}/webhooks", json=body, headers=_auth(token))
        assert response.status_code == 201, response.text
        bus = MemoryEventBus()
        webhooks = await start_webhooks(c.plane, bus, run_worker=True)
        assert c.plane.directory is not None
        data = DbifyApp(c.plane.directory, public_url=PUBLIC_URL, max_body_bytes=1 << 20)
        data.changes = webhooks.dispatcher
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=data), base_url=PUBLIC_URL
            ) as client:
                key = {"apikey": project["service_key"], "prefer": "return=representation"}
                items = f"/p/{pid}/rest/v1/items"
                await client.post(items, json={"name": "a"}, headers=key)
                await receiver.wait_for("/hook")  # row 1's insert failed: retried later
                await client.post(items, json={"name": "other"}, headers=key)
                for name in ("b", "c"):
                    patched = await client.patch(f"{items}?id=eq.1", json={"name": name},
                                                 headers=key)  # fmt: skip
                    assert patched.status_code == 200, patched.text
                arrived = await receiver.wait_for("/hook", 5, within=10)
        finally:
            await webhooks.stop()
    seen = []
    for request in arrived:
        message = orjson.loads(request.body)
        seen.append((message["type"], message["data"]["record"]["id"],
                     message["data"]["record"]["name"]))  # fmt: skip
    # Row 2 is not held back by row 1's retry; row 1's messages keep the writes' order.
    assert seen.index(("row.inserted", 2, "other")) < seen.index(("row.inserted", 1, "a"), 1)
    assert [s for s in seen if s[1] == 1] == [
        ("row.inserted", 1, "a"),
        ("row.inserted", 1, "a"),
        ("row.updated", 1, "b"),
        ("row.updated", 1, "c"),
    ]
    # What each PATCH sent, the second one served from the write cache (no stale body).
    sent = [orjson.loads(r.body)["data"] for r in arrived]
    assert [d["changes"] for d in sent if d["operation"] == "update"] == [
        {"name": "b"}, {"name": "c"}
    ]  # fmt: skip
