"""Stopping the request-log worker is prompt and loses nothing, with every queue.

Real Redis and RabbitMQ (a stream / queue of the test's own), real chDB. The worker waits
``flush_seconds`` (5 s here, the all-in-one default) for messages; ``stop`` must not wait
that out: an idle ``dbify serve`` used to take ~7 s to exit.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dbify.analytics.event import encode_batch
from dbify.backends.analytics.chdb_store import ChdbStore
from dbify.backends.queue import Queue
from dbify.workers.request_log import RequestLogWorker
from tests.analytics.test_nothing_lost import _events
from tests.fixtures.queues import KINDS, own_queue, remove_own_queue

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

FLUSH_SECONDS = 5.0
PROMPT = 1.5  # well under FLUSH_SECONDS: the old stop took one to two of them


@pytest.fixture(params=KINDS)
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[Queue]:
    name = f"stop-{os.urandom(4).hex()}"
    made = own_queue(request.param, name)
    if request.param.startswith("kafka"):
        await _join_group(made)
    yield made
    await made.close()
    await remove_own_queue(request.param, name)


async def _join_group(queue: Queue) -> None:
    """A Kafka consumer group forms ~3 s after its first member asks (the broker's
    initial rebalance delay): formed beforehand, the tests below time the worker."""
    joined = time.monotonic() + 3.5
    while time.monotonic() < joined:
        assert await queue.consume(1, 0.5) == []


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ChdbStore]:
    opened = ChdbStore(tmp_path / "analytics")
    yield opened
    await opened.close()


async def _stored(store: ChdbStore) -> int:
    rows = await store.select("SELECT count() FROM {db}.request_log FINAL")
    return int(rows[0][0])


async def test_an_idle_worker_stops_at_once(queue: Queue, store: ChdbStore) -> None:
    worker = RequestLogWorker(queue, store, batch_size=10, flush_seconds=FLUSH_SECONDS)
    await worker.start()
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await worker.stop()
    assert time.monotonic() - started < PROMPT
    # What arrives afterwards is taken by a final round, which does not wait either.
    await queue.publish([encode_batch(_events(3))])
    started = time.monotonic()
    deadline = started + 10
    written = 0
    while written == 0 and time.monotonic() < deadline:  # a broker may take a moment
        written = await worker.run_once()
    assert written == 3
    assert await _stored(store) == 3
    assert await queue.backlog() == 0


async def test_stop_writes_and_acks_the_batch_it_was_gathering(
    queue: Queue, store: ChdbStore
) -> None:
    worker = RequestLogWorker(queue, store, batch_size=10, flush_seconds=FLUSH_SECONDS)
    await worker.start()
    await queue.publish([encode_batch(_events(4))])
    # The round takes the message at once (the queues' polls are well under a second),
    # then waits up to FLUSH_SECONDS for more before writing.
    await asyncio.sleep(1.0)
    assert worker.events_written == 0
    started = time.monotonic()
    await worker.stop()
    assert time.monotonic() - started < PROMPT
    assert worker.events_written == 4
    assert await _stored(store) == 4
    assert await queue.backlog() == 0
