"""``/metrics`` (Prometheus text) and ``/readyz`` (dependencies, no project pools) of a
real ``dbify serve``."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.server import RunningServer


def _families(server: RunningServer) -> dict[str, list[tuple[dict[str, str], float]]]:
    r = httpx.get(f"{server.base_url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        f.name: [(s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(r.text)
    }


def test_requests_are_counted_per_project_and_status(dbify_server: RunningServer) -> None:
    headers = {"apikey": dbify_server.service_key}
    for _ in range(3):
        assert httpx.get(f"{dbify_server.rest_url}/authors", headers=headers).status_code == 200
    assert httpx.get(f"{dbify_server.rest_url}/nope", headers=headers).status_code == 404
    families = _families(dbify_server)
    counts = {
        (labels["method"], labels["status"]): value
        for labels, value in families["dbify_http_requests"]
        if labels["project"] == dbify_server.id
    }
    assert counts[("GET", "200")] >= 3
    assert counts[("GET", "404")] >= 1
    buckets = [
        labels for labels, _ in families["dbify_http_request_duration_seconds"]
        if labels.get("project") == dbify_server.id and labels.get("status") == "200"
    ]  # fmt: skip
    assert any(b.get("le") == "+Inf" for b in buckets)
    pools = {labels["state"]: v for labels, v in families["dbify_pool_connections"]
             if labels["project"] == dbify_server.id}  # fmt: skip
    assert pools["open"] >= 1
    assert "dbify_projects_live" in families


def test_readyz_reports_dependencies(dbify_server: RunningServer) -> None:
    r = httpx.get(f"{dbify_server.base_url}/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "dependencies": {"metadata": "ok"}}
    assert httpx.get(f"{dbify_server.base_url}/healthz").json() == {"status": "ok"}
