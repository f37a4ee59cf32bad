"""Graceful shutdown of ``dbify serve`` (a real subprocess): SIGTERM stops new
connections at once, lets the request in flight finish with its answer, flushes the
request-log buffer to the queue and exits 0.

The request-log queue is a Redis stream of its own (``analytics.queue_name``) with no
worker and a 60 s flush interval, so the only way the requests' events can reach the
stream is the flush at shutdown.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable

import anyio
import asyncpg
import httpx
import pytest
import redis

from dbify.analytics.event import decode_batch
from tests.fixtures.server import start_server, stop_server

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_sigterm_finishes_in_flight_requests_flushes_logs_and_exits_0(
    make_database: Callable[..., str],
) -> None:
    url = make_database("fixture.sql")
    anyio.run(
        _sql,
        url,
        "CREATE FUNCTION nap(seconds float) RETURNS int LANGUAGE sql VOLATILE AS $$"
        " SELECT 1 FROM pg_sleep(seconds) $$",
    )
    stream = f"test:request-log:{secrets.token_hex(4)}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running")
    server = start_server(
        url,
        env={
            "DBIFY_ANALYTICS__QUEUE": "redis",
            "DBIFY_ANALYTICS__QUEUE_URL": REDIS_URL,
            "DBIFY_ANALYTICS__QUEUE_NAME": stream,
            "DBIFY_ANALYTICS__WORKER_ENABLED": "false",
            "DBIFY_ANALYTICS__FLUSH_SECONDS": "60",
            "DBIFY_ANALYTICS__BATCH_SIZE": "10000",
        },
    )
    try:
        key = {"apikey": server.service_key}
        for _ in range(5):
            assert httpx.get(f"{server.rest_url}/authors?limit=1", headers=key).status_code == 200
        slow: dict[str, httpx.Response | BaseException] = {}

        def call() -> None:
            try:
                slow["response"] = httpx.post(
                    f"{server.rest_url}/rpc/nap", json={"seconds": 1}, headers=key, timeout=10
                )
            except BaseException as error:  # reported by the assertion below
                slow["response"] = error

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.3)  # the call is in flight, sleeping in PostgreSQL
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.ConnectError):  # no new connections while it finishes
            httpx.get(f"{server.rest_url}/authors?limit=1", headers=key, timeout=2)
        thread.join(10)
        response = slow["response"]
        assert isinstance(response, httpx.Response), response
        assert response.status_code == 200, response.text
        assert response.json() == 1
        assert server.process.wait(15) == 0
        # Every request answered reached the queue: 5 reads and the slow call.
        events = [
            event for _, fields in client.xrange(stream) for event in decode_batch(fields[b"b"])
        ]
        paths = sorted(event.path for event in events)
        assert paths.count("/rpc/nap") == 1, paths
        assert paths.count("/authors") == 5, paths
    finally:
        stop_server(server)
        client.delete(stream)
        client.close()
