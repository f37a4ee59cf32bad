"""SQL for search indexes: definitions and their latest build status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import search_indexes


@dataclass(frozen=True, slots=True)
class SearchIndexRecord:
    id: str
    project_id: str
    schema_name: str
    table_name: str
    key_column: str
    key_type: str
    text_columns: dict[str, float]
    return_columns: list[str]
    semantic: bool
    state: str
    rows_indexed: int
    last_error: str | None
    watermark: int | None
    created_at: datetime
    indexed_at: datetime | None


def _record(row: sa.Row[Any]) -> SearchIndexRecord:
    m = row._mapping
    return SearchIndexRecord(**{f: m[f] for f in SearchIndexRecord.__slots__})


class SearchIndexStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: SearchIndexRecord) -> None:
        values = {f: getattr(record, f) for f in SearchIndexRecord.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(search_indexes.insert().values(**values))

    async def all(self) -> list[SearchIndexRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(search_indexes.select().order_by(search_indexes.c.id))
        return [_record(r) for r in rows]

    async def of_project(self, project_id: str) -> list[SearchIndexRecord]:
        query = (
            search_indexes.select()
            .where(search_indexes.c.project_id == project_id)
            .order_by(search_indexes.c.schema_name, search_indexes.c.table_name)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [_record(r) for r in rows]

    async def get(self, project_id: str, index_id: str) -> SearchIndexRecord | None:
        query = search_indexes.select().where(
            search_indexes.c.project_id == project_id, search_indexes.c.id == index_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def find(self, project_id: str, schema: str, table: str) -> SearchIndexRecord | None:
        query = search_indexes.select().where(
            search_indexes.c.project_id == project_id,
            search_indexes.c.schema_name == schema,
            search_indexes.c.table_name == table,
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def delete(self, index_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(search_indexes.delete().where(search_indexes.c.id == index_id))

    async def set_status(self, index_id: str, values: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                search_indexes.update().where(search_indexes.c.id == index_id).values(**values)
            )
