"""SQL for the schema change log: append one entry per detected change, read newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import schema_changes


@dataclass(frozen=True, slots=True)
class SchemaChangeRecord:
    """``changes`` is the JSON list of ``SchemaChange.as_json()``; ``openapi_*`` are SHA-256
    hex digests of the project's OpenAPI document before and after."""

    id: str
    project_id: str
    detected_at: datetime
    detected_by: str
    changes: list[dict[str, Any]]
    breaking: int
    openapi_before: str
    openapi_after: str


def _record(row: sa.Row[Any]) -> SchemaChangeRecord:
    m = row._mapping
    return SchemaChangeRecord(**{f: m[f] for f in SchemaChangeRecord.__slots__})


class SchemaChangeStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: SchemaChangeRecord) -> None:
        values = {f: getattr(record, f) for f in SchemaChangeRecord.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(schema_changes.insert().values(**values))

    async def page(
        self, project_id: str, limit: int, offset: int
    ) -> tuple[list[SchemaChangeRecord], int]:
        where = schema_changes.c.project_id == project_id
        query = (
            schema_changes.select()
            .where(where)
            .order_by(schema_changes.c.detected_at.desc(), schema_changes.c.id)
            .limit(limit)
            .offset(offset)
        )
        count = sa.select(sa.func.count()).select_from(schema_changes).where(where)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
            total = (await conn.execute(count)).scalar_one()
        return [_record(r) for r in rows], int(total)
