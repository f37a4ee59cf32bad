"""The in-process request-log queue holds at most ``buffer_size`` events in messages:
beyond that the publisher gets ``QueueUnavailable`` and spools to disk instead of
growing memory (a store slower than the requests, e.g. a busy chDB child)."""

from __future__ import annotations

import pytest

from dbify.backends.loader import build_queue
from dbify.backends.queue.base import QueueUnavailable
from dbify.settings import Settings

pytestmark = pytest.mark.anyio


async def test_the_in_process_queue_holds_buffer_size_events() -> None:
    settings = Settings(analytics={"buffer_size": 1000, "batch_size": 100})
    queue = build_queue(settings)
    assert queue.in_process
    await queue.publish([b"m"] * 10)  # 10 messages of up to 100 events: 1,000 events
    with pytest.raises(QueueUnavailable):
        await queue.publish([b"m"])
    taken = await queue.consume(10, 0.1)
    await queue.ack(taken)
    await queue.publish([b"m"])  # room again once the consumer caught up
    assert await queue.backlog() == 1
