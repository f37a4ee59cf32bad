"""The watcher's footprint in a project's own database: install, remove, look.

Each call opens one short direct connection (event triggers are database objects, so
PgBouncer's transaction mode is fine here); the SQL itself is ``schema_watch.catalog``.
Connection failures become the control plane's connect errors; a role without the
privilege to create event triggers becomes ``DBIFY614`` with a hint.
"""

from __future__ import annotations

import asyncpg

from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.connect import describe_connect_error
from dbify.schema_watch.catalog import install_watcher, uninstall_watcher, watcher_installed

__all__ = ["WatcherFootprint"]


class WatcherFootprint:
    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout

    async def _connect(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(self._url, timeout=self._timeout, statement_cache_size=0)
        except (OSError, asyncpg.PostgresError, ValueError, TimeoutError) as error:
            raise describe_connect_error(error, self._url) from None

    async def set_installed(self, install: bool) -> None:
        conn = await self._connect()
        try:
            await (install_watcher(conn) if install else uninstall_watcher(conn))
        except asyncpg.InsufficientPrivilegeError as error:
            verb = "create" if install else "drop"
            raise control_error(
                ControlCodes.DATABASE_PRIVILEGES,
                f"The project's database role may not {verb} event triggers",
                details=str(error),
                hint="PostgreSQL requires a superuser for event triggers: run this with a "
                "superuser's URL, or leave it; Dbify polls the catalog instead.",
            ) from None
        except asyncpg.PostgresError as error:
            raise control_error(
                ControlCodes.DATABASE_ERROR, "The database refused the change", details=str(error)
            ) from None
        finally:
            await conn.close()

    async def installed(self) -> bool:
        conn = await self._connect()
        try:
            return await watcher_installed(conn)
        finally:
            await conn.close()
