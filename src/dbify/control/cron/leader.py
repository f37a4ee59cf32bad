"""Leader election for the cron scheduler: ``dbify scheduler --leader-lock`` and the
in-process scheduler of every ``dbify serve`` replica contend for one PostgreSQL
advisory lock on the metadata store (``control/leadership.py``).

Not needed for correctness (the store's compare-and-set claim already runs each
occurrence once however many schedulers tick); it keeps the standbys idle so only one
process polls. If the leader dies, PostgreSQL releases the lock and a standby takes
over within ``retry_seconds``. On SQLite every scheduler is its own leader.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.control import leadership

__all__ = ["LEADER_LOCK_KEY", "LeaderLock"]

# An arbitrary, fixed 64-bit key ("dbifycrn").
LEADER_LOCK_KEY = 0x6462696679637266


class LeaderLock(leadership.LeaderLock):
    """The scheduler's advisory lock."""

    def __init__(self, engine: AsyncEngine, *, retry_seconds: float = 2.0) -> None:
        super().__init__(engine, LEADER_LOCK_KEY, retry_seconds=retry_seconds)
