"""A project as the data plane sees it: its pool, schema snapshot, keys and settings.

The data plane finds projects through a ``ProjectDirectory``: the control plane's
store-backed directory in every server, ``StaticProjectDirectory`` for a fixed set (tests,
probes). The data plane does not know which one it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from dbify.auth.api_keys import KeyRing
from dbify.auth.jwt import JwtVerifier
from dbify.dataplane.cors import CorsPolicy
from dbify.dataplane.plan.access import AccessPolicy
from dbify.dataplane.statement_cache import StatementCache
from dbify.dataplane.write_cache import WriteCache
from dbify.schema.model import SchemaSnapshot
from dbify.schema.privileges import RoleSnapshots


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """Per-project knobs of the data API (defaults come from ``Settings.api``)."""

    schemas: tuple[str, ...] = ("public",)
    max_rows: int | None = None
    anon_role: str | None = None
    statement_timeout_ms: int = 10_000
    # The timeout the executor sets per transaction: the project's own when it is
    # reached through PgBouncer (transaction mode accepts no startup parameters), None
    # when the pool sends it once at connection startup (``dataplane/connections.py``).
    transaction_timeout_ms: int | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    pool_timeout_seconds: float = 10.0
    allow_unfiltered_mutations: bool = False
    max_write_rows: int = 10_000
    statement_cache_size: int = 512
    cors_origins: tuple[str, ...] = ("*",)
    server_timing: bool = False
    cors_allow_credentials: bool = False
    # Requests per second per credential / per client address, and the bucket size;
    # None: the instance-wide setting (backends/ratelimit).
    rate_limit_per_key: float | None = None
    rate_limit_per_ip: float | None = None
    rate_limit_burst: int | None = None


@dataclass(slots=True)
class Project:
    """A live project. ``snapshot`` is replaced as a whole when the schema changes.

    ``statements`` caches read statements and ``writes`` write plans by request shape;
    each empties itself when it sees another snapshot, so replacing ``snapshot`` is all a
    schema reload does.
    """

    id: str
    name: str
    pool: asyncpg.Pool
    snapshot: SchemaSnapshot
    keys: KeyRing
    settings: ProjectSettings
    jwt: JwtVerifier | None = None  # set when the project accepts JWTs (auth/jwt.py)
    # RBAC access roles by name (dataplane/plan/access.py), named by keys and JWTs.
    access_roles: Mapping[str, AccessPolicy] = field(default_factory=dict)
    # Per-key rate limit overrides by key hash (auth.api_keys.hash_api_key): (rate, burst).
    key_rate_limits: Mapping[str, tuple[float, int | None]] = field(default_factory=dict)
    statements: StatementCache = field(init=False)
    writes: WriteCache = field(init=False)
    cors: CorsPolicy = field(init=False)
    # The snapshot as each database role sees it, for OpenAPI (dataplane/role_schema.py).
    role_snapshots: RoleSnapshots = field(default_factory=RoleSnapshots)

    def __post_init__(self) -> None:
        self.statements = StatementCache(self.settings.statement_cache_size)
        self.writes = WriteCache(self.settings.statement_cache_size)
        self.cors = CorsPolicy.of(self.settings.cors_origins, self.settings.cors_allow_credentials)


class ProjectDirectory(Protocol):
    """Finds live projects by id."""

    def get(self, project_id: str) -> Project | None: ...

    def all(self) -> list[Project]: ...

    async def close(self) -> None: ...


class StaticProjectDirectory:
    """A fixed set of projects held in memory."""

    def __init__(self, projects: list[Project]) -> None:
        self._projects = {p.id: p for p in projects}

    def get(self, project_id: str) -> Project | None:
        return self._projects.get(project_id)

    def all(self) -> list[Project]:
        return list(self._projects.values())

    async def close(self) -> None:
        for project in self._projects.values():
            await project.pool.close()
