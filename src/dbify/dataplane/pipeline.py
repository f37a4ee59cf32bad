"""The data plane pipeline: one short function calling the stages in order.

authenticate → parse → plan → build SQL → execute → respond. Each stage lives in its own
package or module; this one only wires them and adds ``Server-Timing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from time import perf_counter

import orjson

from dbify import __version__
from dbify.auth.principal import Principal, authenticate, authenticate_jwt, bearer_jwt
from dbify.dataplane.changes import ChangeSink, Operation, RowChange
from dbify.dataplane.execute import (
    WriteResult,
    execute_call,
    execute_counted,
    execute_read,
    execute_write,
)
from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.payload import one_object_text, parse_payload
from dbify.dataplane.grammar.raw_shape import (
    RawShape,
    masked_query,
    raw_request_shape,
    with_operands,
)
from dbify.dataplane.grammar.types import ApiRequest
from dbify.dataplane.openapi import openapi_json
from dbify.dataplane.plan.access import AccessPolicy, restrict_snapshot
from dbify.dataplane.plan.call import plan_call
from dbify.dataplane.plan.mutate import MutatePlan
from dbify.dataplane.project import Project
from dbify.dataplane.respond import ApiResponse, respond_error, respond_read
from dbify.dataplane.respond_call import respond_call
from dbify.dataplane.respond_write import respond_write, write_check
from dbify.dataplane.role_schema import snapshot_for_role
from dbify.dataplane.sql.call import build_call
from dbify.dataplane.sql.statement import Statement
from dbify.dataplane.timing import RequestTiming
from dbify.dataplane.write_cache import BareWrite, NotMemoized, Reparse, bind
from dbify.errors import Codes, DbifyError


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A data API request as it arrived, after the project was found."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes | None
    rest_url: str


async def handle_data_request(
    project: Project,
    raw: RawRequest,
    changes: ChangeSink | None = None,
    timing: RequestTiming | None = None,
) -> ApiResponse:
    """Answer one data API request; every ``DbifyError`` becomes its error response.
    Committed writes are told to ``changes`` (webhooks), if given; ``timing``, if given,
    gets the request's pool wait, database time, key and query shape (the request log)."""
    try:
        return await _run(project, raw, changes, timing)
    except DbifyError as error:
        return respond_error(error)


async def _run(
    project: Project, raw: RawRequest, changes: ChangeSink | None, timing: RequestTiming | None
) -> ApiResponse:
    started = perf_counter()
    token = bearer_jwt(raw.headers, project.jwt)
    if token is None:
        principal = authenticate(
            raw.headers, project.keys, project.settings.anon_role, project.access_roles
        )
    else:
        assert project.jwt is not None
        principal = await authenticate_jwt(
            token,
            raw.headers,
            project.keys,
            project.jwt,
            project.settings.anon_role,
            project.access_roles,
        )
    if timing is not None:
        access = principal.access
        timing.key_id = principal.key_id
        timing.role = principal.role or (access.role if access is not None else principal.kind)
    if principal.role is not None or principal.claims is not None:
        principal = _with_context(principal, raw)
    if principal.access is not None and raw.body is not None:
        _check_role_body(principal.access, raw.body)
    raw_shape = None
    if raw.method == "GET" or raw.method == "HEAD":
        raw_shape = raw_request_shape(raw.method, raw.path, raw.query_string, raw.headers)
        if raw_shape is not None:
            if timing is not None:
                timing.query_shape = masked_query(raw_shape)
            memo = project.statements.memoized_read(
                raw_shape,
                project.snapshot,
                max_rows=_max_rows(project, principal),
                policy=principal.access,
            )
            if memo is not None:  # a read seen before: no parsing, planning or building
                result = await execute_read(project, principal, memo[1], timing)
                return _timed(project, respond_read(memo[0], result), started, timing)
    elif raw.method in _MEMOIZED_WRITES:
        raw_shape = raw_request_shape(raw.method, raw.path, raw.query_string, raw.headers)
        if raw_shape is not None and timing is not None:
            timing.query_shape = masked_query(raw_shape)
        if raw_shape is not None and not principal.read_only:
            bare = project.writes.bare_write(raw_shape, project.snapshot)
            if bare is not None:  # a bare write seen before: no request object at all
                answer = await _bare_write(
                    project, principal, bare, raw, raw_shape[1], changes, timing
                )
                if answer is not None:
                    return _timed(project, answer, started, timing)
            memoized = project.writes.memoized_request(raw_shape, project.snapshot)
            if memoized is not None:  # a write shape seen before: no parsing or planning
                try:
                    response = await _write(
                        project, principal, memoized, raw, changes, raw_shape, timing,
                        memoized=True,
                    )  # fmt: skip
                    return _timed(project, response, started, timing)
                except NotMemoized:  # its body's keys make another shape: parse it
                    pass
    request = parse_request(
        raw.method,
        raw.path,
        raw.query_string,
        raw.headers,
        raw.body,
        exposed_schemas=project.settings.schemas,
    )
    if request.action == "schema":
        return await _schema(project, principal, request, raw)
    if request.action in ("read", "head"):
        response = await _read(project, principal, request, raw_shape, timing)
    elif request.action == "call":
        response = await _call(project, principal, request, timing)
    else:
        response = await _write(project, principal, request, raw, changes, raw_shape, timing)
    return _timed(project, response, started, timing)


