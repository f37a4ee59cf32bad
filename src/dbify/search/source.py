"""Reading an indexed table from the project's database (as Dbify's connecting role).

Backfill reads in primary-key order, in batches (keyset pagination, never OFFSET).
Catch-up reads only rows whose ``xmin`` is at or after a watermark: every row a
transaction inserted or updated carries that transaction's id, so rows changed since
the last pass are exactly those whose ``age(xmin)`` is within the transactions started
since (plus a margin: re-reading a row is harmless). Deleted rows are found by
comparing key sets. Views have no ``xmin``: they are rebuilt instead.

This module does not talk to search backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg

from dbify.backends.search import Document
from dbify.search.config import IndexConfig

__all__ = ["all_keys", "changed_rows", "row_batches", "row_count", "rows_by_keys", "watermark"]

_MARGIN = 16


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _select(config: IndexConfig) -> str:
    columns = ", ".join(f"{_quote(c)}::text" for c in config.text_columns)
    return f"SELECT {_quote(config.key)}::text, {columns} FROM {_table(config)}"


def _table(config: IndexConfig) -> str:
    return f"{_quote(config.schema)}.{_quote(config.table)}"


def _text(value: object) -> str | None:
    """Project pools may decode ``text`` as bytes (the data plane's raw JSON path)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _document(config: IndexConfig, row: asyncpg.Record) -> Document:
    values = {c: _text(row[i + 1]) for i, c in enumerate(config.text_columns)}
    return Document(_text(row[0]) or "", values)


async def watermark(pool: asyncpg.Pool) -> int:
    """The oldest transaction still running now: later commits have ids at or above it."""
    async with pool.acquire() as conn:
        value = await conn.fetchval("SELECT txid_snapshot_xmin(txid_current_snapshot())")
    return int(value)


async def row_count(pool: asyncpg.Pool, config: IndexConfig) -> int:
    """How many rows a backfill will read (the denominator of its progress)."""
    async with pool.acquire() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM {_table(config)}"))


async def row_batches(
    pool: asyncpg.Pool, config: IndexConfig, size: int
) -> AsyncIterator[list[Document]]:
    """Every row, ``size`` at a time, in key order."""
    key = _quote(config.key)
    # Qualified: a bare name in ORDER BY means the output column, here the key cast to
    # text, which would sort 10 before 9 and make the keyset step skip rows.
    ordered = f"{_table(config)}.{key}"
    first = f"{_select(config)} ORDER BY {ordered} LIMIT {int(size)}"
    after = (
        f"{_select(config)} WHERE {key} > CAST($1::text AS {config.key_type}) "
        f"ORDER BY {ordered} LIMIT {int(size)}"
    )
    last: str | None = None
    while True:
        async with pool.acquire() as conn:
            rows = await (conn.fetch(first) if last is None else conn.fetch(after, last))
        if not rows:
            return
        yield [_document(config, row) for row in rows]
        if len(rows) < size:
            return
        last = _text(rows[-1][0])


async def changed_rows(pool: asyncpg.Pool, config: IndexConfig, since: int) -> list[Document]:
    """Rows inserted or updated by transactions at or after the watermark ``since``."""
    # txid_current() gives this transaction an id first, so age() counts from it.
    query = f"{_select(config)} WHERE age(xmin) <= txid_current() - $1::bigint + {_MARGIN}"
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(query, since)
    return [_document(config, row) for row in rows]


async def all_keys(pool: asyncpg.Pool, config: IndexConfig) -> set[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {_quote(config.key)}::text FROM {_table(config)}")
    return {_text(r[0]) or "" for r in rows}


async def rows_by_keys(pool: asyncpg.Pool, config: IndexConfig, keys: list[str]) -> list[Document]:
    """The rows with these primary keys (as text) that exist now; missing keys are
    rows deleted since (or never committed)."""
    key = _quote(config.key)
    query = f"{_select(config)} WHERE {key} = ANY(CAST($1::text[] AS {config.key_type}[]))"
    async with pool.acquire() as conn:
        rows = await conn.fetch(query, keys)
    return [_document(config, row) for row in rows]
