"""SQL for saved queries (metadata store, table ``saved_queries``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import saved_queries

__all__ = ["SavedQueryRecord", "SavedQueryStore"]


@dataclass(frozen=True, slots=True)
class SavedQueryRecord:
    id: str
    project_id: str
    name: str
    description: str
    sql: str
    parameters: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    run_as_role: str | None = None
    timeout_ms: int | None = None
    # [{"name", "type", "category"}] of the result, from PREPARE at save time.
    columns: list[dict[str, str]] = field(default_factory=list)


def _record(row: sa.Row[Any]) -> SavedQueryRecord:
    return SavedQueryRecord(**{f: row._mapping[f] for f in SavedQueryRecord.__slots__})


class SavedQueryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: SavedQueryRecord) -> bool:
        """False when the project already has a query of that name."""
        values = {f: getattr(record, f) for f in SavedQueryRecord.__slots__}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(saved_queries.insert().values(**values))
        except sa.exc.IntegrityError:
            return False
        return True

    async def by_name(self, project_id: str, name: str) -> SavedQueryRecord | None:
        query = saved_queries.select().where(
            saved_queries.c.project_id == project_id, saved_queries.c.name == name
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def list(self, project_id: str) -> list[SavedQueryRecord]:
        query = saved_queries.select().where(saved_queries.c.project_id == project_id)
        async with self._engine.connect() as conn:
            return [_record(r) for r in await conn.execute(query.order_by(saved_queries.c.name))]

    async def update(self, query_id: str, **values: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                saved_queries.update().where(saved_queries.c.id == query_id).values(**values)
            )

    async def delete(self, project_id: str, name: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                saved_queries.delete().where(
                    saved_queries.c.project_id == project_id, saved_queries.c.name == name
                )
            )
        return bool(result.rowcount)
