"""Schema watch for every live project: what happens when a watcher sees a change.

``SchemaWatch`` keeps one ``ProjectWatcher`` per live project (re-synced with the
metadata store every ``poll_interval_seconds``, so projects created, paused or
re-pointed later are followed). When a watcher reports a possible change it:

1. re-introspects over the watcher's own connection and diffs the result against the
   project's current snapshot; no difference, nothing more happens;
2. caches the new catalog in the store (a restart starts from it);
3. replaces ``Project.snapshot`` with the new value in one assignment: requests in
   flight keep the object they already read, later ones see the new schema (the
   statement cache empties itself on seeing another snapshot);
4. appends an entry to the project's schema change log (with SHA-256 digests of the
   OpenAPI document before and after);
5. publishes a ``schema.changed`` event on the bus (the mailer and, later, webhooks
   subscribe).

It does not talk to users (``notice.py``) nor decide what counts as a change
(``schema/diff.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from datetime import UTC, datetime

import asyncpg

from dbify import __version__
from dbify.backends.events import Event, EventBus
from dbify.background import cancel_and_wait
from dbify.control.projects.connect import snapshot_from_catalog
from dbify.control.projects.store import ProjectRecord, ProjectStore
from dbify.control.schema_changes.store import SchemaChangeRecord, SchemaChangeStore
from dbify.dataplane.connections import with_address
from dbify.dataplane.openapi import openapi_json
from dbify.dataplane.project import ProjectDirectory
from dbify.schema.diff import diff_snapshots
from dbify.schema.model import SchemaSnapshot
from dbify.schema_watch.catalog import read_catalog
from dbify.schema_watch.watcher import ProjectWatcher, WatchTarget
from dbify.secrets_box import SecretBox, SecretBoxError
from dbify.settings import SchemaWatchSettings
from dbify.unexpected import describe_unexpected
from dbify.workers.base import Worker

__all__ = ["SCHEMA_CHANGED", "SchemaWatch", "openapi_digest"]

SCHEMA_CHANGED = "schema.changed"
_log = logging.getLogger("dbify.schema_watch")


def openapi_digest(snapshot: SchemaSnapshot) -> str:
    """SHA-256 of the snapshot's OpenAPI document (with a fixed URL and title, so only
    the schema moves it)."""
    document = openapi_json(snapshot, rest_url="/rest/v1", title="api", version=__version__)
    return hashlib.sha256(document).hexdigest()


def _watch_target(record: ProjectRecord, url: str, pgbouncer_default: bool) -> WatchTarget:
    """Behind PgBouncer (transaction mode) LISTEN is lost: watch over the project's
    ``direct_address`` if it has one, else poll through PgBouncer."""
    config = record.settings
    direct = config.get("direct_address")
    pgbouncer = config.get("pgbouncer")
    if direct:
        return WatchTarget(record.id, with_address(url, str(direct)), record.schemas)
    behind_bouncer = pgbouncer_default if pgbouncer is None else bool(pgbouncer)
    return WatchTarget(record.id, url, record.schemas, listen=not behind_bouncer)


class SchemaWatch:
    def __init__(
        self,
        directory: ProjectDirectory,
        projects: ProjectStore,
        changes: SchemaChangeStore,
        box: SecretBox,
        bus: EventBus,
        settings: SchemaWatchSettings,
        *,
        pgbouncer: bool = False,
        mail_worker: Worker | None = None,
    ) -> None:
        self._pgbouncer = pgbouncer  # the instance default of ProjectConfig.pgbouncer
        self._directory = directory
        self._projects = projects
        self._changes = changes
        self._box = box
        self._bus = bus
        self._settings = settings
        self._watchers: dict[str, ProjectWatcher] = {}
        self._task: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()
        self._mail_worker = mail_worker  # started and stopped with the watch

    async def start(self) -> None:
        if self._mail_worker is not None:
            await self._mail_worker.start()
        await self.sync()
        self._task = asyncio.create_task(self._keep_in_sync(), name="schema-watch-sync")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for watcher in self._watchers.values():
            await watcher.stop()
        self._watchers.clear()
        if self._mail_worker is not None:
            await self._mail_worker.stop()

    def watcher(self, project_id: str) -> ProjectWatcher | None:
        return self._watchers.get(project_id)

    def recheck(self, project_id: str) -> None:
        """Ask the project's watcher to look now (a no-op for unknown projects)."""
        watcher = self._watchers.get(project_id)
        if watcher is not None:
            watcher.recheck()

    def check_mode(self, project_id: str) -> None:
        """Ask the project's watcher to re-read listen/poll now (after install/uninstall)."""
        watcher = self._watchers.get(project_id)
        if watcher is not None:
            watcher.check_mode()

    def project_health(self, project_id: str) -> dict[str, object] | None:
        watcher = self._watchers.get(project_id)
        return None if watcher is None else watcher.health()

    def health(self) -> list[dict[str, object]]:
        return [w.health() for w in self._watchers.values()]

    async def sync(self) -> None:
        """Start watchers for live projects, stop those of removed or changed ones."""
        wanted: dict[str, WatchTarget] = {}
        for record in await self._projects.all():
            if record.paused or self._directory.get(record.id) is None:
                continue
            try:
                url = self._box.decrypt(record.database_url_sealed)
            except SecretBoxError:
                continue
            wanted[record.id] = _watch_target(record, url, self._pgbouncer)
        for project_id in list(self._watchers):
            if wanted.get(project_id) != self._watchers[project_id].target:
                await self._watchers.pop(project_id).stop()
        for project_id, target in wanted.items():
            if project_id not in self._watchers:
                watcher = ProjectWatcher(target, self._settings, self._refresh)
                self._watchers[project_id] = watcher
                await watcher.start()

    async def _keep_in_sync(self) -> None:
        while True:
            await asyncio.sleep(self._settings.poll_interval_seconds)
            try:
                await self.sync()
            except Exception as error:  # the store may be briefly away: try again next round
                _log.warning(
                    "schema watch could not read the projects: %s", describe_unexpected(error)
                )

    async def _refresh(self, watcher: ProjectWatcher, conn: asyncpg.Connection, how: str) -> None:
        target = watcher.target
        project = self._directory.get(target.project_id)
        if project is None:
            return
        catalog = await read_catalog(conn, target.schemas)
        new = snapshot_from_catalog(catalog, target.schemas)
        async with self._refresh_lock:
            old = project.snapshot
            changes = diff_snapshots(old, new)
            if not changes:
                return
            now = datetime.now(UTC)
            await self._projects.update(
                target.project_id, schema_catalog=catalog, schema_loaded_at=now
            )
            project.snapshot = new
            record = SchemaChangeRecord(
                id=secrets.token_hex(8),
                project_id=target.project_id,
                detected_at=now,
                detected_by=how,
                changes=[c.as_json() for c in changes],
                breaking=sum(c.breaking for c in changes),
                openapi_before=openapi_digest(old),
                openapi_after=openapi_digest(new),
            )
            await self._changes.insert(record)
        _log.info(
            "schema of %s changed (%d changes, %d breaking, by %s)",
            target.project_id, len(changes), record.breaking, how,
        )  # fmt: skip
        await self._bus.publish(
            Event(
                SCHEMA_CHANGED,
                {
                    "project_id": target.project_id,
                    "project_name": project.name,
                    "change_id": record.id,
                    "detected_at": now.isoformat(),
                    "detected_by": how,
                    "breaking": record.breaking,
                    "changes": record.changes,
                },
            )
        )
