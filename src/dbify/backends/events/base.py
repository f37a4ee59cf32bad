"""What an event is and what a bus must do; adapters live next to this module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Event", "EventBus", "EventHandler"]


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
