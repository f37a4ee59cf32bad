"""``dbify scheduler --leader-lock``: one holder of the advisory lock at a time; it
passes to a standby when the leader's connection goes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dbify.control.cron.leader import LeaderLock
from dbify.metadata import open_metadata_store

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def metadata_database(make_database: Callable[..., str]) -> str:
    return make_database()


async def test_one_leader_at_a_time(metadata_database: str) -> None:
    stores = [open_metadata_store(metadata_database) for _ in range(2)]
    try:
        first, second = (LeaderLock(s.engine) for s in stores)
        assert first.supported
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.alive()
        await first.release()
        assert await second.try_acquire()
        assert not await first.try_acquire()
        await first.release()
        await second.release()
    finally:
        for store in stores:
            await store.close()
