"""The execute stage: run a built statement on the project's database, in one round trip
where possible, and translate driver errors into catalogue errors.

A request runs as the connecting role on the fast path (one prepared statement, no
transaction block, one round trip). A principal with a database role runs inside a
transaction that first sets ``role``, ``request.jwt.claims`` and PostgREST's
``request.method``/``request.path``/``request.headers`` transaction-locally
(``set_config(..., true)``), so nothing survives on the pooled connection
(``shared/PERF-NOTES.md``: never session-level settings, never the role in the same
statement as the query). A statement timeout set per transaction (an access role's
own, or the project's behind PgBouncer, where startup parameters are refused) rides in
the ``BEGIN`` message itself (``_begin``): no extra round trip. A direct project's
timeout is a startup parameter of its pool and costs nothing per request.

This module does not build SQL and does not shape HTTP responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter_ns
from types import TracebackType
from typing import TypeVar

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from dbify.auth.principal import Principal
from dbify.dataplane.project import Project
from dbify.dataplane.sql.statement import ReadStatement, Statement
from dbify.dataplane.timing import ConnectionUse, RequestTiming
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

    __slots__ = ("_acquired", "_asked", "_context", "_sql", "_timing")

    def __init__(self, project: Project, sql: str, timing: RequestTiming | None) -> None:
        self._context = project.pool.acquire(timeout=project.settings.pool_timeout_seconds)
        self._timing = timing
        self._sql = sql  # for a traced request's database span only
        self._asked = self._acquired = 0

    async def __aenter__(self) -> _Connection:
        timing = self._timing
        started = perf_counter_ns() if timing is not None else 0
        try:
            conn: _Connection = await self._context.__aenter__()
        except (TimeoutError, *_UNREACHABLE) as exc:
            if timing is not None:
                timing.queue_ns += perf_counter_ns() - started
            raise _unavailable(exc) from exc
        if timing is not None:
            self._asked, self._acquired = started, perf_counter_ns()
            timing.queue_ns += self._acquired - started
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        timing = self._timing
        if timing is not None:
            released = perf_counter_ns()
            timing.db_ns += released - self._acquired
            if timing.uses is not None:
                timing.uses.append(ConnectionUse(self._asked, self._acquired, released, self._sql))
        try:
            await self._context.__aexit__(exc_type, exc, traceback)
        except (TimeoutError, *_UNREACHABLE) as error:
            raise _unavailable(error) from error
        if isinstance(exc, (TimeoutError, *_UNREACHABLE)):
            raise _unavailable(exc) from exc


class _Rollback(Exception):
    """Raised inside a transaction to undo it after reading its result."""


class _Transaction:
    """``BEGIN`` plus, when there is one, the transaction's statement timeout, sent as
    one simple-protocol message (one round trip, like asyncpg's own ``BEGIN``);
    ``COMMIT`` on success, ``ROLLBACK`` on any exception. A connection whose rollback
    fails is terminated, so the pool (whose reset is a no-op) never hands out a
    connection left inside a transaction."""

    __slots__ = ("_begin", "_conn")

    def __init__(self, conn: _Connection, begin: str) -> None:
        self._conn = conn
        self._begin = begin

    async def __aenter__(self) -> None:
        await self._conn.execute(self._begin)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self._conn.execute("COMMIT")
            return
        try:
            await self._conn.execute("ROLLBACK")
        except BaseException:
            self._conn.terminate()
            raise


def _begin(read_only: bool, timeout: int | None) -> str:
    """The ``BEGIN`` message; the timeout is an ``int`` formatted here (never text from
    a request), so it can ride in the same simple-protocol message."""
    begin = "BEGIN READ ONLY" if read_only else "BEGIN"
    if timeout is None:
        return begin
    return f"{begin}; SELECT set_config('statement_timeout', '{int(timeout)}', true)"


_Result = TypeVar("_Result")
Fetch = Callable[[_Connection, Statement], Awaitable[_Result]]
"""Runs the statement on the connection and reads its result."""


async def _first_row(conn: _Connection, statement: Statement) -> asyncpg.Record | None:
    return await conn.fetchrow(statement.sql, *statement.params)


async def _fetch_row(
    conn: _Connection,
    principal: Principal,
    statement: Statement,
    project_timeout: int | None,
    fetch: Fetch[_Result],
    *,
    read_only: bool = False,
    rollback: bool = False,
    check: Callable[[_Result], None] | None = None,
) -> _Result | None:
    """``project_timeout`` is the project's statement timeout when it must be set per
    transaction (behind PgBouncer: ``ProjectSettings.transaction_timeout_ms``), else
    None (a direct pool sends it once as a startup parameter, free per request).

    Behind PgBouncer even a plain autocommit read therefore runs in a transaction:
    ``BEGIN; SELECT set_config('statement_timeout', ...)`` (one round trip), the query,
    ``COMMIT``. Measured locally through PgBouncer 1.18 (asyncpg, one connection, a
    one-row select, 3,000 iterations, medians of four runs on a shared machine):
    ~235 µs a request as a bare autocommit statement, ~330 µs in the timed
    transaction: ~100 µs (two round trips: the BEGIN message, COMMIT) for the
    timeout to be enforced at all behind a transaction-mode pooler. Requests with a
    role or claims were in a transaction already: for them the timeout costs nothing.
    """
    timeout = principal.statement_timeout_ms
    if timeout is None:
        timeout = project_timeout
    fast = not (read_only or rollback or check or principal.claims or timeout is not None)
    if principal.role is None and fast:
        # The fast path: one prepared statement, one round trip, autocommit.
        return await fetch(conn, statement)
    row: _Result | None = None
    try:
        async with _Transaction(conn, _begin(read_only, timeout)):
            if principal.role is not None or principal.claims is not None:
                await _set_request(conn, principal)
            row = await fetch(conn, statement)
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
    fetch: Fetch[_Result],
    *,
    read_only: bool = False,
    rollback: bool = False,
    check: Callable[[_Result], None] | None = None,
    is_rpc: bool = False,
    timing: RequestTiming | None = None,
) -> _Result | None:
    """Run one statement in its own transaction and return its result as ``fetch``
    reads it (``_first_row``: its single result row).

    ``read_only`` runs it in a READ ONLY transaction (GET on a function);
    ``rollback`` undoes it after reading the result (``Prefer: tx=rollback``);
    ``check`` inspects the result before commit and may raise a ``DbifyError`` to roll
    back (``Prefer: max-affected``). ``text`` columns come back as ``bytes``. ``timing``
    gets the pool wait and the database time.
    """
    async with _connection(project, statement.sql, timing) as conn:
        try:
            return await _fetch_row(
                conn,
                principal,
                statement,
                project.settings.transaction_timeout_ms,
                fetch,
                read_only=read_only,
                rollback=rollback,
                check=check,
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
    project: Project,
    principal: Principal,
    statement: ReadStatement,
    timing: RequestTiming | None = None,
) -> ReadResult:
    """Run a read; raises ``DbifyError`` for pool/connection trouble and
    ``DatabaseError`` for anything PostgreSQL refuses."""
    async with _connection(project, statement.main.sql, timing) as conn:
        try:
            row = await _fetch_row(
                conn,
                principal,
                statement.main,
                project.settings.transaction_timeout_ms,
                _first_row,
            )
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


async def _write_result(conn: _Connection, statement: Statement) -> WriteResult:
    """The result of a write: from its command tag when it is ``counted`` (a bare
    INSERT/UPDATE/DELETE: ``INSERT 0 3``, ``UPDATE 3``), else from its result row."""
    if statement.counted:
        affected = await _command_count(conn, statement)
        return WriteResult(affected=affected, inserted=None, body=None, location=())
    row = await _first_row(conn, statement)
    if row is None:  # pragma: no cover - the write statement always returns one row
        raise DbifyError(Codes.INTERNAL, "The write returned no result row")
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
    timing: RequestTiming | None = None,
) -> WriteResult:
    """Run a write built by ``sql/mutate.py`` in one transaction; ``check`` may raise a
    ``DbifyError`` to roll it back (``max-affected``, PUT's key, a singular body);
    ``rollback`` undoes it after reading the result (``Prefer: tx=rollback``)."""
    result = await run_statement(
        project, principal, statement, _write_result, rollback=rollback, check=check,
        timing=timing,
    )  # fmt: skip
    assert result is not None  # _write_result returns or raises
    return result


async def _command_count(conn: _Connection, statement: Statement) -> int:
    tag = await conn.execute(statement.sql, *statement.params)
    return int(tag.rpartition(" ")[2])


async def execute_counted(
    project: Project,
    principal: Principal,
    statement: Statement,
    timing: RequestTiming | None = None,
) -> int:
    """Run a bare write (``counted``, no check, committed) and return the rows it
    wrote, read from its command tag; errors as ``execute_write``."""
    affected = await run_statement(project, principal, statement, _command_count, timing=timing)
    assert affected is not None  # _command_count returns or raises
    return affected


async def execute_call(
    project: Project,
    principal: Principal,
    statement: ReadStatement,
    *,
    read_only: bool,
    rollback: bool = False,
    timing: RequestTiming | None = None,
) -> ReadResult:
    """Run a function call built by ``sql/call.py`` in one transaction, READ ONLY when
    ``read_only`` (GET, or a STABLE/IMMUTABLE function: a write inside it is then a
    25006, 405). Errors map as PostgREST maps them for RPC (42883 is a 404)."""
    row = await run_statement(
        project,
        principal,
        statement.main,
        _first_row,
        read_only=read_only,
        rollback=rollback,
        is_rpc=True,
        timing=timing,
    )
    if row is None:  # pragma: no cover - the call statement always returns one row
        raise DbifyError(Codes.INTERNAL, "The call returned no result row")
    total, page_count, body = row[0], row[1], row[2]
    return ReadResult(
        total_count=None if total is None else int(total),
        page_count=int(page_count or 0),
        body=body if isinstance(body, bytes) else str(body or "").encode(),
    )
