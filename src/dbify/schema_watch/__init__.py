"""Schema change detection: watchers per project, refresh on change, email notices.

    catalog.py   SQL run in the user's database (fingerprint, event triggers)
    watcher.py   one project's dedicated connection: LISTEN or poll, debounced
    refresh.py   SchemaWatch: re-introspect, diff, swap the snapshot, log, publish
    notice.py    SchemaChangeMailer: one email per change to owners and subscribers

``build_schema_watch`` wires them for ``dbify serve`` (all-in-one: in-process bus),
with mail sent by a retrying ``MailWorker``, and registers the watch on the control
plane (the management API installs watchers and reports their status through it);
``dbify serve`` starts it on one replica at a time (``control/leadership.py``).
``start_schema_watch`` builds and starts one at once.
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
    "build_schema_watch",
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
    """``build_schema_watch`` and start it."""
    watch = build_schema_watch(plane, bus, mail, dashboard_url, mail_worker=mail_worker)
    await watch.start()
    return watch


def build_schema_watch(
    plane: ControlPlane,
    bus: EventBus,
    mail: MailBackend,
    dashboard_url: str,
    *,
    mail_worker: MailWorker | None = None,
) -> SchemaWatch:
    """A watch (not started) of every live project of ``plane`` that mails owners and
    subscribers about changes; it may be started and stopped several times.

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
    plane.schema_watch = watch
    return watch
