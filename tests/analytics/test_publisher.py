"""The publisher ships full batches even while requests keep arriving.

Each publish awaits; under load requests are recorded meanwhile. A flush takes only what
was buffered when it began (in ``batch_size`` messages); what arrives during it waits for
the next flush. Draining "until empty" instead never ended under sustained load and cut
the log into one ~10-event message per loop iteration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from dbify.analytics.event import count_events
from dbify.analytics.publisher import RequestLogPublisher
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.queue.memory import MemoryQueue
from tests.analytics.test_nothing_lost import _record

pytestmark = pytest.mark.anyio


class _BusyQueue(MemoryQueue):
    """The in-process queue, with requests arriving while each publish is awaited."""

    def __init__(self, recorder: RequestRecorder) -> None:
        super().__init__(capacity=1000)
        self.recorder = recorder
        self.sizes: list[int] = []

    async def publish(self, bodies: Sequence[bytes]) -> None:
        _record(self.recorder, 10)
        await asyncio.sleep(0)
        self.sizes += [count_events(body, trusted=True) or 0 for body in bodies]
        await super().publish(bodies)


async def test_a_flush_ships_what_was_buffered_in_full_batches(tmp_path: Path) -> None:
    recorder = RequestRecorder(capacity=10_000)
    queue = _BusyQueue(recorder)
    publisher = RequestLogPublisher(
        recorder, queue, Spool(tmp_path / "spool", max_bytes=1_000_000), batch_size=500
    )
    _record(recorder, 1200)
    async with asyncio.timeout(5):
        await publisher.flush(force=True)
    assert queue.sizes == [500, 500, 200]
    assert len(recorder) == 30  # arrived during the flush: the next one ships them
    async with asyncio.timeout(5):
        await publisher.flush(force=True)
    assert queue.sizes == [500, 500, 200, 30]


async def test_the_spool_counts_its_messages_across_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10)
    assert (len(spool), spool.oldest(5)) == (0, [])
    assert spool.put(b"first")
    assert spool.put(b"two")
    assert not spool.put(b"too big")  # 5 + 3 + 7 > 10: refused, not counted
    assert (len(spool), spool.size) == (2, 8)
    reopened = Spool(tmp_path, max_bytes=10)  # a restart finds what was spooled
    assert len(reopened) == 2
    assert [body for _, body in reopened.oldest(5)] == [b"first", b"two"]
    reopened.remove([path for path, _ in reopened.oldest(1)])
    assert (len(reopened), reopened.size) == (1, 3)
    assert reopened.put(b"3rd")  # after the survivor, in order
    assert [body for _, body in reopened.oldest(5)] == [b"two", b"3rd"]


class _CountingPublisher(RequestLogPublisher):
    """Counts the loop's looks at the buffer (each wake runs one ``flush``)."""

    looks = 0

    async def flush(self, *, force: bool = False) -> None:
        self.looks += 1
        await super().flush(force=force)


async def _published(queue: MemoryQueue, within: float) -> list[int]:
    """Event counts of the messages the queue received within ``within`` seconds."""
    deliveries = await queue.consume(100, within)
    await queue.ack(deliveries)
    return [count_events(delivery.body, trusted=True) or 0 for delivery in deliveries]


async def test_the_publisher_sleeps_while_idle_and_wakes_for_entries(tmp_path: Path) -> None:
    """No looks while nothing is buffered (it looked every 50 ms before); the first entry
    after a quiet spell ships at once, the next wait for ``flush_seconds`` or a full batch."""
    recorder = RequestRecorder(capacity=10_000)
    queue = MemoryQueue()
    publisher = _CountingPublisher(
        recorder, queue, Spool(tmp_path / "spool", max_bytes=1_000_000), batch_size=50,
        flush_seconds=0.4,
    )  # fmt: skip
    await publisher.start()
    try:
        await asyncio.sleep(1.0)
        assert publisher.looks == 0
        _record(recorder, 1)  # the last flush (none) is older than flush_seconds
        assert await _published(queue, 0.3) == [1]
        _record(recorder, 3)
        assert await _published(queue, 0.2) == []  # not due yet, and not a full batch
        assert await _published(queue, 0.6) == [3]  # due
        publisher.flush_seconds = 30.0
        _record(recorder, 49)
        assert await _published(queue, 0.3) == []
        _record(recorder, 1)  # the 50th: a full batch wakes it
        assert await _published(queue, 0.3) == [50]
        looks = publisher.looks
        await asyncio.sleep(0.5)
        assert publisher.looks == looks  # empty again: asleep
    finally:
        await publisher.stop()
