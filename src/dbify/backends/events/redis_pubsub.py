"""The event bus across instances: Redis pub/sub (scale-out).

Every instance publishes on one Redis channel and listens on it. An event published
here is delivered to this instance's subscribers at once (in-process, as
``MemoryEventBus`` does); events whose topic starts with one of ``shared_prefixes``
(``cache.``: invalidations) also reach every other instance through Redis. Domain
events (``schema.changed``) stay with the instance that saw them, so their side
effects (emails, webhook fan-out) happen once, not once per replica. Each message
carries the publishing instance's ``origin`` so an instance never handles its own
event twice.

Pub/sub is fire-and-forget: an instance that is disconnected misses what is published
meanwhile. So after every (re)connection the bus delivers a local ``RESYNC`` event,
and subscribers that cache state (the live project directory) reload it from the
metadata store. Publishing while Redis is away logs a warning and still delivers
locally; it never raises.

It does not persist events (webhooks keep their own delivery table) nor order them
across instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from dbify.backends.events.base import RESYNC, Event, EventHandler
from dbify.backends.events.memory import MemoryEventBus
from dbify.background import cancel_and_wait

__all__ = ["RESYNC", "RedisEventBus"]

_log = logging.getLogger("dbify.events")
_RECONNECT_MAX_SECONDS = 5.0


class RedisEventBus:
    """Publish to and hear from every instance sharing ``url`` and ``channel``."""

    def __init__(
        self,
        url: str,
        channel: str = "dbify:events",
        shared_prefixes: tuple[str, ...] = ("cache.",),
    ) -> None:
        self.origin = secrets.token_hex(8)
        self._shared = shared_prefixes
        self._url = url
        self._channel = channel
        self._local = MemoryEventBus()
        self._client: redis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.connected = False

    async def start(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Connect and subscribe; returns once listening (or after ``timeout``)."""
        self._client = redis.Redis.from_url(self._url, socket_connect_timeout=timeout)
        self._reader = asyncio.create_task(self._listen(), name="event-bus-redis")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)

    def subscribe(self, topic: str, handler: EventHandler) -> None:
        self._local.subscribe(topic, handler)

    async def publish(self, event: Event) -> None:
        await self._local.publish(event)
        if not event.topic.startswith(self._shared):
            return
        message = orjson.dumps({"o": self.origin, "t": event.topic, "p": dict(event.payload)})
        try:
            assert self._client is not None, "start() the bus first"
            await self._client.publish(self._channel, message)
        except (RedisError, OSError) as error:
            _log.warning("event %s not broadcast: %s", event.topic, type(error).__name__)

    async def ping(self) -> bool:
        """True when Redis answers (readiness)."""
        try:
            assert self._client is not None
            return bool(await asyncio.wait_for(self._client.ping(), 2))
        except (RedisError, OSError, TimeoutError, AssertionError):
            return False

    async def _listen(self) -> None:
        delay = 0.1
        first = True
        while True:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.connected = True
                self._subscribed.set()
                delay = 0.1
                if not first:  # anything may have been missed while no one listened
                    await self._local.publish(Event(RESYNC, {}))
                first = False
                while True:
                    message = await pubsub.get_message(timeout=30)
                    if message is not None:
                        await self._receive(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self.connected = False
                _log.warning("event bus lost Redis (%s); reconnecting", type(error).__name__)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RECONNECT_MAX_SECONDS)

    async def _receive(self, message: dict[str, Any]) -> None:
        try:
            data = orjson.loads(message["data"])
            if data["o"] == self.origin or not str(data["t"]).startswith(self._shared):
                return
            event = Event(str(data["t"]), dict(data["p"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            _log.warning("ignored a malformed event on %s", self._channel)
            return
        await self._local.publish(event)

    async def drain(self) -> None:
        await self._local.drain()

    async def close(self) -> None:
        await cancel_and_wait(self._reader)
        self._reader = None
        await self._local.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
