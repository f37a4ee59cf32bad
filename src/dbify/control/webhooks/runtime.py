"""Starting webhooks in a process: the dispatcher (data plane side) and, when asked,
the delivery worker (``dbify serve`` all-in-one; ``dbify worker webhooks``).

Messages queued in this process wake its worker directly (``WebhookStore``'s
listeners). Those queued by another process reach it through the event bus: the
serving process announces ``WEBHOOKS_QUEUED`` (``control/automation.py``), which the
Redis bus broadcasts, and ``listen_for_queued`` wakes the worker on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbify.backends.events import EventBus, wake_on
from dbify.backends.loader import open_event_bus
from dbify.control.outbound import OutboundPolicy
from dbify.control.plane import ControlPlane
from dbify.control.webhooks.dispatch import WebhookDispatcher
from dbify.control.webhooks.service import WebhookService
from dbify.control.webhooks.store import WebhookStore
from dbify.settings import Settings
from dbify.workers.webhooks import WebhookWorker

__all__ = [
    "WEBHOOKS_QUEUED",
    "Webhooks",
    "listen_for_queued",
    "open_webhook_worker",
    "start_webhooks",
]

# `cache.*` so that the Redis bus broadcasts it: an idle worker's belief that nothing
# is due is what goes stale.
WEBHOOKS_QUEUED = "cache.webhooks.queued"


def listen_for_queued(bus: EventBus, worker: WebhookWorker) -> None:
    """Wake ``worker`` when another process announces queued messages."""
    wake_on(bus, WEBHOOKS_QUEUED, worker.wake)


@dataclass(slots=True)
class Webhooks:
    dispatcher: WebhookDispatcher
    worker: WebhookWorker | None

    async def stop(self) -> None:
        await self.dispatcher.stop()
        if self.worker is not None:
            await self.worker.stop()


async def start_webhooks(
    plane: ControlPlane, bus: EventBus | None, *, run_worker: bool
) -> Webhooks:
    settings = plane.settings.webhooks
    store = WebhookStore(plane.store.engine)
    service = WebhookService(
        store, plane.projects, plane.box, OutboundPolicy(settings.allowed_hosts)
    )
    dispatcher = WebhookDispatcher(service, directory=plane.directory)
    await dispatcher.start(bus)
    worker = None
    if run_worker:
        worker = WebhookWorker(store, plane.box, settings)
        if bus is not None:
            listen_for_queued(bus, worker)
        await worker.start()
    return Webhooks(dispatcher, worker)


async def open_webhook_worker(settings: Settings, plane: ControlPlane) -> WebhookWorker:
    """The worker of ``dbify worker webhooks``. With the Redis event bus it hears the
    replicas' announcements on a connection of its own, closed when it stops."""
    bus = await open_event_bus(settings) if settings.events.backend == "redis" else None
    store = WebhookStore(plane.store.engine)
    worker = WebhookWorker(store, plane.box, settings.webhooks, own_bus=bus)
    if bus is not None:
        listen_for_queued(bus, worker)
    return worker
