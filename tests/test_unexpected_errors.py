"""A bug behind Dbify's ASGI app is one log line and the catalogue's JSON 500.

The data API's direct path is tested in ``test_http_direct.py``; this is the ASGI door
(the dashboard, /metrics, the management API, any other ASGI server): the exception is
logged as its type and place only (``unexpected.py``), never as a stack trace or with its
message, and the client gets ``DBIFY500`` in JSON.
"""

from __future__ import annotations

import httpx
import pytest

from dbify.app import DbifyApp
from dbify.dataplane.project import StaticProjectDirectory

pytestmark = pytest.mark.anyio


class _BrokenMetrics:
    def exposition(self) -> bytes:
        raise KeyError("secret-token-in-a-message")

    def observe_request(self, *args: object) -> None:
        pass


async def test_a_bug_behind_the_asgi_app_is_one_line_and_a_json_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = DbifyApp(StaticProjectDirectory([]), public_url="http://t", max_body_bytes=1024)
    app.metrics = _BrokenMetrics()  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/metrics")
        assert (await client.get("/healthz")).status_code == 200  # still serving
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == "DBIFY500"
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == 1
    line = logged[0].getMessage()
    assert line.startswith("GET /metrics failed: builtins.KeyError at ")
    assert "test_unexpected_errors.py" in line
    assert "secret-token" not in line
    assert logged[0].exc_info is None
