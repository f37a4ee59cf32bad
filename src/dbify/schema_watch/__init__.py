"""Schema change detection: watchers per project, refresh on change, email notices.

    catalog.py   SQL run in the user's database (fingerprint, event triggers)
    watcher.py   one project's dedicated connection: LISTEN or poll, debounced
    refresh.py   SchemaWatch: re-introspect, diff, swap the snapshot, log, publish
    notice.py    SchemaChangeMailer: one email per change to owners and subscribers

``start_schema_watch`` wires them for ``dbify serve`` (all-in-one: in-process bus),
with mail sent by a retrying ``MailWorker``, and registers the watch on the control
plane (the management API installs watchers and reports their status through it).
"""

from __future__ import annotations

from dbify.backends.events import EventBus
from dbify.backends.mail import MailBackend
from dbify.control.notifications.store import NotificationStore
from dbify.control.plane import ControlPlane
from dbify.control.projects.store import ProjectStore
from dbify.control.schema_changes.store import SchemaChangeStore
from dbify.schema_watch.catalog import install_watcher, uninstall_watcher, watcher_installed
from dbify.schema_watch.notice import SchemaChangeMailer, compose_notice
from dbify.schema_watch.refresh import SCHEMA_CHANGED, SchemaWatch, openapi_digest
from dbify.schema_watch.watcher import ProjectWatcher, WatchTarget
from dbify.workers.mail import MailWorker

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
    plane: ControlPlane,
    bus: EventBus,
    mail: MailBackend,
    dashboard_url: str,
    *,
    mail_worker: MailWorker | None = None,
) -> SchemaWatch:
    """Watch every live project of ``plane`` and mail owners and subscribers about changes.

    Mail goes through ``mail_worker`` (default: a ``MailWorker`` over ``mail``), which
    the returned watch starts and stops with itself.
    """
    assert plane.directory is not None, "schema watch needs the live directory"
    projects = ProjectStore(plane.store.engine)
    worker = mail_worker or MailWorker(mail)
    recipients = NotificationStore(plane.store.engine).schema_change_recipients
    mailer = SchemaChangeMailer(worker, recipients, dashboard_url)
    bus.subscribe(SCHEMA_CHANGED, mailer.handle)
    watch = SchemaWatch(
        plane.directory,
        projects,
        SchemaChangeStore(plane.store.engine),
        plane.box,
        bus,
        plane.settings.schema_watch,
        pgbouncer=plane.settings.database.pgbouncer,
        mail_worker=worker,
    )
    await watch.start()
    plane.schema_watch = watch
    return watch
