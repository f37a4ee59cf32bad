"""Per-project pools: lazy, capped in total, evicted when idle, failing fast."""

from __future__ import annotations

import asyncio
import time

import pytest

from dbify.control.projects.pools import PoolBudget, ProjectDatabaseUnavailable
from dbify.dataplane.connections import PoolOptions

pytestmark = pytest.mark.anyio


async def test_budget_evicts_idle_pools_and_caps_sizes(fixture_database_url: str) -> None:
    budget = PoolBudget(max_connections=3, idle_seconds=3600, retry_seconds=30)
    first = budget.pool("a", fixture_database_url, PoolOptions(size=2))
    second = budget.pool("b", fixture_database_url, PoolOptions(size=2))
    assert not first.is_open  # lazy
    assert first.open_connections == 0
    async with first.acquire(timeout=5) as conn:
        assert await conn.fetchval("SELECT 1") == 1
    assert first.is_open
    assert budget.open_connections == 2
    assert first.open_connections == 2  # two opened at once, the rest on demand
    async with second.acquire(timeout=5) as conn:
        assert await conn.fetchval("SELECT 2") == 2
        # the idle first pool made room; the budget is never exceeded
        assert not first.is_open
        assert budget.open_connections <= 3
        async with first.acquire(timeout=5) as other:  # second is busy: first gets 1
            assert await other.fetchval("SELECT 3") == 3
            assert first.reserved == 1
    budget.idle_seconds = 0
    assert await budget.close_idle() == 2
    assert budget.open_connections == 0
    await first.close()
    await second.close()


async def test_dead_database_fails_fast_after_first_failure() -> None:
    budget = PoolBudget(max_connections=10, idle_seconds=60, retry_seconds=30)
    dead = budget.pool("d", "postgresql://postgres@127.0.0.1:1/x", PoolOptions(size=2))
    for _ in range(2):
        with pytest.raises(ProjectDatabaseUnavailable):
            async with dead.acquire(timeout=1):
                pass
    assert budget.open_connections == 0
    assert dead.last_error is not None


async def test_a_cancelled_requests_connection_is_not_handed_out_again(
    fixture_database_url: str,
) -> None:
    budget = PoolBudget(max_connections=4, idle_seconds=3600, retry_seconds=30)
    lazy = budget.pool("c", fixture_database_url, PoolOptions(size=1))
    pids: list[int] = []

    async def slow() -> None:
        async with lazy.acquire(timeout=5) as conn:
            pids.append(conn.get_server_pid())
            await conn.execute("SELECT pg_sleep(10)")

    running = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert lazy.active == 0
    started = time.monotonic()
    async with lazy.acquire(timeout=5) as conn:  # not the one still sleeping
        assert conn.get_server_pid() != pids[0]
        assert await conn.fetchval("SELECT 1") == 1
    assert time.monotonic() - started < 3
    await lazy.close()


async def test_a_pool_in_use_gives_back_connections_no_request_took(
    fixture_database_url: str,
) -> None:
    budget = PoolBudget(max_connections=10, idle_seconds=0.3, retry_seconds=30)
    lazy = budget.pool("r", fixture_database_url, PoolOptions(size=4))

    async def hold() -> None:
        async with lazy.acquire(timeout=5) as conn:
            await conn.execute("SELECT pg_sleep(0.1)")

    await asyncio.gather(*(hold() for _ in range(4)))
    assert lazy.open_connections == 4
    deadline = time.monotonic() + 5
    while lazy.open_connections > 1:  # housekeeping: close_idle every 5 s, here faster
        assert time.monotonic() < deadline, lazy.open_connections
        async with lazy.acquire(timeout=5) as conn:  # steady traffic of one at a time
            assert await conn.fetchval("SELECT 1") == 1
        await budget.close_idle()
        await asyncio.sleep(0.05)
    assert lazy.is_open  # the pool is in use: kept, with the one connection it needs
    assert lazy.reserved == 4  # its reservation is unchanged: it may grow again
    await lazy.close()