_MEMOIZED_WRITES = frozenset(("POST", "PATCH", "DELETE"))


def _check_role_body(access: AccessPolicy, body: bytes) -> None:
    """An access role may only lower the project's ``max_body_bytes`` (applied while the
    body was read, before anyone was authenticated)."""
    limit = access.max_body_bytes
    if limit is not None and len(body) > limit:
        raise DbifyError(
            Codes.PAYLOAD_TOO_LARGE,
            f"Request body exceeds {limit} bytes, the limit of role '{access.role}'",
        )


def _timed(
    project: Project, response: ApiResponse, started: float, spent: RequestTiming | None
) -> ApiResponse:
    if project.settings.server_timing:
        timing = f"total;dur={(perf_counter() - started) * 1000:.3f}"
        if spent is not None:  # measured when the request is logged (app.py)
            timing += f", db;dur={spent.db_ns / 1e6:.3f}, queue;dur={spent.queue_ns / 1e6:.3f}"
        response.headers.append((b"server-timing", timing.encode()))
    return response


async def handle_read_as(project: Project, principal: Principal, raw: RawRequest) -> ApiResponse:
    """Answer a GET on a relation for a caller authenticated elsewhere (the dashboard's
    row browser); anything but a read is refused. Errors become error responses."""
    try:
        request = parse_request(
            "GET", raw.path, raw.query_string, raw.headers, None,
            exposed_schemas=project.settings.schemas,
        )  # fmt: skip
        if request.action != "read":
            raise DbifyError(Codes.NOT_FOUND, "Only tables and views can be browsed")
        return await _read(project, principal, request)
    except DbifyError as error:
        return respond_error(error)


def _with_context(principal: Principal, raw: RawRequest) -> Principal:
    """The principal with PostgREST's ``request.method/path/headers`` for the database."""
    headers = orjson.dumps(dict(raw.headers)).decode()
    return replace(principal, context=(raw.method, raw.path or "/", headers))


async def _schema(
    project: Project, principal: Principal, request: ApiRequest, raw: RawRequest
) -> ApiResponse:
    snapshot = project.snapshot
    if principal.access is not None:  # an access role sees only what it may use
        snapshot = restrict_snapshot(snapshot, principal.access)
    elif principal.role is not None:  # so does a database role (its own privileges)
        snapshot = await snapshot_for_role(project, principal, principal.role)
    body = openapi_json(
        snapshot,
        rest_url=raw.rest_url,
        title=project.name,
        version=__version__,
        schema=request.schema,
    )
    return ApiResponse(200, body, [(b"content-type", b"application/openapi+json; charset=utf-8")])


def _max_rows(project: Project, principal: Principal) -> int | None:
    """The project's ``max_rows``, unless the caller's access role overrides it."""
    access = principal.access
    if access is not None and access.max_rows is not None:
        return access.max_rows
    return project.settings.max_rows


async def _read(
    project: Project,
    principal: Principal,
    request: ApiRequest,
    raw: RawShape | None = None,
    timing: RequestTiming | None = None,
) -> ApiResponse:
    statement = project.statements.read_statement(
        request,
        project.snapshot,
        max_rows=_max_rows(project, principal),
        policy=principal.access,
        raw=raw,
    )
    result = await execute_read(project, principal, statement, timing)
    return respond_read(request, result)


async def _write(
    project: Project,
    principal: Principal,
    request: ApiRequest,
    raw: RawRequest,
    changes: ChangeSink | None,
    raw_shape: RawShape | None,
    timing: RequestTiming | None,
    *,
    memoized: bool = False,
) -> ApiResponse:
    """POST, PATCH, PUT, DELETE on a relation. ``raw_shape`` is the request's raw shape
    (None for PUT, or when it has none); ``memoized``: ``request`` is the write cache's
    memo (raises ``NotMemoized`` before anything runs when the cache cannot serve it)."""
    if principal.read_only:
        raise DbifyError(
            Codes.WRITE_NOT_ALLOWED,
            f"permission denied to write to '{request.target.name}'",
            hint="This key may only read: use the service key, or give the anon key a role.",
        )
    payload = None
    if request.method != "DELETE":
        payload = parse_payload(
            raw.body,
            request.content_type,
            columns=request.columns,
            allow_mixed_keys=request.preferences.missing == "default",
            max_rows=project.settings.max_write_rows,
        )
    reparse = None
    if raw_shape is not None and (request.method == "PATCH" or request.method == "DELETE"):
        reparse = _reparser(project, raw)
    plan, statement = project.writes.plan_and_statement(
        request,
        project.snapshot,
        payload,
        allow_unfiltered=project.settings.allow_unfiltered_mutations,
        policy=principal.access,
        raw=raw_shape,
        reparse=reparse,
        memoized=memoized,
    )
    rollback = request.preferences.tx == "rollback"
    check = write_check(request, plan)
    result = await execute_write(
        project, principal, statement, rollback=rollback, check=check, timing=timing
    )
    name = plan.relation.name
    if (
        changes is not None
        and not rollback
        and result.affected
        and changes.watches(project.id, name.schema, name.name)
    ):
        body = payload.json if payload is not None else None
        changes.row_changed(_row_change(project, plan, request, result, body))
    return respond_write(request, plan, result)


