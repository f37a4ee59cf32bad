"""SQL for project API keys: rows hold the SHA-256 of the secret, never the secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import api_keys


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    project_id: str
    name: str
    role: str
    key_hash: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    rate_limit_per_second: float | None = None  # None: the project's limit
    rate_limit_burst: int | None = None


def _record(row: sa.Row[Any]) -> KeyRecord:
    return KeyRecord(**{f: row._mapping[f] for f in KeyRecord.__slots__})


class KeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: KeyRecord) -> None:
        values = {f: getattr(record, f) for f in KeyRecord.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(api_keys.insert().values(**values))

    async def get(self, project_id: str, key_id: str) -> KeyRecord | None:
        query = api_keys.select().where(
            api_keys.c.project_id == project_id, api_keys.c.id == key_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def of_project(self, project_id: str) -> list[KeyRecord]:
        query = (
            api_keys.select()
            .where(api_keys.c.project_id == project_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        async with self._engine.connect() as conn:
            return [_record(r) for r in await conn.execute(query)]

    async def delete(self, project_id: str, key_id: str) -> bool:
        query = api_keys.delete().where(
            api_keys.c.project_id == project_id, api_keys.c.id == key_id
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def set_rate_limit(
        self, project_id: str, key_id: str, per_second: float | None, burst: int | None
    ) -> bool:
        query = (
            api_keys.update()
            .where(api_keys.c.project_id == project_id, api_keys.c.id == key_id)
            .values(rate_limit_per_second=per_second, rate_limit_burst=burst)
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def set_expiry(self, key_id: str, expires_at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                api_keys.update().where(api_keys.c.id == key_id).values(expires_at=expires_at)
            )

    async def record_usage(self, last_used: Mapping[str, datetime]) -> None:
        """Write a batch of last-used times (one transaction for the whole batch)."""
        if not last_used:
            return
        statement = (
            api_keys.update()
            .where(api_keys.c.id == sa.bindparam("key_id"))
            .values(last_used_at=sa.bindparam("used_at"))
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                statement, [{"key_id": k, "used_at": t} for k, t in last_used.items()]
            )
