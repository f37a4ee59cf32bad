"""Request logs end to end: data API → recorder → queue → worker → chDB → stats API."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token

pytestmark = pytest.mark.anyio


async def test_requests_show_up_in_stats_and_logs(
    control_settings: Callable[..., Settings], fixture_database_url: str
) -> None:
    settings = control_settings(analytics={"flush_seconds": 0.1})
    async with open_control(settings, request_logging=True) as c:
        token = await sign_up_and_token(c.api)
        auth = {"authorization": f"Bearer {token}"}
        created = (
            await c.api.post(
                "/projects",
                json={"name": "shop", "database_url": fixture_database_url},
                headers=auth,
            )
        ).json()
        project = created["id"]
        key = {"apikey": created["service_key"]}
        rest = f"/p/{project}/rest/v1"
        for _ in range(4):
            ok = await c.data.get(f"{rest}/publishers?select=id&id=eq.1", headers=key)
            assert ok.status_code == 200
            assert ok.headers["x-request-id"]
        missing = await c.data.get(f"{rest}/no_such_table", headers=key)
        assert missing.status_code == 404
        given = await c.data.get(f"{rest}/publishers", headers={**key, "x-request-id": "trace-42"})
        assert given.headers["x-request-id"] == "trace-42"

        stats: dict = {}
        with anyio.fail_after(15):
            while stats.get("totals", {}).get("requests") != 6:
                await anyio.sleep(0.2)
                response = await c.api.get(f"/projects/{project}/stats?bucket=minute", headers=auth)
                assert response.status_code == 200, response.text
                stats = response.json()
        assert stats["totals"]["errors"] == 1
        assert stats["totals"]["error_rate"] == round(1 / 6, 4)
        assert stats["totals"]["p99_ms"] >= stats["totals"]["p50_ms"] > 0
        assert {b["value"]: b["requests"] for b in stats["by_status"]} == {"200": 5, "404": 1}
        assert {b["value"] for b in stats["by_table"]} == {"publishers", "no_such_table"}
        assert sum(point["requests"] for point in stats["series"]) == 6
        assert all(point["p95_ms"] >= 0 for point in stats["series"])
        assert max(point["p95_ms"] for point in stats["series"]) > 0

        page = (await c.api.get(f"/projects/{project}/logs?limit=4", headers=auth)).json()
        assert len(page["items"]) == 4
        assert page["next_cursor"]
        rest_page = (
            await c.api.get(
                f"/projects/{project}/logs",
                params={"limit": 4, "cursor": page["next_cursor"]},
                headers=auth,
            )
        ).json()
        assert len(rest_page["items"]) == 2
        assert rest_page["next_cursor"] is None
        seen = [item["event_id"] for item in page["items"] + rest_page["items"]]
        assert len(set(seen)) == 6
        stamps = [item["timestamp_us"] for item in page["items"] + rest_page["items"]]
        assert stamps == sorted(stamps, reverse=True)

        failed = (await c.api.get(f"/projects/{project}/logs?status=404", headers=auth)).json()[
            "items"
        ]
        assert [e["target"] for e in failed] == ["no_such_table"]
        for status_class, targets in (("4xx", {"no_such_table"}), ("2xx", {"publishers"})):
            items = (
                await c.api.get(
                    f"/projects/{project}/logs", params={"status_class": status_class}, headers=auth
                )
            ).json()["items"]
            assert {e["target"] for e in items} == targets, status_class
        assert (await c.api.get(f"/projects/{project}/logs?status_class=5xx", headers=auth)).json()[
            "items"
        ] == []
        invalid = await c.api.get(f"/projects/{project}/logs?status_class=9xx", headers=auth)
        assert invalid.status_code in (400, 422)
        assert failed[0]["error_code"]
        traced = (
            await c.api.get(f"/projects/{project}/logs?request_id=trace-42", headers=auth)
        ).json()["items"]
        assert len(traced) == 1
        detail = await c.api.get(f"/projects/{project}/logs/{traced[0]['event_id']}", headers=auth)
        assert detail.status_code == 200
        event = detail.json()
        assert event["key_id"]
        # The split of the server-side duration: pool wait and database time, measured
        # around the pooled connection (dataplane/timing.py), both inside the duration.
        assert 0 < event["db_us"] < event["duration_us"]
        assert 0 <= event["queue_us"] < event["duration_us"]
        assert created["service_key"] not in str(event)
        assert event["query_shape"] == ""
        filtered = [e for e in page["items"] + rest_page["items"] if e["query_shape"]]
        assert filtered[0]["query_shape"] == "select=id&id=eq.?"
        assert (await c.api.get(f"/projects/{project}/logs/nope", headers=auth)).status_code == 404
        other = await sign_up_and_token(c.api, "eve@example.com")
        denied = await c.api.get(
            f"/projects/{project}/stats", headers={"authorization": f"Bearer {other}"}
        )
        assert denied.status_code in (403, 404)


@pytest.fixture
def writable_database_url(make_database: Callable[..., str]) -> str:
    """Its own copy of the fixture database: the test below writes a row."""
    return make_database("fixture.sql")


async def test_stats_breakdowns_buckets_and_every_log_filter(
    control_settings: Callable[..., Settings], writable_database_url: str
) -> None:
    """by_method / by_key / slowest, hour and day buckets, the time range, and the log
    search's method, table and key filters; client IPs are stored truncated (default)
    and the user agent as sent."""
    import time

    database_url = writable_database_url
    settings = control_settings(analytics={"flush_seconds": 0.1})
    async with open_control(settings, request_logging=True) as c:
        token = await sign_up_and_token(c.api)
        auth = {"authorization": f"Bearer {token}"}
        created = (
            await c.api.post(
                "/projects",
                json={"name": "shop", "database_url": database_url},
                headers=auth,
            )
        ).json()
        project = created["id"]
        service = {"apikey": created["service_key"], "user-agent": "audit-agent/1.0"}
        anon = {"apikey": created["anon_key"]}
        rest = f"/p/{project}/rest/v1"
        started = int(time.time()) - 1
        for _ in range(3):
            assert (await c.data.get(f"{rest}/publishers", headers=service)).status_code == 200
        posted = await c.data.post(
            f"{rest}/publishers", json={"name": "Stats Press"}, headers=service
        )
        assert posted.status_code == 201, posted.text
        assert (await c.data.get(f"{rest}/authors", headers=anon)).status_code in (200, 401)

        stats: dict = {}
        with anyio.fail_after(15):
            while stats.get("totals", {}).get("requests") != 5:
                await anyio.sleep(0.2)
                stats = (await c.api.get(f"/projects/{project}/stats", headers=auth)).json()
        assert stats["bucket"] == "hour"
        by_method = {b["value"]: b["requests"] for b in stats["by_method"]}
        assert by_method == {"GET": 4, "POST": 1}
        assert sum(b["requests"] for b in stats["by_key"]) == 5
        assert len(stats["by_key"]) == 2  # the service key and the anon key, by id
        assert created["service_key"] not in str(stats)
        assert {(s["method"], s["target"]) for s in stats["slowest"]} == {
            ("GET", "publishers"),
            ("POST", "publishers"),
            ("GET", "authors"),
        }
        for bucket in ("minute", "hour", "day"):
            series = (
                await c.api.get(f"/projects/{project}/stats?bucket={bucket}", headers=auth)
            ).json()["series"]
            assert sum(point["requests"] for point in series) == 5, bucket
        day = (await c.api.get(f"/projects/{project}/stats?bucket=day", headers=auth)).json()
        assert day["series"][0]["time"][11:19] == "00:00:00"  # day buckets start at 00:00 UTC
        # A range before the requests holds nothing; one around them holds all.
        empty = await c.api.get(
            f"/projects/{project}/stats",
            params={"from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"},
            headers=auth,
        )
        assert empty.status_code == 200, empty.text
        assert empty.json()["totals"]["requests"] == 0

        async def logs(**params: object) -> list[dict]:
            r = await c.api.get(f"/projects/{project}/logs", params=params, headers=auth)
            assert r.status_code == 200, r.text
            items: list[dict] = r.json()["items"]
            return items

        posts = await logs(method="post")
        assert [(e["method"], e["status"], e["target"]) for e in posts] == [
            ("POST", 201, "publishers")
        ]
        assert {e["target"] for e in await logs(table="authors")} == {"authors"}
        service_key_id = posts[0]["key_id"]
        assert len(await logs(key_id=service_key_id)) == 4
        now = int(time.time()) + 2
        from datetime import UTC, datetime

        window = {
            "from": datetime.fromtimestamp(started, UTC).isoformat(),
            "to": datetime.fromtimestamp(now, UTC).isoformat(),
        }
        assert len(await logs(**window)) == 5
        assert await logs(**{"from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"}) == []
        reads = await logs(table="publishers", method="GET")
        assert len(reads) == 3
        for event in reads:
            assert event["client_ip"] == "127.0.0.0"  # truncated to /24, the default
            assert event["user_agent"] == "audit-agent/1.0"
            assert event["rows"] >= 1
            assert event["response_bytes"] > 0
            assert event["duration_us"] > 0
            assert event["role"]
