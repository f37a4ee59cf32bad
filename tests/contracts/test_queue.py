"""The queue contract: every adapter passes the same tests, against the real brokers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest

from dbify.backends.queue import MemoryQueue, Queue
from tests.fixtures.queues import KINDS, own_queue, remove_own_queue

CLAIM_IDLE = 0.3

Factory = Callable[[], Queue]
pytestmark = pytest.mark.anyio


@pytest.fixture(params=KINDS)
async def make_queue(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    name = os.urandom(4).hex()
    shared = MemoryQueue(claim_idle_seconds=CLAIM_IDLE)
    opened: list[Queue] = []

    def make() -> Queue:
        queue: Queue = shared
        if request.param != "memory":
            queue = own_queue(request.param, name, claim_idle_seconds=CLAIM_IDLE)
        opened.append(queue)
        return queue

    yield make
    for queue in opened:
        await queue.close()
    await remove_own_queue(request.param, name)


async def _drain(queue: Queue, expected: int, wait_seconds: float = 5.0) -> list[bytes]:
    got: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while len(got) < expected and loop.time() < deadline:
        batch = await queue.consume(100, 0.2)
        got.extend(delivery.body for delivery in batch)
        await queue.ack(batch)
    return got


async def test_published_messages_are_consumed_in_order_once(make_queue: Factory) -> None:
    queue = make_queue()
    bodies = [f"m{i}".encode() for i in range(25)]
    await queue.publish(bodies)
    assert await _drain(queue, 25) == bodies
    assert await queue.consume(10, 0.3) == []


async def test_consume_respects_max_count_and_timeout(make_queue: Factory) -> None:
    queue = make_queue()
    assert await queue.consume(5, 0.1) == []
    await queue.publish([b"a", b"b", b"c"])
    first = await queue.consume(2, 1.0)
    assert 1 <= len(first) <= 2
    await queue.ack(first)
    rest = await _drain(queue, 3 - len(first))
    assert [d.body for d in first] + rest == [b"a", b"b", b"c"]


async def test_unacked_messages_are_redelivered_to_another_consumer(make_queue: Factory) -> None:
    first = make_queue()
    await first.publish([b"x", b"y"])
    taken = await first.consume(10, 1.0)
    assert {d.body for d in taken} <= {b"x", b"y"}
    if len(taken) < 2:
        taken += await first.consume(10, 1.0)
    await first.close()  # dies without acking
    await asyncio.sleep(CLAIM_IDLE + 0.1)
    second = make_queue()
    assert sorted(await _drain(second, 2)) == [b"x", b"y"]
    assert await second.consume(10, 0.5) == []


async def test_backlog_counts_what_is_published_and_not_yet_acked(make_queue: Factory) -> None:
    queue = make_queue()
    assert await queue.backlog() == 0
    await queue.publish([b"1", b"2", b"3"])
    assert await queue.backlog() == 3
    got = await _drain(queue, 3)
    assert sorted(got) == [b"1", b"2", b"3"]
    assert await queue.backlog() == 0


async def test_acked_messages_are_never_redelivered(make_queue: Factory) -> None:
    queue = make_queue()
    await queue.publish([b"done"])
    batch = await queue.consume(10, 1.0)
    await queue.ack(batch)
    await asyncio.sleep(CLAIM_IDLE + 0.1)
    assert await queue.consume(10, 0.3) == []


async def test_a_cancelled_consume_keeps_what_was_handed_out_ackable(make_queue: Factory) -> None:
    """A worker's ``stop`` cancels the consume that waits for more of its batch; the
    batch it holds must still ack, and nothing is lost or handed out twice. Cancelled at
    spread-out moments of the wait, so some land in a broker round trip (RabbitMQ:
    aiormq closed the channel, and its deliveries with it, when a basic.get was cut)."""
    queue = make_queue()
    rounds = 60
    await queue.publish([f"m{i}".encode() for i in range(rounds)])
    seen: list[bytes] = []
    for n in range(rounds // 2):  # each round takes one or two messages
        held = await queue.consume(1, 5.0)
        assert len(held) == 1
        seen.append(held[0].body)
        waiting = asyncio.ensure_future(queue.consume(1, 5.0))
        for _ in range(n):  # cancelled after 0 to 29 turns of the event loop
            await asyncio.sleep(0)
        waiting.cancel()
        late = await asyncio.gather(waiting, return_exceptions=True)
        if isinstance(late[0], list):  # it finished first: its message counts too
            seen.extend(delivery.body for delivery in late[0])
            await queue.ack(late[0])
        await queue.ack(held)
    seen.extend(await _drain(queue, rounds - len(seen)))
    assert sorted(seen) == sorted(f"m{i}".encode() for i in range(rounds))
    assert await queue.backlog() == 0
