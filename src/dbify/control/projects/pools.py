"""Connection pools of many projects: opened lazily, capped, closed when idle.

Each live project gets a ``LazyPool``: it looks like an asyncpg pool to the data
plane (``acquire(timeout=...)``, ``close()``) but opens the real pool
(``dataplane/connection_pool.py``) on first use.
``PoolBudget`` caps the connections of all pools together: to open a pool it first
closes the least recently used idle ones, and it closes pools idle for longer than
the configured time; in the pools still in use, the connections no request took for
that long (``ConnectionPool.retire_unused``). A pool that fails to open fails fast (as a
503) for a short while instead of making every request wait for a dead host again, so a
dead project costs its own requests a quick error and other projects nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType

import asyncpg

from dbify.dataplane.connection_pool import ConnectionPool
from dbify.dataplane.connections import PoolOptions, open_pool

_log = logging.getLogger("dbify.pools")


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
        self._retired_at = time.monotonic()

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
        """Close pools unused for ``idle_seconds``; returns how many were closed. Every
        ``idle_seconds``, the other pools close the connections unused since the last
        time (``retire_unused``)."""
        now = time.monotonic()
        cutoff = now - self.idle_seconds
        idle = [p for p in self._pools if p.reserved and p.active == 0 and p.last_used < cutoff]
        for pool in idle:
            await pool.close_pool()
        if now - self._retired_at >= self.idle_seconds:
            self._retired_at = now
            for pool in list(self._pools):
                await pool.retire_unused()
        return len(idle)

    def forget(self, pool: LazyPool) -> None:
        self._pools.discard(pool)


class LazyPool:
    """One project's pool, opened on first ``acquire``."""

    def __init__(self, budget: PoolBudget, project_id: str, url: str, options: PoolOptions) -> None:
        self._budget = budget
        self._project_id = project_id
        self._url = url
        self._options = options
        self._pool: ConnectionPool | None = None
        self._opening = asyncio.Lock()
        self._failed_at: float | None = None
        self.reserved = 0
        self.active = 0
        self.last_used = time.monotonic()
        self.last_error: str | None = None

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @property
    def open_connections(self) -> int:
        """Connections open now (at most ``reserved``: a pool opens them on demand)."""
        pool = self._pool
        return 0 if pool is None else pool.open_connections

    async def retire_unused(self) -> int:
        """``ConnectionPool.retire_unused`` of the open pool (0 when it is not open)."""
        pool = self._pool
        return 0 if pool is None else await pool.retire_unused()

    def _current(self) -> ConnectionPool | None:
        return self._pool

    async def _ensure(self) -> ConnectionPool:
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
    than the pool's own acquire (py-spy under wrk). An idle connection is taken and
    given back without awaiting (``ConnectionPool.take`` and ``release``)."""

    __slots__ = ("_conn", "_lazy", "_pool", "_timeout")

    def __init__(self, lazy: LazyPool, timeout: float | None) -> None:
        self._lazy = lazy
        self._timeout = timeout
        self._pool: ConnectionPool | None = None
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        lazy = self._lazy
        pool = lazy._pool
        if pool is None:
            pool = await lazy._ensure()
        lazy.active += 1
        conn = pool.take()
        if conn is None:
            try:
                conn = await pool.wait(self._timeout)
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
        lazy.active -= 1
        lazy.last_used = time.monotonic()
        if pool is not None and conn is not None:
            pool.release_after(conn, exc_type)
