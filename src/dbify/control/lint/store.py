"""Reading what the linter needs from a project's own database (read-only).

One short connection: the schema snapshot (``schema/introspect.py``) and the catalog
facts (``lint/facts.py``). The metadata store is not involved; the service finds the
project and its URL.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dbify.control.projects.connect import describe_connect_error
from dbify.lint import CatalogFacts, read_catalog_facts
from dbify.schema.introspect import introspect
from dbify.schema.model import SchemaSnapshot

__all__ = ["read_lint_input"]


async def read_lint_input(
    url: str, schemas: Sequence[str], anon_role: str | None, connect_timeout: float = 10.0
) -> tuple[SchemaSnapshot, CatalogFacts]:
    """The snapshot and facts of ``schemas``; connection failures become the control
    plane's ``DbifyError`` (as in ``projects/connect.py``)."""
    try:
        conn = await asyncpg.connect(url, timeout=connect_timeout, statement_cache_size=0)
    except (OSError, asyncpg.PostgresError, ValueError) as exc:
        raise describe_connect_error(exc, url) from None
    try:
        async with conn.transaction(readonly=True):
            snapshot = await introspect(conn, schemas)
            facts = await read_catalog_facts(conn, schemas, anon_role)
    finally:
        await conn.close()
    return snapshot, facts
