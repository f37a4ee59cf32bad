"""Rules for saved queries: ``admin`` manages them, ``viewer`` reads them; the SQL is
checked when saved.

Saving compiles the SQL (``statement.py``: one read-only SELECT, placeholders match
the declared parameters, defaults read as their types), then PREPAREs it on the
project's database in a READ ONLY transaction as the role it will run as, so unknown
tables or columns, a role that cannot be assumed or may not read them, and parameter
types that do not fit (``created_at > :since`` with ``since`` an integer) are a 400
now rather than on every call. PREPARE's result description is kept as the query's
columns: the data API's grammar resolves ``select``/filters/``order`` against them and
the project's OpenAPI documents them.
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
    ResultColumn,
    SavedQueryCreate,
    SavedQueryOut,
    SavedQueryUpdate,
)
from dbify.control.saved_queries.statement import QueryRejected, check_value, compile_query
from dbify.control.saved_queries.store import SavedQueryRecord, SavedQueryStore
from dbify.secrets_box import SecretBox

__all__ = ["SavedQueryService", "saved_query_path"]

_TYPES_SQL = "SELECT oid, format_type(oid, NULL), typcategory FROM pg_type WHERE oid = any($1)"


def saved_query_path(project_id: str, name: str) -> str:
    """Where the data API answers it: a two-segment path under the REST root."""
    return f"/p/{project_id}/rest/v1/q/{name}"


def _check_defaults(parameters: list[QueryParameter]) -> None:
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise control_error(ControlCodes.INVALID_REQUEST, "Parameter names must be unique")
    for p in parameters:
        if p.default is None:
            continue
        try:
            check_value(p.type, p.default)
        except ValueError as exc:
            raise control_error(
                ControlCodes.INVALID_REQUEST, f"Default of parameter '{p.name}': {exc}"
            ) from None


def _check_columns(columns: list[dict[str, str]]) -> None:
    names = [c["name"] for c in columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise control_error(
            ControlCodes.INVALID_REQUEST,
            f"The result has several columns named {', '.join(twice)}",
            hint="Give each output column its own name (… AS name).",
        )


class SavedQueryService:
    def __init__(self, store: SavedQueryStore, projects: ProjectService, box: SecretBox) -> None:
        self.store = store
        self._projects = projects
        self._box = box

    def _out(self, record: SavedQueryRecord) -> SavedQueryOut:
        url = self._projects.public_url + saved_query_path(record.project_id, record.name)
        return SavedQueryOut(
            id=record.id,
            project_id=record.project_id,
            name=record.name,
            description=record.description,
            sql=record.sql,
            parameters=[QueryParameter(**p) for p in record.parameters],
            run_as_role=record.run_as_role,
            timeout_ms=record.timeout_ms,
            columns=[ResultColumn(**c) for c in record.columns],
            url=url,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    async def _validate(
        self,
        database_url: str,
        sql: str,
        parameters: list[QueryParameter],
        run_as_role: str | None,
    ) -> list[dict[str, str]]:
        """The result columns; raises a 400 for anything that would fail on every call."""
        _check_defaults(parameters)
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
                if run_as_role:
                    await conn.execute("SELECT set_config('role', $1, true)", run_as_role)
                prepared = await conn.prepare(compiled.sql)
                attributes = prepared.get_attributes()
                # PREPARE does not check privileges; starting the executor does, and
                # LIMIT 0 reads no row of the query.
                nulls = [None] * len(compiled.order)
                await conn.fetch(f"SELECT * FROM ({compiled.sql}) AS _q LIMIT 0", *nulls)
                types = {
                    r[0]: (str(r[1]), str(r[2]))
                    for r in await conn.fetch(_TYPES_SQL, [a.type.oid for a in attributes])
                }
        except asyncpg.PostgresError as exc:
            raise control_error(
                ControlCodes.INVALID_REQUEST,
                f"The query does not prepare: {exc}",
                details=str(exc.sqlstate),
            ) from None
        finally:
            await conn.close()
        columns = [
            {"name": a.name, "type": types.get(a.type.oid, ("text", "S"))[0],
             "category": types.get(a.type.oid, ("text", "S"))[1]}
            for a in attributes
        ]  # fmt: skip
        _check_columns(columns)
        return columns

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
        columns = await self._validate(url, body.sql, body.parameters, body.run_as_role)
        now = datetime.now(UTC)
        record = SavedQueryRecord(
            id=secrets.token_hex(8), project_id=project_id, name=body.name,
            description=body.description, sql=body.sql,
            parameters=[p.model_dump() for p in body.parameters], created_at=now, updated_at=now,
            run_as_role=body.run_as_role, timeout_ms=body.timeout_ms, columns=columns,
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
        if change.timeout_ms is not None:
            values["timeout_ms"] = change.timeout_ms or None
        role = current.run_as_role
        if change.run_as_role is not None:
            role = values["run_as_role"] = change.run_as_role or None
        if change.sql is not None or change.parameters is not None or "run_as_role" in values:
            sql = change.sql if change.sql is not None else current.sql
            parameters = (
                change.parameters
                if change.parameters is not None
                else [QueryParameter(**p) for p in current.parameters]
            )
            columns = await self._validate(url, sql, parameters, role)
            values.update(sql=sql, parameters=[p.model_dump() for p in parameters])
            values["columns"] = columns
        await self.store.update(current.id, updated_at=datetime.now(UTC), **values)
        return self._out(await self._query(project_id, name))

    async def delete(self, caller: Caller, project_id: str, name: str) -> None:
        await self._projects.require_role(caller, project_id, "admin")
        if not await self.store.delete(project_id, name):
            raise control_error(ControlCodes.NOT_FOUND, f"Saved query '{name}' not found")
