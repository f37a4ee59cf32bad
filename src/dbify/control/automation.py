"""Webhooks, cron and saved queries in one ``dbify serve`` process (issue 10).

``start_automation`` wires them into the data plane app: the webhook dispatcher becomes
``app.changes`` (row events of data API writes) and listens for ``schema.changed`` on
the bus; the delivery worker runs in-process when ``webhooks.worker_enabled`` (else run
``dbify worker webhooks``); the cron scheduler when ``scheduler.enabled`` (else run
``dbify scheduler``), on one replica at a time (leader election on a PostgreSQL
metadata store, ``control/leadership.py``); saved queries are answered at
``/p/{id}/queries/v1/{name}``.

With the Redis event bus, jobs changed and messages queued in this process are also
announced (``cache.cron``, ``cache.webhooks.queued``), so a separate ``dbify scheduler``
or ``dbify worker webhooks``, which otherwise sleeps until its idle ceiling, wakes now.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import FastAPI

from dbify.app import DbifyApp
from dbify.backends.events import Event, EventBus
from dbify.background import cancel_and_wait
from dbify.control.cron.leader import LeaderLock
from dbify.control.cron.runtime import CRON_CHANGED, build_scheduler
from dbify.control.cron.scheduler import Scheduler
from dbify.control.cron.store import CronStore
from dbify.control.leadership import Singleton
from dbify.control.observability import report_leadership
from dbify.control.plane import ControlPlane
from dbify.control.saved_queries.endpoint import SavedQueryEndpoint
from dbify.control.saved_queries.store import SavedQueryStore
from dbify.control.webhooks.runtime import WEBHOOKS_QUEUED, Webhooks, start_webhooks
from dbify.control.webhooks.store import WebhookStore

__all__ = ["Automation", "start_automation"]


class _Announcer:
    """Publishes ``topic`` after ``store``'s writes in this process, one publish at a
    time: a burst of writes (data API writes queueing messages) costs at most two."""

    def __init__(self, bus: EventBus, topic: str, store: CronStore | WebhookStore) -> None:
        self._bus = bus
        self._topic = topic
        self._store = store
        self._again = False
        self._task: asyncio.Task[None] | None = None
        store.listen(self._wrote)

    def _wrote(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._publish(), name=f"announce {self._topic}")

    async def _publish(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            await self._bus.publish(Event(self._topic, {}))

    async def stop(self) -> None:
        self._store.unlisten(self._wrote)
        await cancel_and_wait(self._task)


@dataclass(slots=True)
class Automation:
    webhooks: Webhooks
    scheduler: Singleton[Scheduler] | None
    announcers: list[_Announcer] = field(default_factory=list)

    async def stop(self) -> None:
        for announcer in self.announcers:
            await announcer.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.webhooks.stop()


async def start_automation(
    plane: ControlPlane, app: DbifyApp, management: FastAPI, bus: EventBus | None
) -> Automation:
    settings = plane.settings
    webhooks = await start_webhooks(plane, bus, run_worker=settings.webhooks.worker_enabled)
    app.changes = webhooks.dispatcher
    # Endpoints added through this process's API are fanned out from the next write on.
    management.state.webhook_endpoints_changed = webhooks.dispatcher.refresh
    app.saved_queries = SavedQueryEndpoint(SavedQueryStore(plane.store.engine))
    scheduler: Singleton[Scheduler] | None = None
    if settings.scheduler.enabled:  # replicas and `dbify scheduler --leader-lock`: one ticks
        lock = LeaderLock(plane.store.engine)
        scheduler = Singleton("scheduler", build_scheduler(plane, bus), lock)
        await scheduler.start()
        report_leadership(app, scheduler)
    automation = Automation(webhooks, scheduler)
    # In memory there is no one else to tell: this process's listeners suffice.
    if bus is not None and settings.events.backend == "redis":
        engine = plane.store.engine
        automation.announcers = [
            _Announcer(bus, CRON_CHANGED, CronStore(engine)),
            _Announcer(bus, WEBHOOKS_QUEUED, WebhookStore(engine)),
        ]
    return automation
