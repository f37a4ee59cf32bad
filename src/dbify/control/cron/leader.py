"""Optional leader election for ``dbify scheduler --leader-lock``: a PostgreSQL
session-level advisory lock on the metadata store.

Not needed for correctness (the store's compare-and-set claim already runs each
occurrence once however many schedulers tick); it keeps the standbys idle so only one
process polls. The lock lives as long as the holder's connection: if the leader dies,
PostgreSQL releases it and a standby takes over within ``retry_seconds``. On SQLite
there is nothing to lock against, so every scheduler is its own leader.
"""

from __future__ import annotations

import asyncio
import contextlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["LEADER_LOCK_KEY", "LeaderLock"]

# An arbitrary, fixed 64-bit key ("dbifycrn").
LEADER_LOCK_KEY = 0x6462696679637266


class LeaderLock:
    def __init__(self, engine: AsyncEngine, *, retry_seconds: float = 2.0) -> None:
        self._engine = engine
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
        held = bool((await self._conn.execute(query, {"key": LEADER_LOCK_KEY})).scalar_one())
        await self._conn.commit()
        return held

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until we lead (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            if await self.try_acquire():
                return True
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
