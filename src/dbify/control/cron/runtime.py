"""Building the scheduler of a process (``dbify scheduler``; in-process in ``dbify serve``).

Writes through the API of the same process wake the scheduler directly (``CronStore``'s
listeners). Writes in other processes reach it through the event bus: the serving
process announces ``CRON_CHANGED`` (``control/automation.py``), which the Redis bus
broadcasts, and ``build_scheduler`` with a bus subscribes to it.
"""

from __future__ import annotations

from dbify.backends.events import EventBus, wake_on
from dbify.control.cron.scheduler import Scheduler
from dbify.control.cron.store import CronStore
from dbify.control.outbound import OutboundPolicy
from dbify.control.plane import ControlPlane
from dbify.control.projects.store import ProjectStore

__all__ = ["CRON_CHANGED", "build_scheduler"]

# `cache.*` so that the Redis bus broadcasts it: the scheduler's idea of when the next
# run is due is what goes stale.
CRON_CHANGED = "cache.cron"


def build_scheduler(plane: ControlPlane, bus: EventBus | None = None) -> Scheduler:
    """A scheduler on the plane's store; HTTP actions obey the webhooks' allow-list. With
    ``bus``, it also wakes when another process announces a change."""
    engine = plane.store.engine
    policy = OutboundPolicy(plane.settings.webhooks.allowed_hosts)
    scheduler = Scheduler(
        CronStore(engine), ProjectStore(engine), plane.box, plane.settings.scheduler, policy
    )
    if bus is not None:
        wake_on(bus, CRON_CHANGED, scheduler.wake)
    return scheduler
