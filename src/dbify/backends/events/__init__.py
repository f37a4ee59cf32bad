"""The internal event bus: typed events published once, delivered to every subscriber.

    EventBus (Protocol)
    └── MemoryEventBus   in-process, the all-in-one default

A Redis pub/sub adapter (scale-out: every instance hears every event) fits the same
two methods. Webhooks and the schema-change mailer subscribe here.
"""

from dbify.backends.events.base import Event, EventBus, EventHandler
from dbify.backends.events.memory import MemoryEventBus

__all__ = ["Event", "EventBus", "EventHandler", "MemoryEventBus"]
