"""Opening the metadata store and migrating it.

Owns URL handling (``sqlite:///`` and ``postgresql://`` URLs are mapped to the async
drivers aiosqlite and asyncpg) and running the Alembic migrations shipped in
``dbify/metadata/migrations``. It does not define tables (``tables.py``) or queries
(the feature stores). A store that cannot be opened, reached or migrated (a data
directory that cannot be made, a server refusing connections, a database that does not
exist, a role without the rights to create the tables) is ``MetadataUnavailable``: one
line naming the store (password hidden) and the reason, which the CLI prints as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dbify.os_errors import os_error_line
from dbify.settings import Settings, redact_url

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


class MetadataUnavailable(Exception):
    """The metadata store cannot be used; the message is one line for the user."""


@contextlib.contextmanager
def reaching(url: str) -> Iterator[None]:
    """Failures to reach or prepare the store at ``url`` inside the block, as
    ``MetadataUnavailable``: the driver's own message, never the SQL it ran."""
    try:
        yield
    except OSError as error:
        raise MetadataUnavailable(_cannot_use(url, os_error_line(error))) from None
    except DBAPIError as error:
        raise MetadataUnavailable(_cannot_use(url, str(error.orig))) from None


def _cannot_use(url: str, reason: str) -> str:
    return f"The metadata store {redact_url(url)} cannot be used: {reason}"


@dataclass(frozen=True, slots=True)
class MetadataStore:
    """An open metadata store; ``engine`` is shared by every feature store."""

    engine: AsyncEngine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()


def metadata_url(settings: Settings) -> str:
    """The configured URL, or a SQLite file in ``data_dir``."""
    if settings.metadata.url is not None:
        return settings.metadata.url.get_secret_value()
    path = Path(settings.data_dir).resolve() / "metadata.db"
    return f"sqlite:///{path}"


def _async_url(url: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported metadata store {backend!r}: use sqlite or postgresql")
    if "+" in parsed.drivername:
        return url
    return parsed.set(drivername=_DRIVERS[backend]).render_as_string(hide_password=False)


def _enable_sqlite_foreign_keys(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_metadata_store(url: str) -> MetadataStore:
    """An engine on ``url`` (not yet migrated: see ``run_migrations``)."""
    try:
        async_url = _async_url(url)
    except ValueError as error:
        raise MetadataUnavailable(_cannot_use(url, str(error))) from None
    if async_url.startswith("sqlite"):
        database = make_url(async_url).database
        if database and database != ":memory:":
            with reaching(url):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(async_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        # SQLite enforces ON DELETE CASCADE only when asked, per connection.
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return MetadataStore(engine)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    location = resources.files("dbify.metadata").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


async def run_migrations(store: MetadataStore, revision: str = "head") -> None:
    """Bring the store's schema to ``revision`` (idempotent)."""

    def upgrade(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), revision)

    with reaching(str(store.engine.url)):  # the URL's str hides its password
        async with store.engine.begin() as conn:
            await conn.run_sync(upgrade)
