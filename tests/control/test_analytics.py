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
