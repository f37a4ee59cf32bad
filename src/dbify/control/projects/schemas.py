"""Shapes of the projects API: what clients send and receive (pydantic).

The database URL is accepted on create/update and never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dbify.auth.key_sources import HttpUrlText, JwksDocument
from dbify.control.schema_watcher.schemas import SchemaWatcherStatus

MemberRole = Literal["owner", "admin", "viewer"]
_Item = TypeVar("_Item")


class Page(BaseModel, Generic[_Item]):
    """One page of a list: ``items`` from ``offset``, ``total`` across all pages."""

    items: list[_Item]
    total: int
    limit: int
    offset: int


class ProjectConfig(BaseModel):
    """Per-project data API settings (stored as JSON)."""

    model_config = ConfigDict(extra="forbid")

    max_rows: int | None = Field(None, ge=1, description="Rows a read returns at most.")
    statement_timeout_ms: int = Field(10_000, ge=0, description="Per request; 0 disables.")
    cors_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins browsers may call the data API from (scheme://host[:port]); "
        "'*' for any.",
    )
    cors_allow_credentials: bool = Field(
        False, description="Answer Access-Control-Allow-Credentials (origin echoed, never '*')."
    )
    max_body_bytes: int | None = Field(
        None, ge=1, description="Largest request body (None: settings.api.max_body_bytes)."
    )
    rate_limit_per_key: float | None = Field(
        None, gt=0, description="Requests per second per key or token (None: instance's)."
    )
    rate_limit_per_ip: float | None = Field(
        None, gt=0, description="Requests per second per client address (None: instance's)."
    )
    rate_limit_burst: int | None = Field(
        None, ge=1, description="Token bucket size (None: instance's)."
    )
    allow_unfiltered_writes: bool = Field(False, description="Allow PATCH/DELETE without filter.")
    pool_size: int = Field(10, ge=1, le=100, description="Connections this project may open.")
    anon_role: str | None = Field(None, description="Database role the anon key runs as.")
    jwks: JwksDocument = Field(None, description="Accepted JWT keys: a JWKS document (JSON).")
    jwks_url: HttpUrlText = Field(None, description="Accepted JWT keys: the IdP's JWKS URL.")
    oidc_issuer: HttpUrlText = Field(
        None, description="Accepted JWT keys: an OpenID Connect issuer (discovery; iss checked)."
    )
    jwt_audience: str | None = Field(None, description="Required `aud` of JWTs.")
    jwt_issuer: str | None = Field(None, description="Required `iss` of JWTs.")
    jwt_role_claim: str = Field("role", description="Path of the role claim in JWTs.")
    pgbouncer: bool | None = Field(
        None,
        description="The URL points at PgBouncer in transaction mode: no server-side prepared "
        "statements, transaction-local settings only (None: settings.database.pgbouncer).",
    )
    direct_address: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$",
        description="host:port of the database server itself (same user, password and "
        "database as the URL) for LISTEN; behind PgBouncer without it the schema is polled.",
    )
    log_retention_days: int | None = Field(
        None,
        ge=1,
        description="Days this project's request logs are kept, at most the instance's "
        "analytics.retention_days (None: the instance's).",
    )


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    database_url: SecretStr = Field(description="postgresql://user:password@host:port/dbname")
    schemas: list[str] = Field(default_factory=lambda: ["public"], min_length=1)
    config: ProjectConfig | None = None


class ConnectionTest(BaseModel):
    """A database to check before creating a project with it (nothing is stored)."""

    model_config = ConfigDict(extra="forbid")

    database_url: SecretStr = Field(description="postgresql://user:password@host:port/dbname")
    schemas: list[str] = Field(default_factory=lambda: ["public"], min_length=1)


class ConnectionChecked(BaseModel):
    """What the check found: the server and how much the API would expose."""

    ok: bool = True
    server_version: int
    tables: int
    views: int
    functions: int


class ProjectUpdate(BaseModel):
    """Fields to change; omitted ones stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    database_url: SecretStr | None = None
    schemas: list[str] | None = Field(None, min_length=1)
    max_rows: int | None = Field(None, ge=1)
    statement_timeout_ms: int | None = Field(None, ge=0)
    cors_origins: list[str] | None = None
    cors_allow_credentials: bool | None = None
    max_body_bytes: int | None = Field(None, ge=1)
    rate_limit_per_key: float | None = Field(None, gt=0)
    rate_limit_per_ip: float | None = Field(None, gt=0)
    rate_limit_burst: int | None = Field(None, ge=1)
    jwt_secret: SecretStr | None = Field(
        None,
        description="The project's own HS256/384/512 secret (at least 32 characters), stored "
        "encrypted and never returned; an empty string removes it.",
    )
    allow_unfiltered_writes: bool | None = None
    pool_size: int | None = Field(None, ge=1, le=100)
    anon_role: str | None = None
    jwks: JwksDocument = None
    jwks_url: HttpUrlText = None
    oidc_issuer: HttpUrlText = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_role_claim: str | None = None
    pgbouncer: bool | None = None
    direct_address: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$")
    log_retention_days: int | None = Field(
        None, ge=1, description="Days request logs are kept; null: the instance's."
    )


class ProjectOut(BaseModel):
    id: str
    name: str
    rest_url: str
    schemas: list[str]
    config: ProjectConfig
    paused: bool
    jwt_secret_set: bool = Field(False, description="A project JWT secret is stored.")
    created_at: datetime
    updated_at: datetime
    role: MemberRole | None = Field(None, description="The caller's role in the project.")


class ProjectCreated(BaseModel):
    """Returned once, at creation: the keys are not retrievable afterwards."""

    id: str
    name: str
    rest_url: str
    anon_key: str
    service_key: str


class ProjectStatus(BaseModel):
    id: str
    paused: bool
    reachable: bool | None
    last_error: str | None
    schema_loaded_at: datetime | None
    pool_open: bool
    schema_watcher: SchemaWatcherStatus | None = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    role: MemberRole


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: MemberRole
    created_at: datetime