async def _bare_write(
    project: Project,
    principal: Principal,
    bare: BareWrite,
    raw: RawRequest,
    operands: tuple[str, ...],
    changes: ChangeSink | None,
    timing: RequestTiming | None,
) -> ApiResponse | None:
    """A write of a remembered bare shape: the recorded statement with this body and
    these operands, answered as the shape's first write of as many rows was. None,
    before anything runs, when the request does not fit the shape (another access
    policy, a body with other keys or not one object, a check or ``tx=rollback`` to
    honour): the caller then takes the memoized path, which explains any error."""
    access = principal.access
    if bare.policy is not access and bare.policy != access:
        return None
    if bare.allow_unfiltered != project.settings.allow_unfiltered_mutations:
        return None
    if bare.unchecked is None:
        tx = bare.request.preferences.tx
        bare.unchecked = write_check(bare.request, bare.plan) is None and tx != "rollback"
    if not bare.unchecked:
        return None
    body = None
    if bare.keys is not None:
        body = one_object_text(raw.body, bare.keys)  # one row: within max_write_rows (>= 1)
        if body is None:
            return None
    statement = Statement(bare.sql, bind(bare.sources, bare.params, body, operands), True)
    affected = await execute_counted(project, principal, statement, timing)
    name = bare.plan.relation.name
    if changes is not None and affected and changes.watches(project.id, name.schema, name.name):
        result = WriteResult(affected=affected, inserted=None, body=None, location=())
        changes.row_changed(_row_change(project, bare.plan, bare.request, result, body))
    known = bare.responses.get(affected)
    if known is not None:
        return ApiResponse(known[0], b"", known[1].copy())
    result = WriteResult(affected=affected, inserted=None, body=None, location=())
    response = respond_write(bare.request, bare.plan, result)
    if not response.body and len(bare.responses) < _BARE_RESPONSES:
        bare.responses[affected] = (response.status, response.headers.copy())
    return response


# Responses remembered per bare shape, by rows written (one-row writes: 1, and 0).
_BARE_RESPONSES = 4


def _reparser(project: Project, raw: RawRequest) -> Reparse:
    """Parses ``raw`` again with other filter operands (the write cache's probe)."""

    def reparse(operands: tuple[str, ...]) -> ApiRequest:
        query = with_operands(raw.query_string, operands)
        return parse_request(
            raw.method, raw.path, query, raw.headers, raw.body,
            exposed_schemas=project.settings.schemas,
        )  # fmt: skip

    return reparse


_OPERATIONS: dict[str, Operation] = {
    "insert": "insert", "put": "insert", "update": "update", "delete": "delete"
}  # fmt: skip


def _row_change(
    project: Project, plan: MutatePlan, request: ApiRequest, result: WriteResult, body: str | None
) -> RowChange:
    # "object" is one row as an object; wrap it so rows are always a JSON array.
    rows = result.body if request.media_type == "json" else None
    if result.body is not None and request.media_type == "object":
        rows = b"[" + result.body + b"]"
    return RowChange(
        project_id=project.id,
        schema=plan.relation.name.schema,
        table=plan.relation.name.name,
        operation=_OPERATIONS[plan.mutation],
        affected=result.affected,
        rows_json=rows,
        payload_json=body,
        keys=result.location,
    )


async def _call(
    project: Project, principal: Principal, request: ApiRequest, timing: RequestTiming | None
) -> ApiResponse:
    """GET, HEAD and POST on /rpc/{function}."""
    plan = plan_call(
        request, project.snapshot, max_rows=_max_rows(project, principal), policy=principal.access
    )
    body_media = plan.body_media_type(request.media_type)
    statement = build_call(plan, media_type=body_media, count=request.preferences.count)
    read_only = plan.read_only or principal.read_only
    rollback = request.preferences.tx == "rollback"
    result = await execute_call(
        project, principal, statement, read_only=read_only, rollback=rollback, timing=timing
    )
    return respond_call(
        request,
        result,
        media_type=plan.response_media_type(request.media_type),
        returns_set=plan.returns_set,
        returns_void=plan.shape == "void",
    )
