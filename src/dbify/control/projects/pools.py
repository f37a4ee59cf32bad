"""Connection pools of many projects: opened lazily, capped, closed when idle.

Each live project gets a ``LazyPool``: it looks like an asyncpg pool to the data
plane (``acquire(timeout=...)``, ``close()``) but opens the real pool on first use.
``PoolBudget`` caps the connections of all pools together: to open a pool it first
closes the least recently used idle ones, and it closes pools idle for longer than
the configured time. A pool that fails to open fails fast (as a 503) for a short
while instead of making every request wait for a dead host again, so a dead project
costs its own requests a quick error and other projects nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from dbify.dataplane.connections import PoolOptions, connection_ready, open_pool

_log = logging.getLogger("dbify.pools")
T = TypeVar("T")


class ProjectDatabaseUnavailable(ConnectionError):
    """The project's pool could not be opened (the data plane answers 503).

    A ``ConnectionError`` (an ``OSError``), which ``dataplane.execute`` already
    reports as ``PGRST000`` database unavailable.
    """


class PoolBudget:
    """The connection budget shared by every project's pool."""

    def __init__(self, max_connections: int, idle_seconds: float, retry_seconds: float) -> None:
        self.max_connections = max_connections
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self._pools: set[LazyPool] = set()
        self._lock = asyncio.Lock()

    def pool(self, project_id: str, url: str, options: PoolOptions) -> LazyPool:
        lazy = LazyPool(self, project_id, url, options)
        self._pools.add(lazy)
        return lazy

    @property
    def open_connections(self) -> int:
        return sum(p.reserved for p in self._pools)

    async def _reserve(self, wanted: int) -> int:
        """Connections granted to a pool about to open (at least 1), evicting idle pools."""
        async with self._lock:
            idle = sorted(
                (p for p in self._pools if p.reserved and p.active == 0),
                key=lambda p: p.last_used,
            )
            while self.open_connections + wanted > self.max_connections and idle:
                await idle.pop(0).close_pool()
            available = self.max_connections - self.open_connections
            if available < 1:
                raise ProjectDatabaseUnavailable("connection budget of the instance exhausted")
            return min(wanted, available)

    async def close_idle(self) -> int:
        """Close pools unused for ``idle_seconds``; returns how many were closed."""
        cutoff = time.monotonic() - self.idle_seconds
        idle = [p for p in self._pools if p.reserved and p.active == 0 and p.last_used < cutoff]
        for pool in idle:
            await pool.close_pool()
        return len(idle)

    def forget(self, pool: LazyPool) -> None:
        self._pools.discard(pool)


