"""``ConnectionPool`` against a real PostgreSQL: capped, waiting acquires served in
order or timed out, broken connections (closed, left in a transaction, given back by a
cancelled request) dropped and replaced, nothing lost when a handed-over connection's
waiter is cancelled, and a graceful close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dbify.dataplane.connection_pool import Connect, ConnectionPool, PoolClosed

pytestmark = pytest.mark.anyio


@pytest.fixture
async def opened(fixture_database_url: str) -> AsyncIterator[list[asyncpg.Connection]]:
    """Every connection the tests' pools open, terminated at the end."""
    made: list[asyncpg.Connection] = []
    yield made
    for conn in made:
        conn.terminate()


def _connector(
    url: str, made: list[asyncpg.Connection], *, fail_after: int | None = None
) -> Connect:
    async def connect() -> asyncpg.Connection:
        if fail_after is not None and len(made) >= fail_after:
            raise OSError("connection refused (test)")
        conn = await asyncpg.connect(url)
        made.append(conn)
        return conn

    return connect


async def test_at_most_size_connections_and_waiters_served_in_order(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=2)
    await pool.fill(1)
    assert pool.open_connections == 1
    first = pool.take()
    assert first is not None
    second = await pool.wait(5)  # under size: a new connection
    assert pool.open_connections == 2
    assert pool.take() is None
    served: list[int] = []

    async def waiter(n: int) -> None:
        conn = await pool.wait(5)
        served.append(n)
        assert await conn.fetchval("SELECT 1") == 1
        pool.release(conn)

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0.05)
    assert served == []  # all wait: the pool is at its size
    pool.release(first)
    pool.release(second)
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2]
    assert pool.open_connections == 2
    assert pool.idle_connections == 2
    await pool.close()


async def test_a_wait_past_its_deadline_is_a_timeout_and_the_pool_goes_on(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=1)
    held = await pool.wait(5)
    with pytest.raises(TimeoutError):
        await pool.wait(0.1)
    pool.release(held)
    async with pool.acquire(timeout=1) as conn:
        assert conn is held
        assert await conn.fetchval("SELECT 2") == 2
    await pool.close()


