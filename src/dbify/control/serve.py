"""``dbify serve`` on the metadata store: every project, plus the management API.

Opens the control plane with its live directory (migrating the store first in
all-in-one mode), mounts the management API at ``/api`` next to the data plane and
serves until stopped. With ``--database-url``, the project for that URL is created
or reused first and a fresh anon/service key pair is issued and printed: stored keys
are hashes and cannot be shown again, so each run adds a pair (older pairs keep
working until revoked with ``dbify keys revoke``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import click
from fastapi import FastAPI
from pydantic import SecretStr

from dbify import __version__
from dbify.analytics.runtime import RequestLogging, chdb_taken, start_request_logging
from dbify.app import DbifyApp
from dbify.backends.analytics import AnalyticsUnavailable
from dbify.backends.events import EventBus
from dbify.backends.loader import open_event_bus
from dbify.backends.mail import build_mail_backend
from dbify.backends.ratelimit import request_limiter
from dbify.control.access import SYSTEM
from dbify.control.app import create_management_app
from dbify.control.automation import start_automation
from dbify.control.leadership import SCHEMA_WATCH_LOCK_KEY, LeaderLock, Singleton
from dbify.control.observability import instrument, report_leadership
from dbify.control.plane import ControlPlane, open_control_plane
from dbify.control.projects.schemas import ProjectCreate
from dbify.control.search.runtime import start_search
from dbify.dataplane.changes import fan_out
from dbify.errors import DbifyError
from dbify.schema_watch import SchemaWatch, build_schema_watch
from dbify.secrets_box import SecretBoxError
from dbify.settings import Settings
from dbify.tracing import TracingUnavailable, start_tracing

__all__ = [
    "Listening",
    "ServedProject",
    "prepare_store",
    "print_banner",
    "refuse_if_chdb_taken",
    "serve_platform",
]

ServeApp = Callable[[DbifyApp, str, int, Callable[[int], None]], Awaitable[None]]


@dataclass(frozen=True)
class ServedProject:
    """The ``--database-url`` project and the key pair issued for this run."""

    id: str
    rest_url: str
    anon_key: str
    service_key: str


@dataclass(frozen=True)
class Listening:
    """What ``serve_platform`` hands its ``announce`` callback once the port is bound
    (``dbify demo`` prints its own banner from it)."""

    public_url: str
    project: ServedProject | None
    projects: int = 0  # how many the metadata store holds


async def _project_for_url(
    plane: ControlPlane, url: str, schemas: tuple[str, ...], name: str
) -> tuple[str, str, str]:
    """(id, anon key, service key) of the project serving ``url``, created if needed."""
    existing = await plane.projects.find_by_database_url(url)
    if existing is None:
        request = ProjectCreate(name=name, database_url=SecretStr(url), schemas=list(schemas))
        created = await plane.projects.create(SYSTEM, request)
        return created.id, created.anon_key, created.service_key
    if existing.schemas != schemas or existing.paused:
        from dbify.control.projects.schemas import ProjectUpdate

        await plane.projects.update(SYSTEM, existing.id, ProjectUpdate(schemas=list(schemas)))
        await plane.projects.set_paused(SYSTEM, existing.id, False)
    anon, service = await plane.projects.issue_default_keys(existing.id)
    await plane.projects.listener.project_changed(existing.id)
    return existing.id, anon, service


def _click_error(error: DbifyError) -> click.ClickException:
    """The ``--database-url`` project could not be made: one line, no traceback."""
    details = f": {error.details}" if isinstance(error.details, str) else ""
    return click.ClickException(f"{error.message}{details}")


def print_banner(
    listening: Listening, *, as_json: bool, workers: int = 1, pool_size: int = 0
) -> None:
    """What ``dbify serve`` prints once it listens: with ``as_json`` and a project, only
    its JSON line on stdout (scripts read it). With several workers, the database
    connections a project may take in all: each worker has its own pools."""
    served = listening.project
    if served is not None:
        if as_json:
            line = {"id": served.id, "rest_url": served.rest_url,
                    "anon_key": served.anon_key, "service_key": served.service_key}  # fmt: skip
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            return
        click.echo(f"Dbify {__version__} serving project {served.id}")
        click.echo(f"  REST URL     {served.rest_url}")
        click.echo(f"  anon key     {served.anon_key}")
        click.echo(f"  service key  {served.service_key}")
    else:
        click.echo(f"Dbify {__version__} serving {listening.projects} project(s)")
    if workers > 1:
        click.echo(f"  Workers      {workers} processes on one port")
        click.echo(
            f"  Connections  {workers} times each project's pool_size: every worker has its"
            f" own pools (default pool_size {pool_size}: {workers * pool_size} a project)"
        )
    click.echo(
        f"  Management   {listening.public_url}/api/v1  (docs: {listening.public_url}/api/docs)"
    )
    click.echo("Press Ctrl+C to stop.")


async def prepare_store(
    settings: Settings, url: str | None, schemas: tuple[str, ...], name: str
) -> tuple[str, str, str] | None:
    """What ``serve_platform`` does before serving, for ``dbify serve --workers``, whose
    workers must not race to do it: migrate the store (when ``migrate_on_start``), check
    the master keys open it, and for ``url`` create or reuse the project and issue a key
    pair: (id, anon key, service key)."""
    bus, plane = await _open_plane(settings, serve_data=False)
    try:
        return None if url is None else await _project_for_url(plane, url, schemas, name)
    except SecretBoxError as error:
        raise click.ClickException(str(error)) from None
    except DbifyError as error:
        raise _click_error(error) from None
    finally:
        await plane.close()
        await bus.close()


async def _open_plane(settings: Settings, *, serve_data: bool) -> tuple[EventBus, ControlPlane]:
    """The event bus and the control plane on it: with the Redis bus, changes made here
    reach the running replicas (they reload), so the plane publishes on it; an
    in-process bus has no one else to tell. Wrong master keys: a one-line error."""
    bus = await open_event_bus(settings)
    shared = bus if settings.events.backend == "redis" else None
    try:
        plane = await open_control_plane(
            settings, serve_data=serve_data, migrate=settings.metadata.migrate_on_start, bus=shared
        )
    except SecretBoxError as error:
        await bus.close()
        raise click.ClickException(str(error)) from None
    except BaseException:
        await bus.close()
        raise
    return bus, plane


def refuse_if_chdb_taken(settings: Settings) -> None:
    """Stop before a start changes anything (issues keys, resets the demo admin's
    password) when the request logs' chDB directory is another process's."""
    taken = chdb_taken(settings, run_worker=settings.analytics.worker_enabled)
    if taken is not None:
        raise click.ClickException(f"Request logs cannot start: {taken}")


async def _start_request_logging(
    settings: Settings, plane: ControlPlane, app: DbifyApp, management: FastAPI
) -> RequestLogging | None:
    """Request logs (issue 6): the recorder on the data path, the worker in-process when
    enabled (all-in-one) with the retention job, and the analytics store for the stats API."""
    if not settings.analytics.enabled:
        return None
    try:
        logging = await start_request_logging(
            settings, run_worker=settings.analytics.worker_enabled, metadata=plane.store.engine
        )
    except AnalyticsUnavailable as error:  # e.g. chDB's directory held by another server
        raise click.ClickException(f"Request logs cannot start: {error}") from None
    logging.attach(app, management)
    return logging


async def _start_schema_watch(
    settings: Settings, plane: ControlPlane, bus: EventBus
) -> Singleton[SchemaWatch] | None:
    """Watch every project's schema on the leader replica; ``schema.changed`` goes on
    ``bus``, and the other replicas reload the project when it is announced."""
    if not settings.schema_watch.enabled:
        return None
    dashboard = settings.schema_watch.dashboard_url or plane.projects.public_url
    watch = build_schema_watch(plane, bus, build_mail_backend(settings), dashboard)
    # Every replica may enable it: one at a time watches (and emails), the others
    # stand by and take over when the leader dies (control/leadership.py).
    lock = LeaderLock(plane.store.engine, SCHEMA_WATCH_LOCK_KEY)
    singleton = Singleton("schema-watch", watch, lock)
    await singleton.start()
    return singleton


async def serve_platform(
    settings: Settings,
    serve_app: ServeApp,
    *,
    host: str,
    port: int,
    database_url: str | None = None,
    schemas: tuple[str, ...] = ("public",),
    name: str = "default",
    as_json: bool = False,
    announce: Callable[[Listening], None] | None = None,
) -> None:
    refuse_if_chdb_taken(settings)
    bus, plane = await _open_plane(settings, serve_data=True)
    try:
        shortcut: tuple[str, str, str] | None = None
        if database_url is not None:
            try:
                shortcut = await _project_for_url(plane, database_url, schemas, name)
            except DbifyError as error:
                raise _click_error(error) from None
        assert plane.directory is not None
        management = create_management_app(plane)
        app = DbifyApp(
            plane.directory,
            public_url=plane.projects.public_url,
            max_body_bytes=settings.api.max_body_bytes,
            management=management,
        )
        app.limiter = request_limiter(settings)
        try:
            app.tracing = start_tracing(
                settings.tracing, ip_anonymisation=settings.analytics.ip_anonymisation
            )
        except TracingUnavailable as error:
            raise click.ClickException(str(error)) from None
        search = await start_search(plane, app, management)
        request_logging = await _start_request_logging(settings, plane, app, management)
        instrument(app, plane, bus, request_logging)  # /metrics, /readyz
        schema_watch = await _start_schema_watch(settings, plane, bus)
        if schema_watch is not None:  # a request failing on an unknown name: look now
            app.on_stale_schema = schema_watch.role.recheck  # a no-op on standbys
            report_leadership(app, schema_watch)
        automation = await start_automation(plane, app, management, bus)
        if search is not None:  # data API writes reach the indexes too (and webhooks)
            app.changes = fan_out(app.changes, search.updates)

        def on_listening(bound: int) -> None:
            if not settings.server.public_url:
                shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
                app.public_url = f"http://{shown}:{bound}"
                plane.projects.public_url = app.public_url
            served = None
            if shortcut is not None:
                project_id, anon, service = shortcut
                served = ServedProject(project_id, app.rest_url(project_id), anon, service)
            assert plane.directory is not None
            listening = Listening(app.public_url, served, len(plane.directory.all()))
            if announce is not None:
                announce(listening)
            else:
                print_banner(listening, as_json=as_json)

        try:
            await serve_app(app, host, port, on_listening)
        finally:
            await automation.stop()
            if request_logging is not None:
                await request_logging.stop()
            if app.tracing is not None:  # export the spans still buffered
                await asyncio.to_thread(app.tracing.shutdown)
            if schema_watch is not None:
                await schema_watch.stop()
            if search is not None:
                await search.close()
    finally:
        await plane.close()
        await bus.close()
