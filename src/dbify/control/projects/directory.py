"""The data plane's view of the metadata store: live projects, their pools and keys.

``StoreProjectDirectory`` implements ``dataplane.project.ProjectDirectory``. At start
it loads every active project from the store: the schema snapshot is rebuilt from
the cached catalog and keys from their hashes, with no connection to any user
database, so a dead database cannot delay start-up or other projects. Pools open on
first use (``pools.py``). The control-plane services tell it about changes
(``ProjectListener``): a changed URL or pool setting replaces the pool, a revoked key
leaves the in-memory key ring at once. Key usage is recorded in memory and written
to the store in batches by a background task, never on the request path.

Scale-out: changes made through another replica arrive as broadcasts on the event bus
(``broadcast.py``), which call ``project_changed`` here; no per-request polling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import asyncpg

from dbify.auth.api_keys import ApiKey, KeyRing
from dbify.auth.jwt import JwtConfig, JwtVerifier
from dbify.control.access_roles.policy import compile_policy
from dbify.control.access_roles.schemas import AccessRoleBody
from dbify.control.access_roles.store import AccessRoleStore
from dbify.control.api_keys.store import KeyRecord, KeyStore
from dbify.control.outbound import OutboundPolicy
from dbify.control.projects.connect import snapshot_from_catalog
from dbify.control.projects.pools import LazyPool, PoolBudget
from dbify.control.projects.schemas import ProjectConfig
from dbify.control.projects.store import ProjectRecord, ProjectStore
from dbify.dataplane.connections import PoolOptions
from dbify.dataplane.plan.access import AccessPolicy
from dbify.dataplane.project import Project, ProjectSettings
from dbify.errors import DbifyError
from dbify.secrets_box import SecretBox, SecretBoxError
from dbify.settings import Settings

__all__ = ["StoreProjectDirectory"]

_log = logging.getLogger("dbify.directory")
_HOUSEKEEPING_SECONDS = 5.0


def _api_key(record: KeyRecord) -> ApiKey:
    if record.role == "service":
        return ApiKey(record.id, "service", record.key_hash, record.prefix)
    if record.role == "anon":
        return ApiKey(record.id, "anon", record.key_hash, record.prefix)
    # A database-role key runs as that role (and may write as far as the role may).
    return ApiKey(record.id, "anon", record.key_hash, record.prefix, role=record.role)


class _ProjectKeyRing(KeyRing):
    """A key ring that also honours expiry (rotation grace) and records usage."""

    def __init__(self, keys: Iterable[KeyRecord], on_use: Callable[[str], None]) -> None:
        records = list(keys)
        super().__init__(_api_key(k) for k in records)
        self._expires = {k.id: k.expires_at for k in records if k.expires_at is not None}
        self._on_use = on_use

    def verify(self, presented: str) -> ApiKey | None:
        found = super().verify(presented)
        if found is None:
            return None
        expires = self._expires.get(found.id)
        if expires is not None and expires <= datetime.now(UTC):
            return None
        self._on_use(found.id)
        return found


@dataclass(slots=True)
class _Live:
    project: Project
    pool: LazyPool
    pool_key: tuple[str, int, int, bool]


class StoreProjectDirectory:
    """Live projects from the metadata store (see the module docstring)."""

    def __init__(
        self,
        projects: ProjectStore,
        keys: KeyStore,
        box: SecretBox,
        settings: Settings,
        access_roles: AccessRoleStore | None = None,
    ) -> None:
        self._projects = projects
        self._keys = keys
        self._access_roles = access_roles
        self._box = box
        self._settings = settings
        self._budget = PoolBudget(
            settings.projects.max_total_connections,
            settings.projects.pool_idle_seconds,
            settings.projects.retry_after_failure_seconds,
        )
        self._live: dict[str, _Live] = {}
        self._usage: dict[str, float] = {}  # key id -> time.time() of its last use
        self._lock = asyncio.Lock()
        self._housekeeping: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for record in await self._projects.all():
            await self._load(record)
        self._housekeeping = asyncio.create_task(self._run_housekeeping())

    # -- ProjectDirectory ------------------------------------------------------------

    def get(self, project_id: str) -> Project | None:
        live = self._live.get(project_id)
        return None if live is None else live.project

    def all(self) -> list[Project]:
        return [live.project for live in self._live.values()]

    async def close(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
            self._housekeeping = None
        await self.flush_usage()
        for live in list(self._live.values()):
            await live.pool.close()
        self._live.clear()

    # -- ProjectListener -------------------------------------------------------------

    async def project_changed(self, project_id: str) -> None:
        record = await self._projects.get(project_id)
        if record is None:
            await self.project_removed(project_id)
        else:
            await self._load(record)

    async def project_removed(self, project_id: str) -> None:
        async with self._lock:
            live = self._live.pop(project_id, None)
        if live is not None:
            await live.pool.close()

    def pool_stats(self) -> list[tuple[str, int, int]]:
        """(project ID, open connections, in use) of every open pool (``/metrics``)."""
        return [
            (project_id, live.pool.open_connections, live.pool.active)
            for project_id, live in self._live.items()
            if live.pool.is_open
        ]

    @property
    def budget_connections(self) -> int:
        return self._budget.max_connections

    @property
    def live_projects(self) -> int:
        return len(self._live)

    async def reload_all(self) -> None:
        """Reload every project from the store (after missed broadcasts)."""
        records = await self._projects.all()
        for record in records:
            await self._load(record)
        for gone in set(self._live) - {r.id for r in records}:
            await self.project_removed(gone)

    def pool_open(self, project_id: str) -> bool:
        live = self._live.get(project_id)
        return live is not None and live.pool.is_open

    # -- internals -------------------------------------------------------------------

    def _record_use(self, key_id: str) -> None:
        # Every request: a float now, the datetime at flush (datetime.now was ~1 %).
        self._usage[key_id] = time.time()

    async def flush_usage(self) -> None:
        """Write the key usage recorded since the last flush (one batch)."""
        used, self._usage = self._usage, {}
        batch = {key_id: datetime.fromtimestamp(at, UTC) for key_id, at in used.items()}
        try:
            await self._keys.record_usage(batch)
        except Exception:  # usage is best effort: keep serving
            _log.warning("could not record API key usage", exc_info=False)

    async def _run_housekeeping(self) -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_SECONDS)
            await self.flush_usage()
            await self._budget.close_idle()

    def _project_settings(
        self, record: ProjectRecord, config: ProjectConfig, pgbouncer: bool
    ) -> ProjectSettings:
        return ProjectSettings(
            schemas=record.schemas,
            max_rows=config.max_rows,
            anon_role=config.anon_role or self._settings.api.anon_role,
            statement_timeout_ms=config.statement_timeout_ms,
            transaction_timeout_ms=(config.statement_timeout_ms or None) if pgbouncer else None,
            max_body_bytes=config.max_body_bytes or self._settings.api.max_body_bytes,
            max_write_rows=self._settings.api.max_write_rows,
            pool_timeout_seconds=self._settings.database.pool_timeout_seconds,
            allow_unfiltered_mutations=(
                config.allow_unfiltered_writes or self._settings.api.allow_unfiltered_mutations
            ),
            statement_cache_size=self._settings.api.statement_cache_size,
            cors_origins=tuple(config.cors_origins),
            server_timing=self._settings.api.server_timing,
            cors_allow_credentials=config.cors_allow_credentials,
            rate_limit_per_key=config.rate_limit_per_key,
            rate_limit_per_ip=config.rate_limit_per_ip,
            rate_limit_burst=config.rate_limit_burst,
        )

    def _jwt(self, config: ProjectConfig, secret: str | None) -> JwtVerifier | None:
        """The project's JWT verifier: its own secret or key source if configured, else
        the instance-wide ``settings.auth`` (what ``dbify serve --database-url`` uses)."""
        if not (secret or config.jwks_url or config.oidc_issuer or config.jwks):
            return _instance_jwt_verifier(self._settings)
        verifier = JwtConfig(
            secret=secret,
            jwks=config.jwks,
            jwks_url=config.jwks_url,
            oidc_issuer=config.oidc_issuer,
            audience=config.jwt_audience,
            issuer=config.jwt_issuer,
            role_claim=config.jwt_role_claim,
            leeway_seconds=self._settings.auth.jwt_leeway_seconds,
            jwks_min_refresh_seconds=self._settings.auth.jwks_min_refresh_seconds,
            # A project admin chose these URLs: the server fetches them only where it
            # may call on a user's behalf (no internal addresses unless allowed).
            url_guard=OutboundPolicy(self._settings.webhooks.allowed_hosts).check,
        )
        return JwtVerifier(verifier)

    async def _policies(self, record: ProjectRecord) -> dict[str, AccessPolicy]:
        """The project's access roles compiled for the planner; a role that no longer
        compiles is left out (its keys then fall back to a database role of that name,
        which normally does not exist: requests fail rather than widen)."""
        if self._access_roles is None:
            return {}
        policies: dict[str, AccessPolicy] = {}
        for role in await self._access_roles.of_project(record.id):
            try:
                body = AccessRoleBody.model_validate(role.definition)
                policies[role.name] = compile_policy(role.name, body, record.schemas[0])
            except (ValueError, DbifyError):
                _log.error("access role %s of %s does not compile", role.name, record.id)
        return policies

    async def _load(self, record: ProjectRecord) -> None:
        """(Re)build the live project for ``record``; paused or unusable ones go offline."""
        if record.paused or record.schema_catalog is None:
            await self.project_removed(record.id)
            return
        try:
            url = self._box.decrypt(record.database_url_sealed)
            jwt_secret = (
                self._box.decrypt(record.jwt_secret_sealed) if record.jwt_secret_sealed else None
            )
            snapshot = snapshot_from_catalog(record.schema_catalog, record.schemas)
            # A stored config or key set that no longer reads takes this project
            # offline, never start-up or the other projects.
            config = ProjectConfig(**record.settings)
            verifier = self._jwt(config, jwt_secret)
        except (SecretBoxError, ValueError, KeyError, TypeError) as exc:
            _log.error("project %s cannot be loaded: %s", record.id, type(exc).__name__)
            await self.project_removed(record.id)
            return
        key_records = await self._keys.of_project(record.id)
        keys = _ProjectKeyRing(key_records, self._record_use)
        key_limits = {
            k.key_hash: (k.rate_limit_per_second, k.rate_limit_burst)
            for k in key_records
            if k.rate_limit_per_second is not None
        }
        policies = await self._policies(record)
        pgbouncer = (
            self._settings.database.pgbouncer if config.pgbouncer is None else config.pgbouncer
        )
        pool_key = (url, config.pool_size, config.statement_timeout_ms, pgbouncer)
        async with self._lock:
            previous = self._live.get(record.id)
            reuse = previous is not None and previous.pool_key == pool_key
            if previous is not None and _same_jwt(previous.project.jwt, verifier):
                # Keep the fetched key set and verified tokens across unrelated
                # changes (a key revoked, a setting changed): no extra IdP fetch.
                verifier = previous.project.jwt
            if previous is not None and reuse:
                pool = previous.pool
            else:
                pool = self._budget.pool(
                    record.id,
                    url,
                    PoolOptions(
                        size=config.pool_size,
                        connect_timeout_seconds=self._settings.database.connect_timeout_seconds,
                        statement_timeout_ms=config.statement_timeout_ms,
                        pgbouncer=pgbouncer,
                    ),
                )
            project = Project(
                id=record.id,
                name=record.name,
                # LazyPool offers the part of asyncpg.Pool the data plane uses
                # (acquire(timeout=...) as an async context manager, close()).
                pool=cast(asyncpg.Pool, pool),
                snapshot=snapshot,
                keys=keys,
                settings=self._project_settings(record, config, pgbouncer),
                jwt=verifier,
                access_roles=policies,
                key_rate_limits=key_limits,
            )
            self._live[record.id] = _Live(project, pool, pool_key)
        if previous is not None and not reuse:
            await previous.pool.close()


def _same_jwt(old: JwtVerifier | None, new: JwtVerifier | None) -> bool:
    return old is not None and new is not None and old.config == new.config


def _instance_jwt_verifier(settings: Settings) -> JwtVerifier | None:
    """The verifier configured by ``settings.auth``, or None when JWTs are not accepted."""
    auth = settings.auth
    config = JwtConfig(
        secret=auth.jwt_secret.get_secret_value() if auth.jwt_secret else None,
        jwks=auth.jwks,
        jwks_url=auth.jwks_url,
        oidc_issuer=auth.oidc_issuer,
        audience=auth.jwt_audience,
        issuer=auth.jwt_issuer,
        role_claim=auth.jwt_role_claim,
        leeway_seconds=auth.jwt_leeway_seconds,
        jwks_min_refresh_seconds=auth.jwks_min_refresh_seconds,
    )
    return JwtVerifier(config) if config.enabled else None
