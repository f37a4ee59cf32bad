"""Redis Streams queue details the contract suite does not reach (its waits are short)."""

from __future__ import annotations

import os
import time

import pytest

from tests.fixtures.queues import own_queue, remove_own_queue

pytestmark = pytest.mark.anyio


async def test_a_wait_longer_than_the_socket_timeout_returns_empty_not_an_error() -> None:
    """The request-log worker waits 5 s for messages by default: a blocking read that
    long outlasted the client's 5 s socket timeout, so every idle round failed."""
    name = os.urandom(4).hex()
    queue = own_queue("redis", name)
    try:
        started = time.monotonic()
        assert await queue.consume(10, 6.0) == []
        assert time.monotonic() - started < 6.5
        await queue.publish([b"m"])
        got = await queue.consume(10, 6.0)
        assert [delivery.body for delivery in got] == [b"m"]
        await queue.ack(got)
    finally:
        await queue.close()
        await remove_own_queue("redis", name)
