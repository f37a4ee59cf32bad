"""The control plane assembled: metadata store, secret box, services, live directory.

``open_control_plane`` is the one place that wires the pieces from the settings;
``dbify serve`` (with the data plane's directory) and the CLI (without) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from dbify.backends.events import EventBus
from dbify.control.access_roles.store import AccessRoleStore
from dbify.control.api_keys.service import KeyService
from dbify.control.api_keys.store import KeyStore
from dbify.control.outbound import OutboundPolicy
from dbify.control.projects.broadcast import BroadcastAnnouncer, BroadcastListener
from dbify.control.projects.directory import StoreProjectDirectory
from dbify.control.projects.schemas import ProjectConfig
from dbify.control.projects.service import NoListener, ProjectListener, ProjectService
from dbify.control.projects.store import ProjectStore
from dbify.control.schema_watcher.schemas import SchemaWatchHandle
from dbify.control.secrets.service import check_sealed_values
from dbify.control.secrets.store import SealedValueStore
from dbify.control.users.rate_limit import build_login_limiter
from dbify.control.users.service import UserService
from dbify.control.users.store import UserStore
from dbify.metadata import (
    MetadataStore,
    metadata_url,
    open_metadata_store,
    reaching,
    run_migrations,
)
from dbify.secrets_box import SecretBox, load_secret_box
from dbify.settings import Settings

__all__ = [
    "ControlPlane",
    "default_pool_size",
    "get_plane",
    "open_control_plane",
    "public_base_url",
]


@dataclass(slots=True)
class ControlPlane:
    settings: Settings
    store: MetadataStore
    box: SecretBox
    users: UserService
    projects: ProjectService
    keys: KeyService
    directory: StoreProjectDirectory | None
    # The running schema watch, registered by ``schema_watch.start_schema_watch``.
    schema_watch: SchemaWatchHandle | None = None

    async def close(self) -> None:
        if self.directory is not None:
            await self.directory.close()
        await self.users.close()
        await self.store.close()


def public_base_url(settings: Settings) -> str:
    if settings.server.public_url:
        return settings.server.public_url.rstrip("/")
    host = settings.server.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - display only
    return f"http://{shown}:{settings.server.port}"


def default_pool_size(settings: Settings) -> int:
    """A new project's pool size (a project's own is at most 100)."""
    return min(settings.database.pool_size, 100)


def _defaults(settings: Settings) -> ProjectConfig:
    return ProjectConfig(
        max_rows=settings.api.max_rows,
        statement_timeout_ms=settings.database.statement_timeout_ms,
        pool_size=default_pool_size(settings),
        anon_role=settings.api.anon_role,
        allow_unfiltered_writes=False,
        cors_origins=["*"],
    )


async def open_control_plane(
    settings: Settings,
    *,
    serve_data: bool = False,
    migrate: bool = True,
    public_url: str | None = None,
    bus: EventBus | None = None,
) -> ControlPlane:
    """Open the store (migrating it unless told not to) and build the services.

    Raises ``SecretBoxError`` if a stored secret cannot be decrypted by the configured
    master keys (the message names where, never what).

    With ``serve_data`` the live ``StoreProjectDirectory`` is started and kept in sync;
    with a shared ``bus`` too (scale-out), changes are broadcast to every instance.
    With a ``bus`` but no ``serve_data`` (the CLI), changes are only announced.
    """
    url = metadata_url(settings)
    store = open_metadata_store(url)
    try:
        if migrate:
            await run_migrations(store)
        box = load_secret_box(settings)
        # Refuse to start on keys that cannot open what is stored (SecretBoxError).
        with reaching(url):  # the first statement when nothing was migrated
            await check_sealed_values(SealedValueStore(store.engine), box)
        projects_store, keys_store, users_store = (
            ProjectStore(store.engine),
            KeyStore(store.engine),
            UserStore(store.engine),
        )
        directory: StoreProjectDirectory | None = None
        listener: ProjectListener = NoListener()
        if serve_data:
            directory = StoreProjectDirectory(
                projects_store, keys_store, box, settings, AccessRoleStore(store.engine)
            )
            await directory.start()
            listener = directory if bus is None else BroadcastListener(directory, bus)
        elif bus is not None:  # the CLI in scale-out: running instances apply its changes
            listener = BroadcastAnnouncer(bus)
        projects = ProjectService(
            projects_store,
            keys_store,
            users_store,
            box,
            listener,
            public_url=public_url or public_base_url(settings),
            connect_timeout=min(settings.database.connect_timeout_seconds, 5.0),
            defaults=_defaults(settings),
            log_retention_limit=settings.analytics.retention_days,
            outbound=OutboundPolicy(settings.webhooks.allowed_hosts),
        )
        users = UserService(
            users_store,
            build_login_limiter(settings),
            signup_enabled=settings.users.signup_enabled,
            session_hours=settings.users.session_hours,
        )
    except BaseException:
        await store.close()
        raise
    keys = KeyService(keys_store, projects, listener)
    return ControlPlane(settings, store, box, users, projects, keys, directory)


def get_plane(request: Request) -> ControlPlane:
    """FastAPI dependency: the plane the management app was created with."""
    plane: ControlPlane = request.app.state.plane
    return plane
