"""One project's pool of asyncpg connections, lean enough for the request path.

asyncpg's ``Pool`` runs a ``PoolConnectionHolder``, an ``asyncio.Queue``, a proxy per
acquired connection and, on every release, a new task under ``asyncio.shield``. Counted
with callgrind (a raw httptools server running one prepared one-row read, 2,000
sequential requests), ``pool.fetchval`` cost 205 k instructions a request and the same
read on a connection taken from a plain list 85 k: the pool's bookkeeping was more
than the query. Here taking an idle connection is a list ``pop`` and giving it back a
list ``append`` (or handing it to the oldest waiter), both without awaiting.

What the data plane needs of a pool and this one keeps: at most ``size`` connections,
opened on demand (``min_size`` at once); a waiting acquire bounded by a deadline
(``AcquireDeadlines``: one watcher task instead of a timer per acquire); connections
that died (server restart, ``terminate()`` after a failed rollback) replaced, a
connection returned inside a transaction or by a cancelled request (its query may still
be running) terminated instead of reused, and a waiter woken with a new connection, or
with the error that prevented opening it, when one is dropped or when the opening it
queued behind was cancelled or failed; ``close()`` waits for the
connections in use, ``terminate()`` does not; ``retire_unused()`` (called every
``projects.pool_idle_seconds``) closes the connections no request took since its last
call, so a pool that grew for a burst gives them back to the database. There is no reset
on release: every per-request setting is transaction-local (``connections.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import asyncpg

__all__ = ["AcquireDeadlines", "Connect", "ConnectionPool", "PoolClosed", "PooledConnection"]

T = TypeVar("T")
Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PoolClosed(asyncpg.InterfaceError):
    """An acquire on a pool that is closing (asyncpg raises ``InterfaceError`` too)."""


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


class ConnectionPool:
    """At most ``size`` connections made by ``connect``.

    The request path uses ``take`` (an idle connection or None, no await), ``wait`` (when
    ``take`` gave nothing) and ``release``; ``acquire()`` wraps them as an async context
    manager for everyone else (introspection, search, saved queries).
    """

    __slots__ = (
        "_all",
        "_closed",
        "_connect",
        "_deadlines",
        "_drained",
        "_idle",
        "_in_use",
        "_loop",
        "_low",
        "_opening",
        "_replacing",
        "_retired",
        "_size",
        "_waiters",
    )

    def __init__(self, connect: Connect, size: int) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self._connect = connect
        self._size = size
        self._idle: list[asyncpg.Connection] = []  # last in, first out: the warmest
        self._low = 0  # fewest idle since retire_unused: the bottom ones went untouched
        self._retired: list[asyncpg.Connection] = []  # released while closing
        self._waiters: deque[asyncio.Future[asyncpg.Connection]] = deque()
        self._replacing: set[asyncio.Task[None]] = set()
        self._all: set[asyncpg.Connection] = set()
        self._in_use = 0
        self._opening = 0
        self._closed = False
        self._drained: asyncio.Event | None = None
        self._deadlines = AcquireDeadlines()
        # The loop its connections belong to (asyncpg binds them to one), remembered at
        # the first wait: on Python 3.11 ``get_running_loop`` makes a getpid() system
        # call: ~4 % of the serving thread's samples (py-spy) in pk reads at 32 clients
        # on 10 connections, where most acquires wait.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def open_connections(self) -> int:
        return len(self._all)

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def fill(self, count: int) -> None:
        """Open ``count`` connections now (at most ``size``), all or none."""
        count = min(count, self._size - len(self._all) - self._opening)
        if count <= 0:
            return
        self._opening += count
        try:
            opened = await asyncio.gather(
                *(self._connect() for _ in range(count)), return_exceptions=True
            )
        finally:
            self._opening -= count
        failed = [c for c in opened if isinstance(c, BaseException)]
        good = [c for c in opened if isinstance(c, asyncpg.Connection)]
        if failed:
            for conn in good:
                conn.terminate()
            self._serve_waiters()
            raise failed[0]
        self._all.update(good)
        for conn in good:
            self._give(conn)

    def take(self) -> asyncpg.Connection | None:
        """An idle, open connection, now; None when there is none."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if len(idle) < self._low:
                self._low = len(idle)
            if not conn.is_closed():
                self._in_use += 1
                return conn
            self._all.discard(conn)  # died while idle (server restart): forget it
        return None

    async def wait(self, seconds: float | None) -> asyncpg.Connection:
        """A connection when ``take`` had none: a new one while under ``size``, else
        the next one released; ``TimeoutError`` after ``seconds`` (None: no limit)."""
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        conn = self.take()  # a caller may come here without trying take() first
        if conn is not None:
            return conn
        if len(self._all) + self._opening < self._size:
            opening = self._open()
            try:
                conn = await (opening if seconds is None else asyncio.wait_for(opening, seconds))
            except BaseException:
                # Requests that came meanwhile queued for this connection (no room for
                # another while it opened): cancelled or failed, it must not strand them.
                self._serve_waiters()
                raise
            self._in_use += 1
            return conn
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[asyncpg.Connection] = loop.create_future()
        self._waiters.append(waiter)
        try:
            if seconds is None:
                conn = await waiter
            else:
                conn = await self._deadlines.wait(waiter, seconds)
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection in the same iteration the wait ended: pass it on.
                self._in_use += 1
                self.release(waiter.result())
            raise
        self._in_use += 1
        return conn

    def release(self, conn: asyncpg.Connection, *, discard: bool = False) -> None:
        """Give a connection back. ``discard`` (a cancelled request: its query may still
        be running), a connection left in a transaction, or a closed one is dropped."""
        self._in_use -= 1
        if discard or conn.is_closed() or conn.is_in_transaction():
            self._drop(conn)
        elif self._closed:
            self._retired.append(conn)  # close() closes it gracefully
        else:
            self._give(conn)
            return
        if self._closed and self._in_use == 0 and self._drained is not None:
            self._drained.set()

    def release_after(self, conn: asyncpg.Connection, exc_type: type[BaseException] | None) -> None:
        """``release`` at the end of an ``async with`` that ``exc_type`` ended: a
        cancellation (not an ``Exception``) may have left a query running."""
        cancelled = exc_type is not None and not issubclass(exc_type, Exception)
        self.release(conn, discard=cancelled)

    def _give(self, conn: asyncpg.Connection) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _drop(self, conn: asyncpg.Connection) -> None:
        self._all.discard(conn)
        if not conn.is_closed():
            conn.terminate()
        self._serve_waiters()

    def _serve_waiters(self) -> None:
        """Open a connection in the background for the requests waiting, if any: after a
        connection was dropped, or one being opened never came."""
        if self._waiters and not self._closed:
            # Held until done: the loop keeps only a weak reference to a task.
            task = asyncio.get_running_loop().create_task(self._open_for_waiter())
            self._replacing.add(task)
            task.add_done_callback(self._replacing.discard)

    async def _open(self) -> asyncpg.Connection:
        self._opening += 1
        try:
            conn = await self._connect()
        finally:
            self._opening -= 1
        if self._closed:
            conn.terminate()
            raise PoolClosed("the connection pool is closed")
        self._all.add(conn)
        return conn

    async def _open_for_waiter(self) -> None:
        """A connection for the requests waiting, while there is room for one. One that
        fails to open is the first waiter's answer (503), as its own open would have
        been, and the next waiter gets its own attempt."""
        while self._waiters and not self._closed:
            if len(self._all) + self._opening >= self._size:
                return  # a release or another opening serves them
            try:
                conn = await self._open()
            except Exception as exc:
                while self._waiters:
                    waiter = self._waiters.popleft()
                    if not waiter.done():
                        waiter.set_exception(exc)
                        break
                continue
            self._give(conn)
            return

    async def retire_unused(self) -> int:
        """Close the idle connections no acquire took since the previous call; returns
        how many. The idle list is last in, first out, so they are the ones below its
        lowest level since then: no timestamp per release on the request path."""
        count = min(self._low, len(self._idle))
        unused, self._idle = self._idle[:count], self._idle[count:]
        self._low = len(self._idle)
        self._all.difference_update(unused)
        await asyncio.gather(*(conn.close(timeout=5) for conn in unused), return_exceptions=True)
        return count

    def acquire(self, *, timeout: float | None = None) -> PooledConnection:
        """``async with pool.acquire(timeout=...) as conn``."""
        return PooledConnection(self, timeout)

    async def close(self) -> None:
        """Refuse new acquires, wait for the connections in use, close them all."""
        self._closed = True
        self._retired += self._idle
        self._idle = []
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the connection pool is closed"))
        if self._in_use:
            self._drained = asyncio.Event()
            await self._drained.wait()
        retired, self._retired = self._retired, []
        self._all.difference_update(retired)
        await asyncio.gather(*(conn.close() for conn in retired), return_exceptions=True)

    def terminate(self) -> None:
        """Close every connection now, those in use too."""
        self._closed = True
        for conn in list(self._all):
            conn.terminate()
        self._all.clear()
        self._idle, self._retired = [], []
        if self._drained is not None:
            self._drained.set()


class PooledConnection:
    """``acquire()``'s context manager: a plain class, since the request path's
    acquire runs it on every request and a generator-based one cost more than the pool."""

    __slots__ = ("_conn", "_pool", "_timeout")

    def __init__(self, pool: ConnectionPool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        pool = self._pool
        conn = pool.take()
        if conn is None:
            conn = await pool.wait(self._timeout)
        self._conn = conn
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release_after(conn, exc_type)
