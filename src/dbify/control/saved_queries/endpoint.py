"""``GET /p/{id}/rest/v1/q/{name}?param=…``: run a saved query for a data API caller.

The caller authenticates exactly as on the data API (``apikey`` or ``Authorization:
Bearer``, keys or JWTs). The query string is split: the query's declared parameters
(checked against their types, defaults filled in, a clear 400 naming the parameter)
are bound as values, never interpolated; everything else is the data API's grammar,
applied on top of the query's rows as on a table (``select``, filters, ``order``,
``limit``/``offset``, ``Prefer: count=exact``, ``Accept: text/csv``), resolved against
the result columns PREPARE described at save time. The read builder
(``sql/read.py``) reads the query as its root source, so PostgreSQL builds the body.

It runs READ ONLY, as the query's ``run_as_role``, else the caller's role, else the
project's anon role, with the query's own ``statement_timeout`` (``run.py``). Keys of
an RBAC access role are refused: their rules are enforced by the data API's planner,
which arbitrary SQL bypasses.
"""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import parse_qsl, urlencode

from dbify.auth.principal import Principal, authenticate, authenticate_jwt, bearer_jwt
from dbify.control.saved_queries.openapi import add_saved_queries
from dbify.control.saved_queries.run import run_saved_query
from dbify.control.saved_queries.statement import (
    CompiledQuery,
    QueryRejected,
    check_value,
    compile_query,
)
from dbify.control.saved_queries.store import SavedQueryRecord, SavedQueryStore
from dbify.dataplane.grammar import parse_request
from dbify.dataplane.pipeline import RawRequest
from dbify.dataplane.plan.read import plan_read
from dbify.dataplane.project import Project
from dbify.dataplane.respond import ApiResponse, respond_error, respond_read
from dbify.dataplane.sql.read import build_read
from dbify.dataplane.sql.statement import Param, Statement
from dbify.errors import Codes, DbifyError, ErrorKind
from dbify.schema.model import Column, QualifiedName, Relation

__all__ = ["ACCESS_ROLE_REFUSED", "NOT_RESAVED", "SavedQueryEndpoint", "bind_arguments"]

ACCESS_ROLE_REFUSED = ErrorKind("DBIFY670", 403)
NOT_RESAVED = ErrorKind("DBIFY671", 409)


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


def bind_arguments(
    record: SavedQueryRecord, compiled: CompiledQuery, query_string: str
) -> tuple[tuple[Param, ...], str]:
    """The bind values (in ``compiled.order``) and the rest of the query string (the
    grammar's). Raises a 400 ``DbifyError`` for a repeated, missing or ill-typed value."""
    declared = {str(p["name"]): p for p in record.parameters}
    given: dict[str, str] = {}
    grammar: list[tuple[str, str]] = []
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key not in declared:
            grammar.append((key, value))
        elif key in given:
            raise _bad(f"Parameter '{key}' is given more than once")
        else:
            given[key] = value
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
    _refuse_unknown(record, [key for key, _ in grammar])
    return tuple(values), urlencode(grammar)


_GRAMMAR_KEYS = frozenset(("select", "order", "limit", "offset", "and", "or", "not.and",
                           "not.or", "columns"))  # fmt: skip


def _refuse_unknown(record: SavedQueryRecord, keys: list[str]) -> None:
    """A key that is neither a parameter, a grammar word nor a filter on a result
    column is most likely a misspelt parameter: say so, rather than a filter error."""
    columns = {c["name"] for c in record.columns}
    unknown = sorted(
        {
            k for k in keys
            if k not in _GRAMMAR_KEYS and k.split("->")[0] not in columns
            and not k.endswith((".select", ".order", ".limit", ".offset", ".or", ".and"))
        }
    )  # fmt: skip
    if unknown:
        declared = ", ".join(str(p["name"]) for p in record.parameters) or "no parameters"
        raise _bad(
            f"Unknown parameter(s): {', '.join(unknown)}",
            hint=f"This query takes: {declared}; filters apply to its columns: "
            f"{', '.join(sorted(columns))}",
        )


def result_relation(record: SavedQueryRecord) -> Relation:
    """The query's output as a relation the read planner resolves names against."""
    columns = tuple(
        Column(name=c["name"], position=i, data_type=c["type"], type_name=c["type"],
               type_category=c["category"], nullable=True)
        for i, c in enumerate(record.columns, start=1)
    )  # fmt: skip
    return Relation(QualifiedName("q", record.name), "view", columns)


class SavedQueryEndpoint:
    """Answers saved-query calls; definitions are read from the metadata store."""

    def __init__(self, store: SavedQueryStore, *, cache_size: int = 256) -> None:
        self.store = store
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

    async def document(self, project_id: str, openapi: bytes) -> bytes:
        """The project's OpenAPI document with its saved queries added."""
        return add_saved_queries(openapi, await self.store.list(project_id))

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
        record = await self.store.by_name(project.id, name)
        if record is None:
            raise DbifyError(Codes.NOT_FOUND, f"Saved query '{name}' not found")
        if not record.columns:
            raise DbifyError(
                NOT_RESAVED,
                f"Saved query '{name}' was saved before result columns were recorded",
                hint="Save it again (PATCH it with its SQL) to record them.",
            )
        try:
            compiled = self._compile(record)
        except QueryRejected as exc:  # saved before a stricter check: never run it
            raise DbifyError(Codes.INVALID_QUERY_PARAM, str(exc)) from None
        values, grammar = bind_arguments(record, compiled, raw.query_string)
        request = parse_request(
            raw.method, "/" + name, grammar, raw.headers, None,
            exposed_schemas=project.settings.schemas,
        )  # fmt: skip
        plan = plan_read(
            request, project.snapshot, max_rows=project.settings.max_rows,
            source=result_relation(record), root_privilege=None,
        )  # fmt: skip
        statement = build_read(
            plan,
            media_type=request.media_type,
            count=request.preferences.count,
            root_rows=Statement(compiled.sql, values),
        )
        role = record.run_as_role or principal.role or project.settings.anon_role
        timeout = record.timeout_ms or project.settings.statement_timeout_ms
        result = await run_saved_query(project, principal, statement, role=role, timeout_ms=timeout)
        return respond_read(request, result)
