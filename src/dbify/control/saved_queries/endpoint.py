"""``GET /p/{id}/queries/v1/{name}?param=…``: run a saved query for a data API caller.

The caller authenticates exactly as on the data API (``apikey`` or ``Authorization:
Bearer``, keys or JWTs) and the query runs with that principal's role in a READ ONLY
transaction on the project's pool (whose sessions carry the project's statement
timeout). Query-string values are checked against the declared types (a clear 400
naming the parameter) and bound as parameters, never interpolated. ``limit`` and
``offset`` page the result (``limit`` defaults to the project's ``max_rows``); the JSON
array is built by PostgreSQL. Keys of an RBAC access role are refused: their rules are
enforced by the data API's planner, which arbitrary SQL bypasses.
"""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import parse_qsl

from dbify.auth.principal import Principal, authenticate, authenticate_jwt, bearer_jwt
from dbify.control.saved_queries.statement import (
    CompiledQuery,
    QueryRejected,
    check_value,
    compile_query,
)
from dbify.control.saved_queries.store import SavedQueryRecord, SavedQueryStore
from dbify.dataplane.execute import run_statement
from dbify.dataplane.pipeline import RawRequest
from dbify.dataplane.project import Project
from dbify.dataplane.respond import ApiResponse, respond_error
from dbify.dataplane.sql.statement import Param, Statement
from dbify.errors import Codes, DbifyError, ErrorKind

__all__ = ["ACCESS_ROLE_REFUSED", "SavedQueryEndpoint"]

ACCESS_ROLE_REFUSED = ErrorKind("DBIFY670", 403)
_JSON = (b"content-type", b"application/json; charset=utf-8")


async def _principal(project: Project, headers: dict[str, str]) -> Principal:
    token = bearer_jwt(headers, project.jwt)
    if token is None:
        return authenticate(headers, project.keys, project.settings.anon_role, project.access_roles)
    assert project.jwt is not None
    return await authenticate_jwt(
        token, headers, project.keys, project.jwt, project.settings.anon_role,
        project.access_roles,
    )  # fmt: skip


def _bad(message: str, hint: str | None = None) -> DbifyError:
    return DbifyError(Codes.INVALID_QUERY_PARAM, message, hint=hint)


def _page_value(raw: str | None, name: str, default: int | None) -> str | None:
    if raw is None:
        return None if default is None else str(default)
    if not raw.isdigit():
        raise _bad(f"'{name}' must be a non-negative integer")
    return raw


def bind_arguments(
    record: SavedQueryRecord, compiled: CompiledQuery, query_string: str, max_rows: int | None
) -> tuple[tuple[Param, ...], int]:
    """The bind values (declared order, then limit and offset) and the offset.
    Raises a 400 ``DbifyError`` for unknown, repeated, missing or ill-typed values."""
    given: dict[str, str | None] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key in given:
            raise _bad(f"Parameter '{key}' is given more than once")
        given[key] = value
    declared = {p["name"]: p for p in record.parameters}
    unknown = sorted(set(given) - set(declared) - {"limit", "offset"})
    if unknown:
        raise _bad(
            f"Unknown parameter(s): {', '.join(unknown)}",
            hint=f"This query takes: {', '.join(declared) or 'no parameters'} (and limit, offset)",
        )
    values: list[Param] = []
    for name in compiled.order:
        spec = declared[name]
        chosen = given.get(name, spec.get("default"))
        if chosen is None:
            if spec.get("required", True):
                raise _bad(f"Missing required parameter '{name}' ({spec['type']})")
            values.append(None)
            continue
        try:
            values.append(check_value(str(spec["type"]), str(chosen)))
        except ValueError as exc:
            raise _bad(f"Invalid value for parameter '{name}': {exc}") from None
    limit = _page_value(given.get("limit"), "limit", max_rows)
    if limit is not None and max_rows is not None and int(limit) > max_rows:
        limit = str(max_rows)
    offset = _page_value(given.get("offset"), "offset", 0)
    assert offset is not None
    return (*values, limit, offset), int(offset)


class SavedQueryEndpoint:
    """Answers saved-query calls; definitions are read from the metadata store."""

    def __init__(self, store: SavedQueryStore, *, cache_size: int = 256) -> None:
        self._store = store
        self._compiled: OrderedDict[tuple[str, str], CompiledQuery] = OrderedDict()
        self._cache_size = cache_size

    def _compile(self, record: SavedQueryRecord) -> CompiledQuery:
        key = (record.sql, repr(record.parameters))
        found = self._compiled.get(key)
        if found is None:
            types = {str(p["name"]): str(p["type"]) for p in record.parameters}
            found = compile_query(record.sql, types)
            self._compiled[key] = found
            if len(self._compiled) > self._cache_size:
                self._compiled.popitem(last=False)
        return found

    async def handle(self, project: Project, name: str, raw: RawRequest) -> ApiResponse:
        try:
            return await self._run(project, name, raw)
        except DbifyError as error:
            return respond_error(error)

    async def _run(self, project: Project, name: str, raw: RawRequest) -> ApiResponse:
        if raw.method not in ("GET", "HEAD"):
            raise DbifyError(Codes.METHOD_NOT_ALLOWED, "Saved queries answer GET only")
        principal = await _principal(project, dict(raw.headers))
        if principal.access is not None:
            raise DbifyError(
                ACCESS_ROLE_REFUSED,
                "Saved queries are not available to keys of an access role",
                hint="Use the service key, or a key or JWT with a database role.",
            )
        record = await self._store.by_name(project.id, name)
        if record is None:
            raise DbifyError(Codes.NOT_FOUND, f"Saved query '{name}' not found")
        try:
            compiled = self._compile(record)
        except QueryRejected as exc:  # saved before a stricter check: never run it
            raise DbifyError(Codes.INVALID_QUERY_PARAM, str(exc)) from None
        params, offset = bind_arguments(
            record, compiled, raw.query_string, project.settings.max_rows
        )
        row = await run_statement(
            project, principal, Statement(compiled.sql, params), read_only=True
        )
        assert row is not None  # the wrapped statement always returns one row
        body, count = row["body"], int(row["page_count"])
        data = body if isinstance(body, bytes) else str(body).encode()
        last = f"{offset}-{offset + count - 1}" if count else "*"
        headers = [_JSON, (b"content-range", f"{last}/*".encode())]
        return ApiResponse(200, b"" if raw.method == "HEAD" else data, headers)
