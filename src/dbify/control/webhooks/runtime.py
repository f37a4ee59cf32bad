"""Starting webhooks in a process: the dispatcher (data plane side) and, when asked,
the delivery worker (``dbify serve`` all-in-one; ``dbify worker webhooks``)."""

from __future__ import annotations

from dataclasses import dataclass

from dbify.backends.events import EventBus
from dbify.control.outbound import OutboundPolicy
from dbify.control.plane import ControlPlane
from dbify.control.webhooks.dispatch import WebhookDispatcher
from dbify.control.webhooks.service import WebhookService
from dbify.control.webhooks.store import WebhookStore
from dbify.workers.webhooks import WebhookWorker

__all__ = ["Webhooks", "start_webhooks"]


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
        await worker.start()
    return Webhooks(dispatcher, worker)
