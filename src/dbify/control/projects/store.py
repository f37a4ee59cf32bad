"""SQL for projects and their members in the metadata store.

Stores rows as they are given (the URL arrives already sealed); rules such as who
may see what live in ``service.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import project_members, projects, users


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A stored project. ``database_url_sealed`` is ciphertext (``SecretBox``)."""

    id: str
    name: str
    database_url_sealed: str
    schemas: tuple[str, ...]
    settings: dict[str, Any]
    paused: bool
    created_at: datetime
    updated_at: datetime
    reachable: bool | None
    last_error: str | None
    schema_loaded_at: datetime | None
    schema_catalog: str | None
    jwt_secret_sealed: str | None = None  # ciphertext (SecretBox), like the URL


@dataclass(frozen=True, slots=True)
class MemberRecord:
    user_id: str
    email: str
    role: str
    created_at: datetime


def _record(row: sa.Row[Any]) -> ProjectRecord:
    m = row._mapping
    return ProjectRecord(
        id=m["id"],
        name=m["name"],
        database_url_sealed=m["database_url_sealed"],
        schemas=tuple(m["schemas"]),
        settings=dict(m["settings"]),
        paused=m["paused"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        reachable=m["reachable"],
        last_error=m["last_error"],
        schema_loaded_at=m["schema_loaded_at"],
        schema_catalog=m["schema_catalog"],
        jwt_secret_sealed=m["jwt_secret_sealed"],
    )


class ProjectStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, record: ProjectRecord, owner_id: str | None) -> None:
        values = {f: getattr(record, f) for f in ProjectRecord.__slots__}
        values["schemas"] = list(record.schemas)
        async with self._engine.begin() as conn:
            await conn.execute(projects.insert().values(**values))
            if owner_id is not None:
                await conn.execute(
                    project_members.insert().values(
                        project_id=record.id,
                        user_id=owner_id,
                        role="owner",
                        created_at=record.created_at,
                    )
                )

    async def get(self, project_id: str) -> ProjectRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(projects.select().where(projects.c.id == project_id))).first()
        return None if row is None else _record(row)

    async def all(self) -> list[ProjectRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(projects.select().order_by(projects.c.created_at))
        return [_record(r) for r in rows]

    async def log_retention_days(self) -> dict[str, int]:
        """``log_retention_days`` of the projects that set it (the retention job reads it)."""
        query = sa.select(projects.c.id, projects.c.settings)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        kept = {row.id: row.settings.get("log_retention_days") for row in rows}
        return {project: int(days) for project, days in kept.items() if days is not None}

    async def page(
        self, member_id: str | None, limit: int, offset: int
    ) -> tuple[list[tuple[ProjectRecord, str | None]], int]:
        """Projects visible to ``member_id`` (all when None) with that member's role."""
        role = project_members.c.role if member_id is not None else sa.null()
        query = sa.select(projects, role.label("member_role"))
        count = sa.select(sa.func.count()).select_from(projects)
        if member_id is not None:
            join = projects.join(
                project_members,
                sa.and_(
                    project_members.c.project_id == projects.c.id,
                    project_members.c.user_id == member_id,
                ),
            )
            query = query.select_from(join)
            count = count.select_from(join)
        query = query.order_by(projects.c.created_at, projects.c.id).limit(limit).offset(offset)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
            total = (await conn.execute(count)).scalar_one()
        return [(_record(r), r._mapping["member_role"]) for r in rows], int(total)

    async def update(self, project_id: str, **values: Any) -> None:
        if "schemas" in values:
            values["schemas"] = list(values["schemas"])
        async with self._engine.begin() as conn:
            await conn.execute(
                projects.update().where(projects.c.id == project_id).values(**values)
            )

    async def delete(self, project_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(projects.delete().where(projects.c.id == project_id))
        return bool(result.rowcount)

    async def member_role(self, project_id: str, user_id: str) -> str | None:
        query = sa.select(project_members.c.role).where(
            project_members.c.project_id == project_id, project_members.c.user_id == user_id
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def members(self, project_id: str) -> list[MemberRecord]:
        query = (
            sa.select(
                project_members.c.user_id,
                users.c.email,
                project_members.c.role,
                project_members.c.created_at,
            )
            .join(users, users.c.id == project_members.c.user_id)
            .where(project_members.c.project_id == project_id)
            .order_by(project_members.c.created_at)
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [MemberRecord(r.user_id, r.email, r.role, r.created_at) for r in rows]

    async def set_member(self, project_id: str, user_id: str, role: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                project_members.delete().where(
                    project_members.c.project_id == project_id,
                    project_members.c.user_id == user_id,
                )
            )
            await conn.execute(
                project_members.insert().values(
                    project_id=project_id, user_id=user_id, role=role, created_at=now
                )
            )

    async def remove_member(self, project_id: str, user_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                project_members.delete().where(
                    project_members.c.project_id == project_id,
                    project_members.c.user_id == user_id,
                )
            )
        return bool(result.rowcount)
