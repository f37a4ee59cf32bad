"""Running a saved query's read statement: one READ ONLY transaction on the project's
pool that first sets, transaction-locally, the role the query runs as, its
``statement_timeout`` and the caller's JWT claims (for row-level security), so nothing
survives on the pooled connection and it works the same behind PgBouncer in
transaction mode. A writing function called by the query fails with 25006 (405).

It does not build SQL (``endpoint.py`` with ``sql/read.py``) or shape the response.
"""

from __future__ import annotations

import asyncpg
import orjson

from dbify.auth.principal import Principal
from dbify.dataplane.execute import ReadResult, translate_database_error
from dbify.dataplane.project import Project
from dbify.dataplane.sql.statement import ReadStatement
from dbify.errors import Codes, DbifyError

__all__ = ["run_saved_query"]

_SETTINGS = (
    "SELECT set_config('statement_timeout', $1, true), set_config('request.jwt.claims', $2, true)"
)


async def run_saved_query(
    project: Project,
    principal: Principal,
    statement: ReadStatement,
    *,
    role: str | None,
    timeout_ms: int,
) -> ReadResult:
    """Run ``statement`` READ ONLY as ``role`` (None: the connecting role) with
    ``timeout_ms``; raises ``DbifyError``/``DatabaseError`` as the data API does."""
    claims = principal.claims or orjson.dumps({"role": role}).decode()
    try:
        async with project.pool.acquire(timeout=project.settings.pool_timeout_seconds) as conn:
            try:
                async with conn.transaction(readonly=True):
                    await conn.execute(_SETTINGS, str(timeout_ms), claims)
                    if role is not None:
                        await conn.execute("SELECT set_config('role', $1, true)", role)
                    row = await conn.fetchrow(statement.main.sql, *statement.main.params)
                    estimated = None
                    if statement.count_estimate is not None:
                        estimate = statement.count_estimate
                        plan = await conn.fetchval(
                            "EXPLAIN (FORMAT JSON) " + estimate.sql, *estimate.params
                        )
                        estimated = int(orjson.loads(plan)[0]["Plan"]["Plan Rows"])
            except asyncpg.PostgresError as exc:
                raise translate_database_error(exc, principal=principal) from None
    except TimeoutError as exc:
        raise DbifyError(
            Codes.DATABASE_POOL_TIMEOUT, "Timed out acquiring connection from connection pool."
        ) from exc
    except (OSError, asyncpg.InterfaceError) as exc:
        raise DbifyError(
            Codes.DATABASE_UNAVAILABLE, "Database client error. Retrying the connection."
        ) from exc
    assert row is not None  # a read statement always returns one row
    total, page_count, body = row[0], row[1], row[2]
    return ReadResult(
        total_count=None if total is None else int(total),
        page_count=int(page_count or 0),
        body=body if isinstance(body, bytes) else str(body or "").encode(),
        estimated_total=estimated,
    )
