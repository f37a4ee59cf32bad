"""Leader election of singletons (``control/leadership.py``) on a PostgreSQL metadata
store: one ``Singleton`` runs its role at a time, a standby takes over when the
leader's session ends (its connection killed, as when the process dies), and on
SQLite every process leads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from dbify.control.leadership import LeaderLock, Singleton
from dbify.metadata import open_metadata_store

pytestmark = [pytest.mark.anyio, pytest.mark.timing]
KEY = 0x7465737431  # not a key the product uses


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def metadata_database(make_database: Callable[..., str]) -> str:
    return make_database()


class _Role:
    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    async def start(self) -> None:
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False


async def test_one_leader_and_failover_when_its_session_ends(metadata_database: str) -> None:
    url = metadata_database
    stores = [open_metadata_store(url) for _ in range(2)]
    roles = [_Role(), _Role()]
    singletons = [
        Singleton("test", role, LeaderLock(s.engine, KEY, retry_seconds=0.2), check_seconds=0.2)
        for role, s in zip(roles, stores, strict=True)
    ]
    try:
        for singleton in singletons:
            await singleton.start()
        await asyncio.sleep(0.5)
        assert [r.running for r in roles] == [True, False]
        assert [s.leading for s in singletons] == [True, False]
        # The leader dies (SIGKILL): its loop stops and its session ends with the lock.
        assert singletons[0]._task is not None
        singletons[0]._task.cancel()
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND granted AND objid = $1::bigint::oid",
                KEY & 0xFFFFFFFF,
            )
        finally:
            await conn.close()
        started = time.monotonic()
        while not roles[1].running:
            assert time.monotonic() - started < 5, "the standby did not take over"
            await asyncio.sleep(0.05)
        print(f"the standby took over after {time.monotonic() - started:.2f} s")
    finally:
        for singleton in singletons:
            await singleton.stop()
        for store in stores:
            await store.close()


async def test_stopping_the_leader_hands_over(metadata_database: str) -> None:
    url = metadata_database
    stores = [open_metadata_store(url) for _ in range(2)]
    roles = [_Role(), _Role()]
    singletons = [
        Singleton("test", role, LeaderLock(s.engine, KEY, retry_seconds=0.2), check_seconds=0.2)
        for role, s in zip(roles, stores, strict=True)
    ]
    try:
        for singleton in singletons:
            await singleton.start()
        await singletons[0].stop()
        started = time.monotonic()
        while not roles[1].running:
            assert time.monotonic() - started < 2
            await asyncio.sleep(0.05)
    finally:
        for singleton in singletons:
            await singleton.stop()
        for store in stores:
            await store.close()


async def test_on_sqlite_every_process_leads(tmp_path: Path) -> None:
    stores = [open_metadata_store(f"sqlite+aiosqlite:///{tmp_path}/m.db") for _ in range(2)]
    roles = [_Role(), _Role()]
    singletons = [
        Singleton("test", role, LeaderLock(s.engine, KEY))
        for role, s in zip(roles, stores, strict=True)
    ]
    try:
        for singleton in singletons:
            await singleton.start()
        assert all(r.running for r in roles)  # one node: no one to elect against
    finally:
        for singleton in singletons:
            await singleton.stop()
        for store in stores:
            await store.close()
