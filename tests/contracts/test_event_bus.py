"""The event bus contract (memory and Redis pub/sub), plus what only the Redis adapter
promises: ``cache.*`` events reach the other instances within a second, once, and
domain events stay local."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest

from dbify.backends.events import Event, EventBus, MemoryEventBus
from dbify.backends.events.redis_pubsub import RedisEventBus

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _redis_bus(channel: str) -> RedisEventBus:
    bus = RedisEventBus(REDIS_URL, channel=channel)
    await bus.start()
    assert bus.connected
    return bus


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    made: EventBus
    if request.param == "memory":
        made = MemoryEventBus()
    else:
        made = await _redis_bus(f"test:{os.urandom(4).hex()}")
    yield made
    await made.close()


async def _until(predicate: object, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)


async def test_subscribers_of_the_topic_receive_the_event(bus: EventBus) -> None:
    got: list[Event] = []
    other: list[Event] = []

    async def handler(event: Event) -> None:
        got.append(event)

    async def unrelated(event: Event) -> None:
        other.append(event)

    bus.subscribe("cache.project", handler)
    bus.subscribe("schema.changed", unrelated)
    await bus.publish(Event("cache.project", {"project_id": "p1"}))
    await _until(lambda: got)
    await asyncio.sleep(0.05)
    assert got == [Event("cache.project", {"project_id": "p1"})]  # once, not echoed back
    assert other == []


async def test_a_failing_subscriber_does_not_reach_the_publisher(bus: EventBus) -> None:
    got: list[Event] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("boom")

    async def fine(event: Event) -> None:
        got.append(event)

    bus.subscribe("cache.x", broken)
    bus.subscribe("cache.x", fine)
    await bus.publish(Event("cache.x", {}))
    await _until(lambda: got)
    assert len(got) == 1


@pytest.mark.timing
async def test_cache_events_reach_other_instances_within_a_second() -> None:
    channel = f"test:{os.urandom(4).hex()}"
    one, two = await _redis_bus(channel), await _redis_bus(channel)
    try:
        heard: list[tuple[float, Event]] = []

        async def handler(event: Event) -> None:
            heard.append((time.monotonic(), event))

        two.subscribe("cache.project", handler)
        two.subscribe("schema.changed", handler)
        sent = time.monotonic()
        await one.publish(Event("cache.project", {"project_id": "p1"}))
        await one.publish(Event("schema.changed", {"project_id": "p1"}))  # stays local
        await _until(lambda: heard)
        await asyncio.sleep(0.1)
        assert [e for _, e in heard] == [Event("cache.project", {"project_id": "p1"})]
        assert heard[0][0] - sent < 1.0
    finally:
        await one.close()
        await two.close()


async def test_publishing_while_redis_is_away_still_delivers_locally() -> None:
    bus = RedisEventBus("redis://127.0.0.1:1/0")
    await bus.start(timeout=0.3)
    try:
        got: list[Event] = []

        async def handler(event: Event) -> None:
            got.append(event)

        bus.subscribe("cache.project", handler)
        await bus.publish(Event("cache.project", {"project_id": "p"}))
        await _until(lambda: got)
        assert got
        assert not bus.connected
        assert not await bus.ping()
    finally:
        await bus.close()