async def test_waits_do_not_ask_for_the_running_loop_each_time(
    fixture_database_url: str, opened: list[asyncpg.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Python 3.11 ``asyncio.get_running_loop`` makes a getpid() system call; under
    load most acquires wait, so the pool and its deadlines look the loop up once."""
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=1)
    held = await pool.wait(5)
    looked_up = 0
    real = asyncio.get_running_loop

    def counting() -> asyncio.AbstractEventLoop:
        nonlocal looked_up
        looked_up += 1
        return real()

    monkeypatch.setattr(asyncio, "get_running_loop", counting)
    for _ in range(20):
        waiting = asyncio.create_task(pool.wait(5))
        await asyncio.sleep(0)  # queued as a waiter
        pool.release(held)
        held = await waiting
        assert await held.fetchval("SELECT 1") == 1
    assert looked_up <= 2  # the pool's and its deadlines' first wait
    pool.release(held)
    await pool.close()


async def test_broken_connections_are_dropped_and_replaced(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=1)
    conn = await pool.wait(5)
    await conn.execute("BEGIN")
    pool.release(conn)  # left inside a transaction: never handed out again
    assert conn.is_closed()
    assert pool.open_connections == 0
    conn = await pool.wait(5)
    assert not conn.is_in_transaction()
    pid = conn.get_server_pid()
    pool.release(conn)
    admin = await asyncpg.connect(fixture_database_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    for _ in range(50):  # the client sees the server's goodbye in a moment
        if conn.is_closed():
            break
        await asyncio.sleep(0.02)
    async with pool.acquire(timeout=5) as fresh:  # the dead idle one is skipped
        assert fresh.get_server_pid() != pid
        assert await fresh.fetchval("SELECT 3") == 3
    await pool.close()


async def test_a_cancelled_requests_connection_is_replaced_for_the_waiters(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=1)

    holding = asyncio.Event()

    async def slow() -> None:
        async with pool.acquire(timeout=5) as conn:
            holding.set()
            await conn.execute("SELECT pg_sleep(5)")

    running = asyncio.create_task(slow())
    await holding.wait()  # opening may take a while on a busy machine
    waiting = asyncio.create_task(pool.wait(5))
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    conn = await asyncio.wait_for(waiting, 5)
    assert conn is not opened[0]
    assert opened[0].is_closed()
    assert await conn.fetchval("SELECT 4") == 4  # not the one still sleeping
    pool.release(conn)
    await pool.close()


def _first_open_hangs(url: str, made: list[asyncpg.Connection], error: bool) -> Connect:
    """A connector whose first open never completes (``error``: fails after a moment)."""
    attempts: list[int] = []

    async def connect() -> asyncpg.Connection:
        attempts.append(1)
        if len(attempts) == 1:
            if error:
                await asyncio.sleep(0.1)
                raise OSError("connection refused (test)")
            await asyncio.Event().wait()
        conn = await asyncpg.connect(url)
        made.append(conn)
        return conn

    return connect


@pytest.mark.parametrize("how", ["cancelled", "failed"])
async def test_waiters_queued_behind_an_opening_that_never_came_get_a_connection(
    fixture_database_url: str, opened: list[asyncpg.Connection], how: str
) -> None:
    """Requests that queued while the pool's only connection was being opened are
    served by a new one when that opening's request is cancelled (its client left) or
    the opening fails, not left waiting for their deadline."""
    pool = ConnectionPool(_first_open_hangs(fixture_database_url, opened, how == "failed"), 1)
    first = asyncio.create_task(pool.wait(5))
    await asyncio.sleep(0.02)
    waiting = [asyncio.create_task(pool.wait(5)) for _ in range(2)]
    await asyncio.sleep(0.02)
    assert not any(task.done() for task in [first, *waiting])
    if how == "cancelled":
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
    else:
        with pytest.raises(OSError, match="refused"):
            await first
    conn = await asyncio.wait_for(waiting[0], 2)  # at once, not after its 5 s
    assert await conn.fetchval("SELECT 5") == 5
    pool.release(conn)
    conn = await asyncio.wait_for(waiting[1], 2)
    pool.release(conn)
    assert pool.open_connections == 1
    await pool.close()


async def test_a_waiter_gets_the_error_when_no_replacement_can_open(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened, fail_after=1), size=1)
    conn = await pool.wait(5)
    waiting = asyncio.create_task(pool.wait(5))
    await asyncio.sleep(0.05)
    pool.release(conn, discard=True)
    with pytest.raises(OSError, match="refused"):
        await asyncio.wait_for(waiting, 2)  # at once, not after its 5 s
    await pool.close()


async def test_a_connection_handed_to_a_cancelled_waiter_is_not_lost(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=1)
    conn = await pool.wait(5)
    waiting = asyncio.create_task(pool.wait(5))
    await asyncio.sleep(0.05)
    pool.release(conn)  # handed to the waiter, which has not run yet...
    waiting.cancel()  # ...and is cancelled before it does
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pool.idle_connections == 1
    assert pool.take() is conn
    pool.release(conn)
    await pool.close()


async def test_close_waits_for_connections_in_use_and_refuses_new_acquires(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=2)
    await pool.fill(2)
    busy = pool.take()
    assert busy is not None
    closing = asyncio.create_task(pool.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # a connection is still in use
    assert pool.take() is None
    with pytest.raises(PoolClosed):
        await pool.wait(1)
    assert await busy.fetchval("SELECT 5") == 5  # the request in flight finishes
    pool.release(busy)
    await asyncio.wait_for(closing, 5)
    assert all(conn.is_closed() for conn in opened)
    assert pool.open_connections == 0


async def test_terminate_closes_connections_in_use_too(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=2)
    await pool.fill(2)
    busy = pool.take()
    pool.terminate()
    assert busy is not None
    assert busy.is_closed()
    assert all(conn.is_closed() for conn in opened)


async def test_connections_unused_for_an_interval_are_closed(
    fixture_database_url: str, opened: list[asyncpg.Connection]
) -> None:
    pool = ConnectionPool(_connector(fixture_database_url, opened), size=4)

    async def hold(seconds: float) -> None:
        async with pool.acquire(timeout=5) as conn:
            await conn.execute(f"SELECT pg_sleep({seconds})")

    await asyncio.gather(*(hold(0.2) for _ in range(4)))  # a burst opens all four
    assert (pool.open_connections, pool.idle_connections) == (4, 4)
    assert await pool.retire_unused() == 0  # the first call only starts the interval
    for _ in range(5):  # then one request at a time: one connection does it all
        async with pool.acquire(timeout=5) as conn:
            warm = conn
            assert await conn.fetchval("SELECT 1") == 1
    assert await pool.retire_unused() == 3
    assert (pool.open_connections, pool.idle_connections) == (1, 1)
    assert sorted(conn.is_closed() for conn in opened) == [False, True, True, True]
    assert not warm.is_closed()
    async with pool.acquire(timeout=5) as conn:
        assert conn is warm
    assert await pool.retire_unused() == 0  # used in the interval: kept
    assert await pool.retire_unused() == 1  # not used since: closed too
    assert pool.open_connections == 0
    await asyncio.gather(*(hold(0.1) for _ in range(2)))  # later traffic opens anew
    assert pool.open_connections == 2
    await pool.close()
