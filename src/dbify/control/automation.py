"""Webhooks, cron and saved queries in one ``dbify serve`` process (issue 10).

``start_automation`` wires them into the data plane app: the webhook dispatcher becomes
``app.changes`` (row events of data API writes) and listens for ``schema.changed`` on
the bus; the delivery worker runs in-process when ``webhooks.worker_enabled`` (else run
``dbify worker webhooks``); the cron scheduler when ``scheduler.enabled`` (else run
``dbify scheduler``), on one replica at a time (leader election on a PostgreSQL
metadata store, ``control/leadership.py``); saved queries are answered at
``/p/{id}/queries/v1/{name}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from dbify.app import DbifyApp
from dbify.backends.events import EventBus
from dbify.control.cron.leader import LeaderLock
from dbify.control.cron.runtime import build_scheduler
from dbify.control.cron.scheduler import Scheduler
from dbify.control.leadership import Singleton
from dbify.control.observability import report_leadership
from dbify.control.plane import ControlPlane
from dbify.control.saved_queries.endpoint import SavedQueryEndpoint
from dbify.control.saved_queries.store import SavedQueryStore
from dbify.control.webhooks.runtime import Webhooks, start_webhooks

__all__ = ["Automation", "start_automation"]


@dataclass(slots=True)
class Automation:
    webhooks: Webhooks
    scheduler: Singleton[Scheduler] | None

    async def stop(self) -> None:
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
        scheduler = Singleton("scheduler", build_scheduler(plane), lock)
        await scheduler.start()
        report_leadership(app, scheduler)
    return Automation(webhooks, scheduler)
