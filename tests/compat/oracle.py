"""Run SQL on the fixture database and return its result as JSON, the oracle that
compatibility cases compare Dbify's answers with."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson


async def _fetch_json(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        text = await conn.fetchval(f"SELECT coalesce(json_agg(_o), '[]')::text FROM ({sql}) _o")
    finally:
        await conn.close()
    return orjson.loads(text)


def rows_of(url: str, sql: str) -> Any:
    """The rows ``sql`` returns, as PostgreSQL's ``json_agg`` renders them."""
    return asyncio.run(_fetch_json(url, sql))
