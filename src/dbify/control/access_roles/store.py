"""SQL for access roles: one row per (project, name), the definition as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import access_roles


@dataclass(frozen=True, slots=True)
class AccessRoleRecord:
    id: str
    project_id: str
    name: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _record(row: sa.Row[Any]) -> AccessRoleRecord:
    return AccessRoleRecord(**{f: row._mapping[f] for f in AccessRoleRecord.__slots__})


class AccessRoleStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: AccessRoleRecord) -> bool:
        """False when the project already has a role of that name."""
        values = {f: getattr(record, f) for f in AccessRoleRecord.__slots__}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(access_roles.insert().values(**values))
        except sa.exc.IntegrityError:
            return False
        return True

    async def get(self, project_id: str, name: str) -> AccessRoleRecord | None:
        query = access_roles.select().where(
            access_roles.c.project_id == project_id, access_roles.c.name == name
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def of_project(self, project_id: str) -> list[AccessRoleRecord]:
        query = (
            access_roles.select()
            .where(access_roles.c.project_id == project_id)
            .order_by(access_roles.c.name)
        )
        async with self._engine.connect() as conn:
            return [_record(r) for r in await conn.execute(query)]

    async def update(
        self, project_id: str, name: str, definition: dict[str, Any], at: datetime
    ) -> bool:
        query = (
            access_roles.update()
            .where(access_roles.c.project_id == project_id, access_roles.c.name == name)
            .values(definition=definition, updated_at=at)
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def delete(self, project_id: str, name: str) -> bool:
        query = access_roles.delete().where(
            access_roles.c.project_id == project_id, access_roles.c.name == name
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(query)).rowcount)
