"""The publisher ships full batches even while requests keep arriving.

Each publish awaits; under load requests are recorded meanwhile. A flush takes only what
was buffered when it began (in ``batch_size`` messages); what arrives during it waits for
the next flush. Draining "until empty" instead never ended under sustained load and cut
the log into one ~10-event message per loop iteration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from dbify.analytics.event import count_events
from dbify.analytics.publisher import RequestLogPublisher
from dbify.analytics.recorder import RequestRecorder
from dbify.analytics.spool import Spool
from dbify.backends.queue.memory import MemoryQueue
from dbify.dataplane.respond import ApiResponse
from dbify.dataplane.timing import RequestTiming

pytestmark = pytest.mark.anyio

_PROJECT = SimpleNamespace(id="p1", keys=SimpleNamespace(verify=lambda presented: None))


def _record(recorder: RequestRecorder, count: int) -> None:
    for _ in range(count):
        ids = recorder.new_request_id({})
        scope = {"method": "GET", "query_string": b"id=eq.1", "client": ("10.1.2.3", 1)}
        response = ApiResponse(200, b"[]", [(b"content-range", b"0-0/*")])
        recorder.record(
            _PROJECT, ids, int(time.time() * 1e6), 1000, RequestTiming(), scope, {}, "/t", response
        )


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
