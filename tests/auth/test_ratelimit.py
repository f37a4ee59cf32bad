"""Token buckets in memory and in a real Redis; 429 with Retry-After from a real server."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import anyio
import httpx
import pytest

from dbify.backends.ratelimit import Limits, MemoryBuckets, RedisBuckets, RequestLimiter
from dbify.dataplane.project import Project, ProjectSettings
from tests.fixtures.server import start_server, stop_server


def test_memory_bucket_refuses_beyond_burst_and_refills() -> None:
    async def run() -> None:
        buckets = MemoryBuckets()
        results = [(await buckets.take("k", 1000.0, 3)).allowed for _ in range(4)]
        assert results == [True, True, True, False]
        await anyio.sleep(0.01)  # 1000/s: refilled
        assert (await buckets.take("k", 1000.0, 3)).allowed

    anyio.run(run)


def test_redis_buckets_are_shared() -> None:
    async def run() -> None:
        key = secrets.token_hex(8)
        a, b = RedisBuckets("redis://127.0.0.1:6379/0"), RedisBuckets("redis://127.0.0.1:6379/0")
        try:
            assert (await a.take(key, 0.5, 2)).allowed
            assert (await b.take(key, 0.5, 2)).allowed
            third = await a.take(key, 0.5, 2)
            assert not third.allowed
            assert 0 < third.retry_after <= 2.0
        finally:
            await a.close()
            await b.close()

    anyio.run(run)


def test_limiter_headers_per_key_and_ip() -> None:
    async def run() -> None:
        limiter = RequestLimiter(MemoryBuckets(), Limits(per_key=None, per_ip=0.1, burst=1))
        project = _project()
        assert await limiter.check(project, "10.0.0.1", {}) is None
        refused = await limiter.check(project, "10.0.0.1", {})
        assert refused is not None
        headers = dict(refused)
        assert headers[b"retry-after"] == b"10"
        assert b"ratelimit-limit" in headers
        assert b"ratelimit-reset" in headers
        assert await limiter.check(project, "10.0.0.2", {}) is None  # another address

    anyio.run(run)


def _project(**settings: Any) -> Project:
    """A project as the limiter sees it (no pool or schema needed)."""
    return cast(Project, SimpleNamespace(id="p", settings=ProjectSettings(**settings),
                                         key_rate_limits={}))  # fmt: skip


def test_project_limits_override_the_instance() -> None:
    async def run() -> None:
        limiter = RequestLimiter(MemoryBuckets(), Limits(per_key=100.0, burst=100))
        strict = _project(rate_limit_per_key=0.01, rate_limit_burst=1)
        headers = {"authorization": "Bearer dbify_anon_x"}
        assert await limiter.check(strict, None, headers) is None
        assert await limiter.check(strict, None, headers) is not None
        none_at_all = RequestLimiter(MemoryBuckets(), Limits())
        assert await none_at_all.check(_project(), "10.0.0.1", headers) is None

    anyio.run(run)


@pytest.mark.parametrize("redis", [False, True])
def test_server_answers_429(make_database: Callable[..., str], redis: bool) -> None:
    url = make_database()
    env = {"DBIFY_AUTH__RATE_LIMIT_PER_KEY": "0.01", "DBIFY_AUTH__RATE_LIMIT_BURST": "2"}
    if redis:
        env["DBIFY_AUTH__RATE_LIMIT_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    server = start_server(url, env=env)
    try:
        get = lambda: httpx.get(f"{server.rest_url}/", headers={"apikey": server.anon_key})  # noqa: E731
        assert get().status_code == 200
        assert get().status_code == 200
        limited = get()
        assert limited.status_code == 429
        assert limited.json()["code"] == "DBIFY429"
        assert int(limited.headers["retry-after"]) >= 1
        assert "ratelimit-remaining" in limited.headers
        # another key has its own bucket
        other = httpx.get(f"{server.rest_url}/", headers={"apikey": server.service_key})
        assert other.status_code == 200
    finally:
        stop_server(server)
