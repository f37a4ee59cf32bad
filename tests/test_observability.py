"""``/metrics`` (Prometheus text) and ``/readyz`` (dependencies, no project pools) of a
real ``dbify serve``."""

from __future__ import annotations

import time

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


def test_request_log_queue_lag_and_worker_batch_sizes(dbify_server: RunningServer) -> None:
    """The all-in-one server's worker reports the batches it actually wrote, and the
    queue's backlog is read from the queue (-1 only until the first answer)."""
    headers = {"apikey": dbify_server.service_key}
    for _ in range(5):
        assert httpx.get(f"{dbify_server.rest_url}/authors", headers=headers).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        families = {name: samples[0][1] for name, samples in _families(dbify_server).items()
                    if samples and not samples[0][0]}  # fmt: skip
        written = families.get("dbify_worker_events_written", 0)
        if written >= 5 and families["dbify_request_log_queue_backlog"] >= 0:
            break
        assert time.monotonic() < deadline, families
        time.sleep(0.3)
    assert families["dbify_worker_batches_written"] >= 1
    assert 1 <= families["dbify_worker_last_batch_events"] <= written
    assert families["dbify_worker_last_batch_messages"] >= 1
    assert families["dbify_worker_batch_size"] >= families["dbify_worker_last_batch_messages"]
    assert families["dbify_request_log_queue_backlog"] <= families["dbify_request_log_published"]
