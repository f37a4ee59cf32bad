"""``dbify worker request-log --metrics-port``: a real worker process, scraped over HTTP.

The worker consumes a Redis stream of its own (a unique ``queue_name`` on the shared
Redis), or a Kafka topic of its own (``fixtures/kafka_broker.py``), and writes to a throwaway ClickHouse database. The test publishes request-log
batches and one undecodable message straight onto the stream and reads the counters
back from ``/metrics``: events written, batches, the last batch's size, the poison
message and the queue's backlog; ``/healthz`` reports the worker running; SIGTERM
stops it cleanly and closes the port.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from dbify.analytics.event import RequestLog, encode_batch
from dbify.backends.loader import build_queue
from dbify.settings import Settings
from tests.fixtures.kafka_broker import kafka_url
from tests.fixtures.services import clickhouse_up

REDIS_URL = "redis://127.0.0.1:6379/0"
EVENTS_PER_MESSAGE = 4
MESSAGES = 3


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["redis", "kafka"])
def worker_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings of a standalone request-log worker on its own stream (or topic) and
    database."""
    if not clickhouse_up() or not _redis_up():
        pytest.skip("needs Redis on 6379 and a ClickHouse server on 127.0.0.1:9000")
    from clickhouse_driver import Client

    suffix = os.urandom(3).hex()
    stream, database = f"dbify-test-metrics-{suffix}", f"dbify_test_{suffix}"
    kafka = request.param == "kafka"
    yield {
        "DBIFY_ANALYTICS__QUEUE": request.param,
        "DBIFY_ANALYTICS__QUEUE_URL": kafka_url() if kafka else REDIS_URL,
        "DBIFY_ANALYTICS__QUEUE_NAME": stream,
        "DBIFY_ANALYTICS__STORE": "clickhouse",
        "DBIFY_ANALYTICS__CLICKHOUSE_URL": f"clickhouse://127.0.0.1:9000/{database}",
        "DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2",
    }
    redis.Redis.from_url(REDIS_URL).delete(stream)
    client = Client("127.0.0.1")
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    client.disconnect()


def _event(i: int) -> RequestLog:
    return RequestLog(
        event_id=f"metrics-{os.urandom(4).hex()}-{i}", timestamp_us=int(time.time() * 1e6),
        project_id="p1", request_id=f"r{i}", method="GET", path="/orders", target="orders",
        query_shape="", status=200, error_code="", duration_us=100, db_us=10, rows=1,
        response_bytes=10, key_id="k1", role="anon", client_ip="10.0.0.0", user_agent="test",
    )  # fmt: skip


def _publish(env: dict[str, str], bodies: list[bytes]) -> None:
    settings = Settings(
        analytics={
            "queue": env["DBIFY_ANALYTICS__QUEUE"],
            "queue_url": env["DBIFY_ANALYTICS__QUEUE_URL"],
            "queue_name": env["DBIFY_ANALYTICS__QUEUE_NAME"],
        }
    )

    async def publish() -> None:
        queue = build_queue(settings)
        try:
            await queue.publish(bodies)
        finally:
            await queue.close()

    asyncio.run(publish())


def _read_lines(fd: int, count: int, timeout: float) -> list[bytes]:
    """Up to ``count`` lines from ``fd`` within ``timeout`` (raw reads: a buffered
    ``readline`` would swallow the second line where ``select`` cannot see it)."""
    data, deadline = b"", time.monotonic() + timeout
    while data.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.splitlines()[:count]


def _start_worker(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start the worker with ``--metrics-port 0``; return it and its metrics base URL."""
    worker_env = {**os.environ, **env, "DBIFY_DATA_DIR": tempfile.mkdtemp(prefix="dbify-w-")}
    process = subprocess.Popen(
        [sys.executable, "-m", "dbify", "worker", "request-log", "--metrics-port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=worker_env,
    )  # fmt: skip
    assert process.stderr is not None
    lines = _read_lines(process.stderr.fileno(), 2, 30.0)
    if len(lines) < 2:
        process.kill()
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"the worker did not start: {lines} {err!r}")
    assert lines[1] == b"dbify worker running: request-log", lines
    prefix = b"dbify worker metrics: "
    assert lines[0].startswith(prefix), lines
    assert lines[0].endswith(b"/metrics"), lines
    return process, lines[0].removeprefix(prefix).decode().removesuffix("/metrics")


def _scrape(base_url: str) -> dict[str, float]:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _scrape_until(
    base_url: str, check: Callable[[dict[str, float]], bool], limit: float = 30.0
) -> dict[str, float]:
    deadline = time.monotonic() + limit
    while True:
        samples = _scrape(base_url)
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def test_worker_serves_its_counters_on_the_metrics_port(worker_env: dict[str, str]) -> None:
    process, base_url = _start_worker(worker_env)
    try:
        samples = _scrape(base_url)
        assert samples["dbify_worker_events_written_total"] == 0
        assert samples["dbify_worker_batches_written_total"] == 0
        assert samples["dbify_worker_poison_messages_total"] == 0
        assert samples["dbify_worker_batch_size"] == Settings().analytics.worker_batch_size
        assert samples["dbify_worker_request_log_consecutive_failures"] == 0

        total = EVENTS_PER_MESSAGE * MESSAGES
        batches = [
            encode_batch([_event(m * EVENTS_PER_MESSAGE + i) for i in range(EVENTS_PER_MESSAGE)])
            for m in range(MESSAGES)
        ]
        _publish(worker_env, batches)
        samples = _scrape_until(base_url, lambda s: s["dbify_worker_events_written_total"] >= total)
        assert samples["dbify_worker_events_written_total"] == total
        # However the worker's rounds split the three messages, the last batch's sizes agree.
        assert 1 <= samples["dbify_worker_batches_written_total"] <= MESSAGES
        last_messages = samples["dbify_worker_last_batch_messages"]
        assert 1 <= last_messages <= MESSAGES
        assert samples["dbify_worker_last_batch_events"] == EVENTS_PER_MESSAGE * last_messages
        # The backlog is read in the background (the value of the previous scrape).
        samples = _scrape_until(base_url, lambda s: s["dbify_request_log_queue_backlog"] == 0)
        assert samples["dbify_request_log_queue_backlog"] == 0

        batches_before = samples["dbify_worker_batches_written_total"]
        _publish(worker_env, [b"not a request-log batch"])
        # The poison counter moves before the batch's write and ack: wait for both.
        samples = _scrape_until(
            base_url,
            lambda s: (
                s["dbify_worker_poison_messages_total"] >= 1
                and s["dbify_worker_batches_written_total"] > batches_before
            ),
        )
        assert samples["dbify_worker_poison_messages_total"] == 1
        assert samples["dbify_worker_events_written_total"] == total  # nothing from it
        assert samples["dbify_worker_batches_written_total"] == batches_before + 1
        assert samples["dbify_worker_last_batch_events"] == 0

        health = httpx.get(f"{base_url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["workers"][0]["name"] == "request-log"
        assert health.json()["workers"][0]["running"] is True
        assert httpx.get(f"{base_url}/other", timeout=10).status_code == 404

        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/metrics", timeout=5)
    finally:
        if process.returncode is None:
            process.kill()
            process.communicate(timeout=30)


def test_worker_has_no_metrics_port_unless_asked() -> None:
    from click.testing import CliRunner

    from dbify.cli import main

    result = CliRunner().invoke(main, ["worker", "--help"])
    assert result.exit_code == 0
    assert "--metrics-port" in result.output
    assert "Off by default" in result.output
