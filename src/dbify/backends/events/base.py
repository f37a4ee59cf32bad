"""What an event is and what a bus must do; adapters live next to this module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["RESYNC", "Event", "EventBus", "EventHandler", "wake_on"]

# Delivered locally by a bus that may have missed messages (the Redis bus, after each
# (re)connection): whoever caches what events announce reloads it.
RESYNC = "bus.resync"


@dataclass(frozen=True, slots=True)
class Event:
    """``topic`` names the kind (``schema.changed``); ``payload`` is JSON-serialisable."""

    topic: str
    payload: Mapping[str, Any] = field(default_factory=dict)


EventHandler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber of its topic; never raises for a subscriber."""

    def subscribe(self, topic: str, handler: EventHandler) -> None:
        """Call ``handler`` for each later event on ``topic``."""

    async def close(self) -> None:
        """Wait for deliveries under way, then stop."""


def wake_on(bus: EventBus, topic: str, wake: Callable[[], None]) -> None:
    """Call ``wake`` on each ``topic`` event and on ``RESYNC`` (announcements missed
    while the bus was reconnecting): for a sleeper that looks for work when woken."""

    async def heard(event: Event) -> None:
        wake()

    bus.subscribe(topic, heard)
    bus.subscribe(RESYNC, heard)
