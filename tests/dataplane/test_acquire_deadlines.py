"""``AcquireDeadlines``: a waiting acquire ends in ``TimeoutError`` shortly after its
deadline, one that completes in time returns its value, and a cancellation that is not
the deadline's (a client gone) stays a cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from dbify.dataplane.connection_pool import AcquireDeadlines

pytestmark = [pytest.mark.anyio, pytest.mark.timing]


async def _never() -> int:
    await asyncio.Event().wait()
    return 0


async def _soon(value: int) -> int:
    await asyncio.sleep(0.01)
    return value


async def test_a_wait_past_its_deadline_is_a_timeout_and_others_are_not() -> None:
    deadlines = AcquireDeadlines(tick=0.02)
    started = time.monotonic()
    results = await asyncio.gather(
        deadlines.wait(_never(), 0.2), deadlines.wait(_soon(7), 0.2), return_exceptions=True
    )
    elapsed = time.monotonic() - started
    assert isinstance(results[0], TimeoutError)
    assert results[1] == 7
    assert 0.2 <= elapsed < 0.5
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0


async def test_a_cancellation_that_is_not_the_deadlines_stays_one() -> None:
    deadlines = AcquireDeadlines(tick=0.02)
    task = asyncio.create_task(deadlines.wait(_never(), 5))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # the watching task ends once nothing waits
    assert deadlines._watch is None
