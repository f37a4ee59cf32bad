"""Rules for saved queries: ``admin`` manages them, ``viewer`` reads them; the SQL is
checked when saved.

Saving compiles the SQL (``statement.py``: one read-only SELECT, placeholders match
the declared parameters), then PREPAREs the wrapped statement on the project's database
in a READ ONLY transaction, so unknown tables or columns and parameter types that do
not fit (``created_at > :since`` with ``since`` an integer) are a 400 now rather than
on every call.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg

from dbify.control.access import Caller, ProjectRole
from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.service import ProjectService
from dbify.control.saved_queries.schemas import (
    QueryParameter,
    SavedQueryCreate,
    SavedQueryOut,
    SavedQueryUpdate,
)
from dbify.control.saved_queries.statement import QueryRejected, compile_query
from dbify.control.saved_queries.store import SavedQueryRecord, SavedQueryStore
from dbify.secrets_box import SecretBox

__all__ = ["SavedQueryService"]


class SavedQueryService:
    def __init__(self, store: SavedQueryStore, projects: ProjectService, box: SecretBox) -> None:
        self.store = store
        self._projects = projects
        self._box = box

    def _out(self, record: SavedQueryRecord) -> SavedQueryOut:
        url = f"{self._projects.public_url}/p/{record.project_id}/queries/v1/{record.name}"
        return SavedQueryOut(
            id=record.id,
            project_id=record.project_id,
            name=record.name,
            description=record.description,
            sql=record.sql,
            parameters=[QueryParameter(**p) for p in record.parameters],
            url=url,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    async def _validate(
        self, database_url: str, sql: str, parameters: list[QueryParameter]
    ) -> None:
        names = [p.name for p in parameters]
        if len(set(names)) != len(names):
            raise control_error(ControlCodes.INVALID_REQUEST, "Parameter names must be unique")
        try:
            compiled = compile_query(sql, {p.name: p.type for p in parameters})
        except QueryRejected as exc:
            raise control_error(ControlCodes.INVALID_REQUEST, str(exc)) from None
        try:
            conn = await asyncpg.connect(database_url, timeout=10, statement_cache_size=0)
        except (OSError, asyncpg.PostgresError) as exc:
            raise control_error(
                ControlCodes.DATABASE_UNREACHABLE, "Cannot reach the project's database",
                details=type(exc).__name__,
            ) from None  # fmt: skip
        try:
            async with conn.transaction(readonly=True):
                await conn.execute("SET LOCAL statement_timeout = 5000")
                await conn.prepare(compiled.sql)
        except asyncpg.PostgresError as exc:
            raise control_error(
                ControlCodes.INVALID_REQUEST,
                f"The query does not prepare: {exc}",
                details=str(exc.sqlstate),
            ) from None
        finally:
            await conn.close()

    async def _database_url(self, caller: Caller, project_id: str, role: ProjectRole) -> str:
        record, _ = await self._projects.require_role(caller, project_id, role)
        return self._box.decrypt(record.database_url_sealed)

    async def _query(self, project_id: str, name: str) -> SavedQueryRecord:
        record = await self.store.by_name(project_id, name)
        if record is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Saved query '{name}' not found")
        return record

    async def create(
        self, caller: Caller, project_id: str, body: SavedQueryCreate
    ) -> SavedQueryOut:
        url = await self._database_url(caller, project_id, "admin")
        await self._validate(url, body.sql, body.parameters)
        now = datetime.now(UTC)
        record = SavedQueryRecord(
            id=secrets.token_hex(8), project_id=project_id, name=body.name,
            description=body.description, sql=body.sql,
            parameters=[p.model_dump() for p in body.parameters], created_at=now, updated_at=now,
        )  # fmt: skip
        if not await self.store.insert(record):
            raise control_error(ControlCodes.CONFLICT, f"Saved query '{body.name}' exists")
        return self._out(record)

    async def list(self, caller: Caller, project_id: str) -> list[SavedQueryOut]:
        await self._projects.require_role(caller, project_id, "viewer")
        return [self._out(r) for r in await self.store.list(project_id)]

    async def get(self, caller: Caller, project_id: str, name: str) -> SavedQueryOut:
        await self._projects.require_role(caller, project_id, "viewer")
        return self._out(await self._query(project_id, name))

    async def update(
        self, caller: Caller, project_id: str, name: str, change: SavedQueryUpdate
    ) -> SavedQueryOut:
        url = await self._database_url(caller, project_id, "admin")
        current = await self._query(project_id, name)
        values: dict[str, Any] = {}
        if change.description is not None:
            values["description"] = change.description
        if change.sql is not None or change.parameters is not None:
            sql = change.sql if change.sql is not None else current.sql
            parameters = (
                change.parameters
                if change.parameters is not None
                else [QueryParameter(**p) for p in current.parameters]
            )
            await self._validate(url, sql, parameters)
            values.update(sql=sql, parameters=[p.model_dump() for p in parameters])
        await self.store.update(current.id, updated_at=datetime.now(UTC), **values)
        return self._out(await self._query(project_id, name))

    async def delete(self, caller: Caller, project_id: str, name: str) -> None:
        await self._projects.require_role(caller, project_id, "admin")
        if not await self.store.delete(project_id, name):
            raise control_error(ControlCodes.NOT_FOUND, f"Saved query '{name}' not found")
