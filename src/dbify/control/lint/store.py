"""Reading what the linter needs from a project's own database (read-only).

One short connection: the schema snapshot (``schema/introspect.py``) and the catalog
facts (``lint/facts.py``); another for the ``EXPLAIN`` of slow request shapes. The
metadata store is not involved; the service finds the project and its URL.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dbify.control.projects.connect import describe_connect_error
from dbify.lint import CatalogFacts, read_catalog_facts
from dbify.schema.introspect import introspect
from dbify.schema.model import SchemaSnapshot

__all__ = ["explain_queries", "read_lint_input"]


async def _connect(url: str, connect_timeout: float) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=connect_timeout, statement_cache_size=0)
    except (OSError, asyncpg.PostgresError, ValueError) as exc:
        raise describe_connect_error(exc, url) from None


async def read_lint_input(
    url: str, schemas: Sequence[str], anon_role: str | None, connect_timeout: float = 10.0
) -> tuple[SchemaSnapshot, CatalogFacts]:
    """The snapshot and facts of ``schemas``; connection failures become the control
    plane's ``DbifyError`` (as in ``projects/connect.py``)."""
    conn = await _connect(url, connect_timeout)
    try:
        async with conn.transaction(readonly=True):
            snapshot = await introspect(conn, schemas)
            facts = await read_catalog_facts(conn, schemas, anon_role)
    finally:
        await conn.close()
    return snapshot, facts


async def explain_queries(
    url: str, queries: Sequence[tuple[str, int]], connect_timeout: float = 10.0
) -> list[str]:
    """The plan of each (SQL with ``$n`` placeholders, parameter count), one line each
    (nodes joined by " / "; "" where EXPLAIN failed).

    The values were removed from the logs, so each query is planned as a *generic*
    plan (``plan_cache_mode = force_generic_plan``, the way PostgreSQL < 16 offers
    it): PREPARE, then EXPLAIN EXECUTE with NULLs that the generic plan never sees.
    Nothing is executed; the transaction is read-only and bounded by a timeout.
    """
    conn = await _connect(url, connect_timeout)
    plans: list[str] = []
    try:
        async with conn.transaction(readonly=True):
            await conn.execute(
                "SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL statement_timeout = 5000"
            )
            for index, (sql, params) in enumerate(queries):
                plans.append(await _explain(conn, f"dbify_lint_{index}", sql, params))
    finally:
        await conn.close()
    return plans


async def _explain(conn: asyncpg.Connection, name: str, sql: str, params: int) -> str:
    try:
        async with conn.transaction():  # a savepoint: one bad shape spoils nothing else
            await conn.execute(f"PREPARE {name} AS {sql}")
            args = ", ".join(["NULL"] * params)
            rows = await conn.fetch(
                f"EXPLAIN (COSTS OFF) EXECUTE {name}" + (f"({args})" if params else "")
            )
            await conn.execute(f"DEALLOCATE {name}")
    except asyncpg.PostgresError:
        return ""
    return " / ".join(str(row[0]).strip().lstrip("-> ").strip() for row in rows)