class AcquireDeadlines:
    """Timeouts of acquires that must wait, enforced by one task per pool that looks at
    them every ``tick`` seconds, instead of a timer per acquire.

    ``asyncio.timeout`` arms a loop timer on entry and cancels it on exit; under load,
    when most acquires wait for a connection, that was ~10 % of a one-row read's CPU
    (py-spy, 32 clients, 10 connections). Here an acquire costs a dict insert and
    delete; a wait ends with ``TimeoutError`` at most ``tick`` after its deadline. The
    task runs only while some acquire waits. As with ``asyncio.timeout``, the waiting
    task is cancelled and the cancellation turned into ``TimeoutError`` only when it is
    this one's (``Task.uncancel``); any other cancellation goes through.
    """

    __slots__ = ("_expired", "_loop", "_tick", "_waiting", "_watch")

    def __init__(self, tick: float = 0.05) -> None:
        self._tick = tick
        self._waiting: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def wait(self, acquire: Awaitable[T], seconds: float) -> T:
        """Await ``acquire`` for at most ``seconds`` (+ ``tick``), else ``TimeoutError``."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        # With the loop given, current_task skips get_running_loop, which on Python
        # 3.11 makes a getpid() system call each time (~3 % of a read under load).
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - always called from a task
            return await acquire
        cancelling = task.cancelling()
        self._waiting[task] = time.monotonic() + seconds
        if self._watch is None:
            self._watch = loop.create_task(self._run())
        try:
            return await acquire
        except asyncio.CancelledError:
            if task in self._expired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._waiting.pop(task, None)
            self._expired.discard(task)

    async def _run(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(self._tick)
                now = time.monotonic()
                for task, deadline in list(self._waiting.items()):
                    if deadline <= now:
                        del self._waiting[task]
                        self._expired.add(task)
                        task.cancel()
        finally:
            self._watch = None


class LazyPool:
    """One project's pool, opened on first ``acquire``."""

    def __init__(self, budget: PoolBudget, project_id: str, url: str, options: PoolOptions) -> None:
        self._budget = budget
        self._project_id = project_id
        self._url = url
        self._options = options
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._failed_at: float | None = None
        self.reserved = 0
        self.active = 0
        self.last_used = time.monotonic()
        self.last_error: str | None = None
        self.deadlines = AcquireDeadlines()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def _current(self) -> asyncpg.Pool | None:
        return self._pool

    async def _ensure(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            opened = self._current()  # another task may have opened it meanwhile
            if opened is not None:
                return opened
            now = time.monotonic()
            if self._failed_at is not None and now - self._failed_at < self._budget.retry_seconds:
                raise ProjectDatabaseUnavailable(self.last_error or "database unavailable")
            size = await self._budget._reserve(self._options.size)
            self.reserved = size
            options = PoolOptions(
                size=size,
                connect_timeout_seconds=self._options.connect_timeout_seconds,
                statement_timeout_ms=self._options.statement_timeout_ms,
                pgbouncer=self._options.pgbouncer,
                application_name=self._options.application_name,
            )
            try:
                self._pool = await asyncio.wait_for(
                    open_pool(self._url, options), options.connect_timeout_seconds + 1
                )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.reserved = 0
                self._failed_at = time.monotonic()
                self.last_error = type(exc).__name__
                _log.warning("project %s: cannot open pool (%s)", self._project_id, self.last_error)
                raise ProjectDatabaseUnavailable(self.last_error) from None
            self._failed_at = None
            self.last_error = None
            # Deadlines are bound to the loop the pool lives in: a reopened pool may
            # live in another (tests, a restarted server).
            self.deadlines = AcquireDeadlines()
            return self._pool

    def acquire(
        self,
        *,
        timeout: float | None = None,
    ) -> _LazyAcquire:
        """``async with lazy.acquire(timeout=...) as conn``, as on an asyncpg pool."""
        return _LazyAcquire(self, timeout)

    async def close_pool(self) -> None:
        """Close the real pool; the next ``acquire`` opens a new one."""
        pool, self._pool = self._pool, None
        self.reserved = 0
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                pool.terminate()

    async def close(self) -> None:
        """Close for good (project removed or replaced)."""
        await self.close_pool()
        self._budget.forget(self)


class _LazyAcquire:
    """One ``acquire``: a plain class rather than an ``@asynccontextmanager`` generator,
    because it runs on every data API request and the generator machinery cost more
    than the pool's own acquire (py-spy under wrk)."""

    __slots__ = ("_conn", "_lazy", "_pool", "_timeout")

    def __init__(self, lazy: LazyPool, timeout: float | None) -> None:
        self._lazy = lazy
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None

    async def __aenter__(self) -> PoolConnectionProxy[asyncpg.Record]:
        lazy = self._lazy
        pool = lazy._pool
        if pool is None:
            pool = await lazy._ensure()
        lazy.active += 1
        try:
            conn: PoolConnectionProxy[asyncpg.Record]
            if self._timeout is None or connection_ready(pool):
                conn = await pool.acquire()
            else:
                # asyncpg's own timeout runs the acquire in a new task under wait_for;
                # a deadline on this task cancels the same way, for less.
                conn = await lazy.deadlines.wait(pool.acquire(), self._timeout)
        except BaseException:
            lazy.active -= 1
            lazy.last_used = time.monotonic()
            raise
        self._pool, self._conn = pool, conn
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pool, conn = self._pool, self._conn
        self._pool = self._conn = None
        lazy = self._lazy
        try:
            if pool is not None and conn is not None:
                await pool.release(conn)
        finally:
            lazy.active -= 1
            lazy.last_used = time.monotonic()
