"""The execute stage: run a built statement on the project's database, in one round trip
where possible, and translate driver errors into catalogue errors.

A request runs as the connecting role on the fast path (one prepared statement, no
transaction block, one round trip). A principal with a database role runs inside a
transaction that first sets ``role``, ``request.jwt.claims`` and PostgREST's
``request.method``/``request.path``/``request.headers`` transaction-locally
(``set_config(..., true)``), so nothing survives on the pooled connection
(``shared/PERF-NOTES.md``: never session-level settings, never the role in the same
statement as the query).

This module does not build SQL and does not shape HTTP responses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from dbify.auth.principal import Principal
from dbify.dataplane.project import Project
from dbify.dataplane.sql.statement import ReadStatement, Statement
from dbify.errors import Codes, DatabaseError, DbifyError, ErrorKind

_Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a read returned: counts and the body bytes PostgreSQL built."""

    total_count: int | None
    page_count: int
    body: bytes
    estimated_total: int | None = None


def _status_for_sqlstate(code: str, *, authenticated: bool, is_rpc: bool) -> int:
    """PostgREST's mapping of SQLSTATE to HTTP status (``Error.hs``, ``pgErrorStatus``)."""
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "53400": 500,
        "57P01": 503,
        "57014": 504,
        "P0001": 400,
        "42883": 404 if is_rpc else 400,
        "42P01": 404,
        "42P17": 500,
        "42501": 403 if authenticated else 401,
    }
    if code in exact:
        return exact[code]
    if code.startswith("PT") and code[2:].isdigit() and 100 <= int(code[2:]) <= 599:
        return int(code[2:])
    # Class 54 (program limit exceeded: too many select items, a JSON path too deep) is
    # a 500 in PostgREST, but here only a request's own size can cause it: a 400.
    by_class = {
        "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500,
        "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503, "54": 400, "55": 500,
        "57": 500, "58": 500, "F0": 500, "HV": 500, "P0": 500, "XX": 500,
    }  # fmt: skip
    return by_class.get(code[:2], 400)


def translate_database_error(
    error: asyncpg.PostgresError, *, principal: Principal, is_rpc: bool = False
) -> DatabaseError:
    """A catalogue error carrying PostgreSQL's code, message, detail and hint."""
    code = str(error.sqlstate or "XX000")
    authenticated = principal.kind in ("service", "jwt")
    status = _status_for_sqlstate(code, authenticated=authenticated, is_rpc=is_rpc)
    detail = getattr(error, "detail", None)
    hint = getattr(error, "hint", None)
    return DatabaseError(
        ErrorKind(code, status), str(error.args[0]) if error.args else "", detail, hint
    )


_POOL_TIMEOUT = "Timed out acquiring connection from connection pool."
_UNREACHABLE = (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError)


def _unavailable(exc: BaseException) -> DbifyError:
    if isinstance(exc, TimeoutError):
        return DbifyError(Codes.DATABASE_POOL_TIMEOUT, _POOL_TIMEOUT)
    return DbifyError(
        Codes.DATABASE_UNAVAILABLE,
        "Database client error. Retrying the connection.",
        hint="The project's database is not reachable.",
    )


class _connection:  # lower case: used like the function it replaced, `async with _connection(p)`
    """A pooled connection of ``project``; pool timeouts and connection failures (while
    acquiring or while in use) become catalogue errors. A class, not an
    ``@asynccontextmanager``: it runs on every request, and the generator machinery
    showed in profiles."""

    __slots__ = ("_context",)

    def __init__(self, project: Project) -> None:
        self._context = project.pool.acquire(timeout=project.settings.pool_timeout_seconds)

    async def __aenter__(self) -> _Connection:
        try:
            conn: _Connection = await self._context.__aenter__()
        except (TimeoutError, *_UNREACHABLE) as exc:
            raise _unavailable(exc) from exc
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self._context.__aexit__(exc_type, exc, traceback)
        except (TimeoutError, *_UNREACHABLE) as error:
            raise _unavailable(error) from error
        if isinstance(exc, (TimeoutError, *_UNREACHABLE)):
            raise _unavailable(exc) from exc


class _Rollback(Exception):
    """Raised inside a transaction to undo it after reading its result."""


RowCheck = Callable[[asyncpg.Record], None]


async def _fetch_row(
    conn: _Connection,
    principal: Principal,
    statement: Statement,
    *,
    read_only: bool = False,
    rollback: bool = False,
    check: RowCheck | None = None,
) -> asyncpg.Record | None:
    timeout = principal.statement_timeout_ms
    fast = not (read_only or rollback or check or principal.claims or timeout is not None)
    if principal.role is None and fast:
        # The fast path: one prepared statement, one round trip, autocommit.
        return await conn.fetchrow(statement.sql, *statement.params)
    row: asyncpg.Record | None = None
    try:
        async with conn.transaction(readonly=read_only):
            if principal.role is not None or principal.claims is not None:
                await _set_request(conn, principal)
            if timeout is not None:  # an access role's own timeout, for this transaction
                await conn.execute("SELECT set_config('statement_timeout', $1, true)", str(timeout))
            row = await conn.fetchrow(statement.sql, *statement.params)
            if check is not None and row is not None:
                check(row)  # raising here rolls the transaction back
            if rollback:
                raise _Rollback
    except _Rollback:
        pass
    return row


_SET_REQUEST = (
    "set_config('request.jwt.claims', $1, true), set_config('request.method', $2, true), "
    "set_config('request.path', $3, true), set_config('request.headers', $4, true)"
)


