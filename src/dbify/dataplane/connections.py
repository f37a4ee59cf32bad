"""Connection pools to users' databases, set up for the data plane's statements.

Each pooled connection decodes ``text`` results as raw bytes, so a response body built
by PostgreSQL reaches the client as the bytes PostgreSQL sent, never decoded and
re-encoded in Python. Nothing is reset when a connection goes back to its pool
(``connection_pool.py``): every per-request setting is transaction-local
(``set_config(..., true)``), so nothing leaks from one request to the next and
asyncpg's default reset's extra round trip is saved (``shared/PERF-NOTES.md``,
conclusion 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from dbify.dataplane.connection_pool import ConnectionPool


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """How to connect to one project's database."""

    size: int = 10
    connect_timeout_seconds: float = 10.0
    statement_timeout_ms: int = 10_000
    pgbouncer: bool = False
    application_name: str = "dbify"


def _encode_text(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _decode_text(value: bytes) -> bytes:
    return value


async def _setup_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "text",
        schema="pg_catalog",
        encoder=_encode_text,
        decoder=_decode_text,
        format="binary",
    )


def with_address(url: str, address: str) -> str:
    """``url`` pointed at ``address`` (``host:port``), keeping user, password, database
    and options: the direct URL of a project reached through PgBouncer.

    >>> with_address("postgresql://u:p@bouncer:6432/shop?sslmode=require", "db:5432")
    'postgresql://u:p@db:5432/shop?sslmode=require'
    """
    parts = urlsplit(url)
    credentials, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{credentials}{at}{address}"))


async def open_pool(url: str, options: PoolOptions) -> ConnectionPool:
    """A pool of up to ``options.size`` connections to ``url`` (two opened now).

    Behind PgBouncer in transaction mode, server-side prepared statements are
    disabled and the statement timeout is not sent as a startup parameter (PgBouncer
    rejects unknown ones); the executor sets it per transaction instead.
    """
    server_settings = {"application_name": options.application_name}
    if not options.pgbouncer and options.statement_timeout_ms:
        server_settings["statement_timeout"] = str(options.statement_timeout_ms)

    async def connect() -> asyncpg.Connection:
        conn = await asyncpg.connect(
            url,
            timeout=options.connect_timeout_seconds,
            statement_cache_size=0 if options.pgbouncer else 256,
            server_settings=server_settings,
        )
        try:
            await _setup_connection(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    pool = ConnectionPool(connect, options.size)
    await pool.fill(min(2, options.size))
    return pool


async def connect_direct(url: str, options: PoolOptions) -> asyncpg.Connection:
    """One plain connection (introspection, LISTEN), with default codecs."""
    return await asyncpg.connect(
        url,
        timeout=options.connect_timeout_seconds,
        statement_cache_size=0 if options.pgbouncer else 100,
        server_settings={"application_name": f"{options.application_name}-admin"},
    )
