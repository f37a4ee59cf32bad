"""Checking a project's database: connect, verify privileges, read its catalog.

Turns every way a connection can fail into a ``DbifyError`` a user can act on (bad
URL, wrong password, unreachable host, missing database, missing privileges), never
echoing the password. Returns the introspection catalog as JSON text, which the
metadata store caches so that a restart needs no round trip to build the schema
snapshot. Nothing is written to the user's database.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson

from dbify.control.errors import ControlCodes, control_error
from dbify.errors import DbifyError
from dbify.schema.introspect import build_snapshot
from dbify.schema.model import SchemaSnapshot
from dbify.settings import redact_url

__all__ = ["DatabaseProbe", "probe_database", "snapshot_from_catalog", "validate_database_url"]

_INTROSPECT_SQL = resources.files("dbify.schema").joinpath("introspect.sql").read_text()
_SCHEMA_USAGE_SQL = """
SELECT s.name, n.oid IS NOT NULL AS present,
       n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') AS usable
FROM unnest($1::text[]) AS s(name) LEFT JOIN pg_namespace n ON n.nspname = s.name
"""


@dataclass(frozen=True, slots=True)
class DatabaseProbe:
    """What a successful check learned."""

    catalog: str
    server_version: int


def validate_database_url(url: str) -> None:
    """Raise ``DATABASE_URL_INVALID`` unless ``url`` looks like a PostgreSQL URL."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise control_error(
            ControlCodes.DATABASE_URL_INVALID, "The database URL cannot be parsed"
        ) from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise control_error(
            ControlCodes.DATABASE_URL_INVALID,
            "The database URL must start with postgresql://",
            hint="Example: postgresql://user:password@host:5432/dbname",
        )
    if not parts.path.strip("/"):
        raise control_error(
            ControlCodes.DATABASE_URL_INVALID,
            "The database URL names no database",
            hint="Add the database name after the host: postgresql://host:5432/dbname",
        )


def describe_connect_error(error: BaseException, url: str) -> DbifyError:
    """The user-facing error for an exception raised while connecting to ``url``."""
    where = redact_url(url)
    if isinstance(error, asyncpg.InvalidPasswordError):
        return control_error(
            ControlCodes.DATABASE_AUTH_FAILED,
            "Authentication failed: check the user name and password",
            details=where,
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return control_error(
            ControlCodes.DATABASE_MISSING, "The database does not exist", details=where
        )
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        return control_error(
            ControlCodes.DATABASE_PRIVILEGES,
            "The role may not connect to this database",
            details=where,
            hint="GRANT CONNECT ON DATABASE ... TO the role in the URL.",
        )
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return control_error(
            ControlCodes.DATABASE_AUTH_FAILED,
            "The server refused the role (unknown role or not allowed by pg_hba.conf)",
            details=where,
        )
    if isinstance(error, socket.gaierror):
        return control_error(
            ControlCodes.DATABASE_UNREACHABLE, "The host name could not be resolved", details=where
        )
    if isinstance(error, ConnectionRefusedError):
        return control_error(
            ControlCodes.DATABASE_UNREACHABLE,
            "Connection refused: is PostgreSQL running and listening there?",
            details=where,
        )
    if isinstance(error, TimeoutError):
        return control_error(
            ControlCodes.DATABASE_UNREACHABLE, "The connection timed out", details=where
        )
    if isinstance(error, OSError):
        return control_error(
            ControlCodes.DATABASE_UNREACHABLE,
            f"Network error: {error.strerror or type(error).__name__}",
            details=where,
        )
    if isinstance(error, asyncpg.PostgresError):
        return control_error(
            ControlCodes.DATABASE_ERROR,
            f"The server reported an error: {type(error).__name__}",
            details=where,
        )
    return control_error(
        ControlCodes.DATABASE_URL_INVALID, "The database URL was not accepted", details=where
    )


async def _check_schemas(conn: asyncpg.Connection, schemas: tuple[str, ...]) -> None:
    rows = await conn.fetch(_SCHEMA_USAGE_SQL, list(schemas))
    missing = [r["name"] for r in rows if not r["present"]]
    unusable = [r["name"] for r in rows if r["present"] and not r["usable"]]
    if missing:
        raise control_error(
            ControlCodes.INVALID_REQUEST,
            f"Schema(s) not found in the database: {', '.join(missing)}",
        )
    if unusable:
        raise control_error(
            ControlCodes.DATABASE_PRIVILEGES,
            f"The role lacks USAGE on schema(s): {', '.join(unusable)}",
            hint="GRANT USAGE ON SCHEMA ... TO the role in the URL.",
        )


async def probe_database(url: str, schemas: tuple[str, ...], timeout: float) -> DatabaseProbe:  # noqa: ASYNC109 - also the connect timeout
    """Connect to ``url`` within ``timeout`` seconds, check ``schemas`` and read the catalog.

    Raises ``DbifyError`` with a ``ControlCodes.DATABASE_*`` code on any failure.
    """
    validate_database_url(url)
    try:
        conn = await asyncio.wait_for(
            asyncpg.connect(url, timeout=timeout, statement_cache_size=0), timeout + 1
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise describe_connect_error(exc, url) from None
    try:
        await _check_schemas(conn, schemas)
        catalog: Any = await conn.fetchval(_INTROSPECT_SQL, list(schemas))
        version = conn.get_server_version()
    except asyncpg.PostgresError as exc:
        raise describe_connect_error(exc, url) from None
    finally:
        await conn.close()
    text = catalog if isinstance(catalog, str) else orjson.dumps(catalog).decode()
    return DatabaseProbe(text, version.major * 10000 + version.minor)


def snapshot_from_catalog(catalog: str, schemas: tuple[str, ...]) -> SchemaSnapshot:
    return build_snapshot(orjson.loads(catalog), schemas)