async def _set_request(conn: _Connection, principal: Principal) -> None:
    """Role, claims and PostgREST's ``request.*`` settings, all transaction-local, in
    one statement before the query (never in the query's own statement)."""
    claims = principal.claims
    if claims is None:
        claims = orjson.dumps({"role": principal.role}).decode()
    method, path, headers = principal.context or ("", "", "{}")
    if principal.role is None:
        await conn.execute("SELECT " + _SET_REQUEST, claims, method, path, headers)
    else:
        await conn.execute(
            "SELECT " + _SET_REQUEST + ", set_config('role', $5, true)",
            claims, method, path, headers, principal.role,
        )  # fmt: skip


async def run_statement(
    project: Project,
    principal: Principal,
    statement: Statement,
    *,
    read_only: bool = False,
    rollback: bool = False,
    check: RowCheck | None = None,
    is_rpc: bool = False,
) -> asyncpg.Record | None:
    """Run one statement in its own transaction and return its single result row.

    ``read_only`` runs it in a READ ONLY transaction (GET on a function);
    ``rollback`` undoes it after reading the result (``Prefer: tx=rollback``);
    ``check`` inspects the row before commit and may raise a ``DbifyError`` to roll
    back (``Prefer: max-affected``). ``text`` columns come back as ``bytes``.
    """
    async with _connection(project) as conn:
        try:
            return await _fetch_row(
                conn, principal, statement, read_only=read_only, rollback=rollback, check=check
            )
        except asyncpg.PostgresError as exc:
            raise translate_database_error(exc, principal=principal, is_rpc=is_rpc) from None


async def _estimate(conn: _Connection, statement: Statement) -> int | None:
    plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + statement.sql, *statement.params)
    parsed = orjson.loads(plan)
    try:
        return int(parsed[0]["Plan"]["Plan Rows"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


async def execute_read(
    project: Project, principal: Principal, statement: ReadStatement
) -> ReadResult:
    """Run a read; raises ``DbifyError`` for pool/connection trouble and
    ``DatabaseError`` for anything PostgreSQL refuses."""
    async with _connection(project) as conn:
        try:
            row = await _fetch_row(conn, principal, statement.main)
            estimated = None
            if statement.count_estimate is not None:
                estimated = await _estimate(conn, statement.count_estimate)
        except asyncpg.PostgresError as exc:
            raise translate_database_error(exc, principal=principal) from None
    if row is None:  # pragma: no cover - the read statement always returns one row
        raise DbifyError(Codes.INTERNAL, "The read returned no result row")
    total, page_count, body = row[0], row[1], row[2]
    return ReadResult(
        total_count=None if total is None else int(total),
        page_count=int(page_count or 0),
        body=body if isinstance(body, bytes) else str(body or "").encode(),
        estimated_total=estimated,
    )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write returned: rows written (``affected``), rows inserted rather than
    updated (None when not tracked), the representation body (None unless asked for)
    and the primary key values (as text) of at most two written rows."""

    affected: int
    inserted: int | None
    body: bytes | None
    location: tuple[tuple[str | None, ...], ...]
    # Written rows outside an access role's row filter (only counted with one).
    violations: int = 0


WriteCheck = Callable[[WriteResult], None]


def _write_result(row: asyncpg.Record) -> WriteResult:
    body, location = row["body"], row["location"]
    keys = orjson.loads(location) if location is not None else []
    return WriteResult(
        affected=int(row["page_count"]),
        inserted=None if row["inserted"] is None else int(row["inserted"]),
        body=body.encode() if isinstance(body, str) else body,
        location=tuple(tuple(k) for k in keys),
        violations=int(row.get("violations") or 0),
    )


async def execute_write(
    project: Project,
    principal: Principal,
    statement: Statement,
    *,
    rollback: bool = False,
    check: WriteCheck | None = None,
) -> WriteResult:
    """Run a write built by ``sql/mutate.py`` in one transaction; ``check`` may raise a
    ``DbifyError`` to roll it back (``max-affected``, PUT's key, a singular body);
    ``rollback`` undoes it after reading the result (``Prefer: tx=rollback``)."""

    def check_row(row: asyncpg.Record) -> None:
        if check is not None:
            check(_write_result(row))

    row = await run_statement(
        project,
        principal,
        statement,
        rollback=rollback,
        check=check_row if check is not None else None,
    )
    if row is None:  # pragma: no cover - the write statement always returns one row
        raise DbifyError(Codes.INTERNAL, "The write returned no result row")
    return _write_result(row)


async def execute_call(
    project: Project,
    principal: Principal,
    statement: ReadStatement,
    *,
    read_only: bool,
    rollback: bool = False,
) -> ReadResult:
    """Run a function call built by ``sql/call.py`` in one transaction, READ ONLY when
    ``read_only`` (GET, or a STABLE/IMMUTABLE function: a write inside it is then a
    25006, 405). Errors map as PostgREST maps them for RPC (42883 is a 404)."""
    row = await run_statement(
        project, principal, statement.main, read_only=read_only, rollback=rollback, is_rpc=True
    )
    if row is None:  # pragma: no cover - the call statement always returns one row
        raise DbifyError(Codes.INTERNAL, "The call returned no result row")
    total, page_count, body = row[0], row[1], row[2]
    return ReadResult(
        total_count=None if total is None else int(total),
        page_count=int(page_count or 0),
        body=body if isinstance(body, bytes) else str(body or "").encode(),
    )
