"""A request that cannot get a pooled connection in time is a 504 ``PGRST003``, and the
pool is whole afterwards: a real ``dbify serve`` with one connection per project pool,
held by a slow function call while a second request waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from tests.fixtures.server import RunningServer, start_server, stop_server

_SLEEPY = """
create function sleepy(seconds float8) returns int language plpgsql as $$
begin perform pg_sleep(seconds); return 1; end $$;
create table t (id int primary key);
insert into t values (1);
"""


async def _create_function(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(_SLEEPY)
    finally:
        await conn.close()


@pytest.mark.timing
def test_waiting_for_a_connection_times_out_with_504(make_database: Callable[..., str]) -> None:
    url = make_database()
    asyncio.run(_create_function(url))
    server = start_server(url, env={
        "DBIFY_DATABASE__POOL_SIZE": "1", "DBIFY_DATABASE__POOL_TIMEOUT_SECONDS": "0.5",
    })  # fmt: skip
    try:
        asyncio.run(_scenario(server))
    finally:
        stop_server(server)


async def _scenario(server: RunningServer) -> None:
    headers = {"apikey": server.service_key}
    async with httpx.AsyncClient(base_url=server.rest_url, headers=headers) as client:
        assert (await client.get("/rpc/sleepy", params={"seconds": 0})).status_code == 200
        slow = asyncio.create_task(client.get("/rpc/sleepy", params={"seconds": 2.5}))
        await asyncio.sleep(0.4)
        started = time.monotonic()
        waited = await client.get("/rpc/sleepy", params={"seconds": 0})
        elapsed = time.monotonic() - started
        assert waited.status_code == 504, waited.text
        assert waited.json()["code"] == "PGRST003"
        assert 0.4 <= elapsed < 2.0
        assert (await slow).status_code == 200
        # The connection went back to the pool: both kinds of request work again.
        assert (await client.get("/rpc/sleepy", params={"seconds": 0})).status_code == 200
        assert (await client.get("/t?id=eq.1")).json() == [{"id": 1}]
