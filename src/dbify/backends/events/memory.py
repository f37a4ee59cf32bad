"""The in-process event bus: each delivery is a task, so a slow subscriber (SMTP) never
delays the publisher (the schema refresh)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from dbify.backends.events.base import Event, EventHandler

__all__ = ["MemoryEventBus"]

_log = logging.getLogger("dbify.events")


class MemoryEventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, topic: str, handler: EventHandler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, event: Event) -> None:
        for handler in self._handlers.get(event.topic, ()):
            task = asyncio.create_task(self._deliver(handler, event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _deliver(self, handler: EventHandler, event: Event) -> None:
        try:
            await handler(event)
        except Exception:  # one subscriber's failure must not reach the publisher
            _log.exception("subscriber of %s failed", event.topic)

    async def drain(self) -> None:
        """Wait until every delivery published so far has finished."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        self._handlers.clear()
