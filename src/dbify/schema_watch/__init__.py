"""Schema change detection: watchers per project, refresh on change, email notices.

    catalog.py   SQL run in the user's database (fingerprint, event triggers)
    watcher.py   one project's dedicated connection: LISTEN or poll, debounced
    refresh.py   SchemaWatch: re-introspect, diff, swap the snapshot, log, publish
    notice.py    SchemaChangeMailer: one email per change to the project's owners

``start_schema_watch`` wires them for ``dbify serve`` (all-in-one: in-process bus).
"""

from __future__ import annotations

from dbify.backends.events import EventBus
from dbify.backends.mail import MailBackend
from dbify.control.plane import ControlPlane
from dbify.control.projects.store import ProjectStore
from dbify.control.schema_changes.store import SchemaChangeStore
from dbify.schema_watch.catalog import install_watcher, uninstall_watcher, watcher_installed
from dbify.schema_watch.notice import SchemaChangeMailer, compose_notice
from dbify.schema_watch.refresh import SCHEMA_CHANGED, SchemaWatch, openapi_digest
from dbify.schema_watch.watcher import ProjectWatcher, WatchTarget

__all__ = [
    "SCHEMA_CHANGED",
    "ProjectWatcher",
    "SchemaChangeMailer",
    "SchemaWatch",
    "WatchTarget",
    "compose_notice",
    "install_watcher",
    "openapi_digest",
    "start_schema_watch",
    "uninstall_watcher",
    "watcher_installed",
]


async def start_schema_watch(
    plane: ControlPlane, bus: EventBus, mail: MailBackend, dashboard_url: str
) -> SchemaWatch:
    """Watch every live project of ``plane`` and mail owners about changes."""
    assert plane.directory is not None, "schema watch needs the live directory"
    projects = ProjectStore(plane.store.engine)
    mailer = SchemaChangeMailer(mail, projects, dashboard_url)
    bus.subscribe(SCHEMA_CHANGED, mailer.handle)
    watch = SchemaWatch(
        plane.directory,
        projects,
        SchemaChangeStore(plane.store.engine),
        plane.box,
        bus,
        plane.settings.schema_watch,
        pgbouncer=plane.settings.database.pgbouncer,
    )
    await watch.start()
    return watch
