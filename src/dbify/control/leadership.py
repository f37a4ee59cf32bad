"""Leader election for the fleet's singletons: the schema watch and the cron scheduler.

Several ``dbify serve`` replicas (and ``dbify scheduler`` processes) may have the same
singleton enabled; only one may run it at a time, or every replica would email the
same schema change and poll every project's catalog. ``LeaderLock`` is a PostgreSQL
session-level advisory lock taken on its own connection to the metadata store: it lives
exactly as long as that session, so when the leader dies (even SIGKILL: the kernel
closes its socket) PostgreSQL releases it and a standby, retrying every
``retry_seconds``, takes over. ``Singleton`` runs a ``Role`` (``start``/``stop``) while
its process holds the lock and stops it if the lock's connection goes.

On SQLite there is nothing to lock against: a SQLite metadata store means one node,
and every process is its own leader. This module does not decide what the singletons
do; it only decides where they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["SCHEMA_WATCH_LOCK_KEY", "LeaderLock", "Role", "Singleton"]

# Arbitrary fixed 64-bit keys, one per singleton ("dbifyswt": schema watch).
SCHEMA_WATCH_LOCK_KEY = 0x6462696679737774
_log = logging.getLogger("dbify.leadership")


class LeaderLock:
    """The advisory lock ``key`` on a connection of its own to the metadata store."""

    def __init__(self, engine: AsyncEngine, key: int, *, retry_seconds: float = 2.0) -> None:
        self._engine = engine
        self._key = key
        self._retry = retry_seconds
        self._conn: AsyncConnection | None = None

    @property
    def supported(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def try_acquire(self) -> bool:
        if not self.supported:
            return True
        if self._conn is None:
            self._conn = await self._engine.connect()
        query = sa.text("SELECT pg_try_advisory_lock(:key)")
        held = bool((await self._conn.execute(query, {"key": self._key})).scalar_one())
        await self._conn.commit()
        return held

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until we lead (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            try:
                if await self.try_acquire():
                    return True
            except Exception as error:  # the metadata store is away: keep trying
                _log.warning("leader lock: %s", type(error).__name__)
                await self.release()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._retry)
        return False

    async def alive(self) -> bool:
        """Whether the lock's connection (and so the lock) is still there."""
        if self._conn is None:
            return self.supported is False
        try:
            await self._conn.execute(sa.text("SELECT 1"))
            await self._conn.commit()
        except Exception:
            return False
        return True

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                # Invalidate rather than close: a pooled connection would keep the
                # session, and with it the lock. Ending the session releases it.
                await self._conn.invalidate()
                await self._conn.close()
            self._conn = None


class Role(Protocol):
    """What a singleton is: something started and stopped, possibly several times."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


_R = TypeVar("_R", bound=Role)


class Singleton(Generic[_R]):
    """Runs ``role`` while this process holds ``lock``; stands by otherwise."""

    def __init__(
        self, name: str, role: _R, lock: LeaderLock, *, check_seconds: float = 2.0
    ) -> None:
        self.name = name
        self.role = role
        self.leading = False
        self._lock = lock
        self._check = check_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start contending; returns at once (or once leading, when there is no rival
        to wait for: SQLite, or a free lock), so a lone process starts as before."""
        self._stop.clear()
        if await self._lock.try_acquire():
            await self._lead()
        self._task = asyncio.create_task(self._run(), name=f"leader-{self.name}")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.leading:
            await self._step_down()

    async def _run(self) -> None:
        while not self._stop.is_set():
            if not self.leading:
                if not await self._lock.acquire(self._stop):
                    return
                try:
                    await self._lead()
                except Exception:  # keep contending: the next attempt may succeed
                    _log.exception("could not start %s", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._check)
            if not self._stop.is_set() and not await self._lock.alive():
                _log.warning("lost the %s leader lock; standing by", self.name)
                await self._step_down()

    async def _lead(self) -> None:
        _log.info("leading: %s", self.name)
        try:
            await self.role.start()
        except BaseException:
            await self._lock.release()
            raise
        self.leading = True

    async def _step_down(self) -> None:
        self.leading = False
        try:
            await self.role.stop()
        finally:
            await self._lock.release()
