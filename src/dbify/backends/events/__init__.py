"""The internal event bus: typed events published once, delivered to every subscriber.

    EventBus (Protocol)
    ├── MemoryEventBus   in-process, the all-in-one default
    └── RedisEventBus    Redis pub/sub: ``cache.*`` events reach every instance
                         (redis_pubsub.py, imported lazily by backends/loader.py)

Webhooks, the schema-change mailer and (scale-out) the live directory's broadcast
invalidation subscribe here.
"""

from dbify.backends.events.base import RESYNC, Event, EventBus, EventHandler, wake_on
from dbify.backends.events.memory import MemoryEventBus

__all__ = ["RESYNC", "Event", "EventBus", "EventHandler", "MemoryEventBus", "wake_on"]
