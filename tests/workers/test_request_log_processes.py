"""Request logs across real processes, counted end to end.

All-in-one: one ``dbify serve`` (in-process queue, chDB) logs its data API requests and
its stats/logs API shows them. Scale-out: ``dbify serve`` without the worker publishes
to Redis (its own server on its own port) and answers the stats API from the ClickHouse
server, which a separate ``dbify worker request-log`` fills; SIGTERM stops the worker
gracefully.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from dbify.cli import main
from tests.fixtures.server import RunningServer, admin_token, start_server, stop_server
from tests.fixtures.services import clickhouse_up

REDIS_PORT = 6393


def _make_requests(server: RunningServer, ok: int) -> None:
    with httpx.Client(headers={"apikey": server.service_key}, timeout=30) as client:
        for _ in range(ok):
            assert client.get(f"{server.rest_url}/publishers?id=eq.1").status_code == 200
        assert client.get(f"{server.rest_url}/no_such_table").status_code == 404


def _stats_when(server: RunningServer, token: str, requests: int) -> dict[str, Any]:
    """Poll the stats API until it counts ``requests`` (30 s at most)."""
    url = f"{server.base_url}/api/v1/projects/{server.id}/stats"
    headers = {"authorization": f"Bearer {token}"}
    stats: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.get(url, headers=headers, params={"bucket": "minute"}, timeout=30)
        assert response.status_code == 200, response.text
        stats = response.json()
        if stats["totals"]["requests"] >= requests:
            break
        time.sleep(0.3)
    assert stats["totals"]["requests"] == requests, stats
    return stats


def test_all_in_one_serve_logs_requests_into_its_stats(fixture_database_url: str) -> None:
    server = start_server(fixture_database_url, "--schema", "public",
                         env={"DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2"})  # fmt: skip
    try:
        token = admin_token(server)
        _make_requests(server, ok=5)
        stats = _stats_when(server, token, 6)
        assert stats["totals"]["errors"] == 1
        assert {b["value"]: b["requests"] for b in stats["by_status"]} == {"200": 5, "404": 1}
        logs = httpx.get(
            f"{server.base_url}/api/v1/projects/{server.id}/logs",
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        ).json()["items"]
        assert len(logs) == 6
        assert logs[0]["target"] == "no_such_table"  # newest first
        assert server.service_key not in str(logs)
    finally:
        stop_server(server)


@pytest.fixture
def own_redis() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    process = subprocess.Popen(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.3)
    yield f"redis://127.0.0.1:{REDIS_PORT}/0"
    process.terminate()
    process.wait()


@pytest.fixture
def clickhouse_url() -> Iterator[str]:
    if not clickhouse_up():
        pytest.skip("needs a ClickHouse server on 127.0.0.1:9000")
    from clickhouse_driver import Client

    database = f"dbify_test_{os.urandom(3).hex()}"
    yield f"clickhouse://127.0.0.1:9000/{database}"
    client = Client("127.0.0.1")
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    client.disconnect()


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    worker_env = {**os.environ, **env, "DBIFY_DATA_DIR": tempfile.mkdtemp(prefix="dbify-w-")}
    process = subprocess.Popen(
        [sys.executable, "-m", "dbify", "worker", "request-log"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=worker_env,
    )  # fmt: skip
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], 30)
    line = process.stderr.readline() if ready else b""
    assert line.strip() == b"dbify worker running: request-log", line
    return process


@pytest.mark.needs_server("clickhouse")
def test_scale_out_serve_and_worker_share_redis_and_clickhouse(
    fixture_database_url: str, own_redis: str, clickhouse_url: str
) -> None:
    env = {
        "DBIFY_ANALYTICS__QUEUE": "redis",
        "DBIFY_ANALYTICS__QUEUE_URL": own_redis,
        "DBIFY_ANALYTICS__STORE": "clickhouse",
        "DBIFY_ANALYTICS__CLICKHOUSE_URL": clickhouse_url,
        "DBIFY_ANALYTICS__WORKER_ENABLED": "false",
        "DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2",
    }
    server = start_server(fixture_database_url, "--schema", "public", env=env)
    worker: subprocess.Popen[bytes] | None = None
    try:
        token = admin_token(server)
        _make_requests(server, ok=6)
        time.sleep(0.5)
        # No worker yet: the events wait in Redis; the stats API reads ClickHouse (no 503).
        assert _stats_when(server, token, 0)["totals"]["requests"] == 0
        worker = _start_worker(env)
        stats = _stats_when(server, token, 7)
        assert stats["totals"]["errors"] == 1
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        worker = None
        _make_requests(server, ok=2)  # published while no worker runs: kept in Redis
        worker = _start_worker(env)
        _stats_when(server, token, 10)
    finally:
        if worker is not None:
            worker.terminate()
            worker.communicate(timeout=30)
        stop_server(server)


def test_worker_refuses_the_in_process_queue() -> None:
    result = CliRunner().invoke(main, ["worker"], env={"DBIFY_ANALYTICS__QUEUE": "memory"})
    assert result.exit_code != 0
    assert "needs a shared queue" in result.output
