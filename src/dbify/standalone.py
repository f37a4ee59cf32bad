"""One project served straight from a database URL (``dbify serve --database-url``).

Connects, introspects the schema, and issues a fresh anon and service key, held only
in memory (as hashes) for the life of the process. The control plane will offer the
same through its metadata store; the data plane sees no difference.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from dbify.auth.api_keys import ApiKey, KeyRing, generate_api_key, hash_api_key
from dbify.auth.jwt import JwtConfig, JwtVerifier
from dbify.dataplane.connections import PoolOptions, connect_direct, open_pool
from dbify.dataplane.project import Project, ProjectSettings
from dbify.schema.introspect import introspect
from dbify.settings import Settings


class DatabaseConnectError(Exception):
    """The database could not be reached; the message is safe to print (no password)."""


@dataclass(frozen=True, slots=True)
class IssuedKeys:
    """Keys in clear text, to be shown once."""

    anon_key: str
    service_key: str


def redact_url(url: str) -> str:
    """The URL without its password.

    >>> redact_url("postgresql://bob:s3cret@db:5432/shop")
    'postgresql://bob:***@db:5432/shop'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncpg.InvalidPasswordError):
        return "authentication failed (check the user name and password)"
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return "the database does not exist"
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return "the role is not allowed to connect"
    if isinstance(error, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is PostgreSQL running and listening there?)"
    if isinstance(error, TimeoutError):
        return "connection timed out"
    if isinstance(error, OSError):
        return f"network error ({error.strerror or type(error).__name__})"
    if isinstance(error, asyncpg.PostgresError):
        return f"the server refused the connection: {error.args[0] if error.args else error}"
    return f"{type(error).__name__}"


def project_settings(settings: Settings, schemas: tuple[str, ...]) -> ProjectSettings:
    return ProjectSettings(
        schemas=schemas,
        max_rows=settings.api.max_rows,
        anon_role=settings.api.anon_role,
        statement_timeout_ms=settings.database.statement_timeout_ms,
        transaction_timeout_ms=(
            (settings.database.statement_timeout_ms or None)
            if settings.database.pgbouncer
            else None
        ),
        max_body_bytes=settings.api.max_body_bytes,
        max_write_rows=settings.api.max_write_rows,
        allow_unfiltered_mutations=settings.api.allow_unfiltered_mutations,
        pool_timeout_seconds=settings.database.pool_timeout_seconds,
        statement_cache_size=settings.api.statement_cache_size,
        server_timing=settings.api.server_timing,
    )


async def open_standalone_project(
    database_url: str, settings: Settings, *, schemas: tuple[str, ...], name: str = "default"
) -> tuple[Project, IssuedKeys]:
    """Connect to ``database_url``, introspect it, and issue its keys."""
    options = PoolOptions(
        size=settings.database.pool_size,
        connect_timeout_seconds=settings.database.connect_timeout_seconds,
        statement_timeout_ms=settings.database.statement_timeout_ms,
        pgbouncer=settings.database.pgbouncer,
    )
    try:
        conn = await connect_direct(database_url, options)
        try:
            snapshot = await introspect(conn, schemas)
        finally:
            await conn.close()
        pool = await open_pool(database_url, options)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseConnectError(
            f"Cannot connect to {redact_url(database_url)}: {_describe(exc)}"
        ) from None
    anon, service = generate_api_key("anon"), generate_api_key("service")
    keys = KeyRing(
        [
            ApiKey("anon", "anon", hash_api_key(anon), anon[:14]),
            ApiKey("service", "service", hash_api_key(service), service[:17]),
        ]
    )
    project = Project(
        id=secrets.token_hex(8),
        name=name,
        pool=pool,
        snapshot=snapshot,
        keys=keys,
        settings=project_settings(settings, schemas),
    )
    project.jwt = jwt_verifier(settings)
    return project, IssuedKeys(anon, service)


def jwt_verifier(settings: Settings) -> JwtVerifier | None:
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
    )
    return JwtVerifier(config) if config.enabled else None
