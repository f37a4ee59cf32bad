"""Broadcast invalidation (scale-out): what one instance changes, every instance applies.

``BroadcastListener`` stands in for the live directory as the services'
``ProjectListener``. A change made here (key created, revoked or rotated; project
updated, paused, re-pointed or deleted) is applied to this instance's directory at
once, then announced as a ``cache.project`` event; the other instances, hearing it on
the bus (Redis pub/sub), reload that project from the metadata store. A schema refresh
seen by this instance's schema watch (``schema.changed``, which the watch publishes
after storing the new catalog) is announced the same way. After the bus reconnects
(``bus.resync``: messages may have been missed) every project is reloaded.

Nothing is polled per request: the data plane keeps reading its in-memory directory.

``BroadcastAnnouncer`` is the listener of processes that serve no data API but change
the store (``dbify keys revoke``, ``dbify projects update`` run from the CLI): it only
announces, so running instances apply the change as if another instance had made it.
"""

from __future__ import annotations

import logging
import secrets

from dbify.backends.events import RESYNC, Event, EventBus
from dbify.control.projects.directory import StoreProjectDirectory

__all__ = ["PROJECT_CACHE", "BroadcastAnnouncer", "BroadcastListener"]

PROJECT_CACHE = "cache.project"
_SCHEMA_CHANGED = "schema.changed"  # schema_watch.SCHEMA_CHANGED (no import: a cycle)
_log = logging.getLogger("dbify.directory")


class BroadcastListener:
    """A ``ProjectListener`` that applies changes locally and tells every instance."""

    def __init__(self, directory: StoreProjectDirectory, bus: EventBus) -> None:
        self._directory = directory
        self._bus = bus
        self._origin = secrets.token_hex(8)
        bus.subscribe(PROJECT_CACHE, self._heard)
        bus.subscribe(_SCHEMA_CHANGED, self._schema_changed)
        bus.subscribe(RESYNC, self._resync)

    async def project_changed(self, project_id: str) -> None:
        await self._directory.project_changed(project_id)
        await self._announce(project_id)

    async def project_removed(self, project_id: str) -> None:
        await self._directory.project_removed(project_id)
        await self._announce(project_id)

    def pool_open(self, project_id: str) -> bool:
        return self._directory.pool_open(project_id)

    async def _announce(self, project_id: str) -> None:
        payload = {"project_id": project_id, "origin": self._origin}
        await self._bus.publish(Event(PROJECT_CACHE, payload))

    async def _heard(self, event: Event) -> None:
        if event.payload.get("origin") == self._origin:
            return  # our own change, already applied
        project_id = str(event.payload.get("project_id", ""))
        if project_id:
            # Reads the store: a removed or paused project leaves the directory.
            await self._directory.project_changed(project_id)

    async def _schema_changed(self, event: Event) -> None:
        project_id = event.payload.get("project_id")
        if isinstance(project_id, str):
            await self._announce(project_id)

    async def _resync(self, event: Event) -> None:
        _log.info("event bus reconnected: reloading every project")
        await self._directory.reload_all()


class BroadcastAnnouncer:
    """A ``ProjectListener`` with no directory of its own: it tells every instance."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._origin = secrets.token_hex(8)

    async def project_changed(self, project_id: str) -> None:
        await self._announce(project_id)

    async def project_removed(self, project_id: str) -> None:
        await self._announce(project_id)

    def pool_open(self, project_id: str) -> bool:
        return False

    async def _announce(self, project_id: str) -> None:
        payload = {"project_id": project_id, "origin": self._origin}
        await self._bus.publish(Event(PROJECT_CACHE, payload))
