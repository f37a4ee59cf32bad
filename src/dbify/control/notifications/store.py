"""SQL for notification preferences and the recipients of a project's schema-change email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import notification_preferences, project_members, users

__all__ = ["DEFAULT_SCHEMA_CHANGES", "NotificationStore", "PreferenceRecord"]

DEFAULT_SCHEMA_CHANGES = "owned"


@dataclass(frozen=True, slots=True)
class PreferenceRecord:
    user_id: str
    schema_changes: str
    updated_at: datetime


class NotificationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, user_id: str) -> PreferenceRecord | None:
        query = notification_preferences.select().where(
            notification_preferences.c.user_id == user_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        return PreferenceRecord(m["user_id"], m["schema_changes"], m["updated_at"])

    async def put(self, record: PreferenceRecord) -> None:
        table = notification_preferences
        async with self._engine.begin() as conn:
            await conn.execute(table.delete().where(table.c.user_id == record.user_id))
            await conn.execute(
                table.insert().values(
                    user_id=record.user_id,
                    schema_changes=record.schema_changes,
                    updated_at=record.updated_at,
                )
            )

    async def schema_change_recipients(self, project_id: str) -> list[str]:
        """Emails of the members to tell: owners unless opted out ('none'), plus members
        of any role who subscribed ('all'); in membership order."""
        choice = sa.func.coalesce(notification_preferences.c.schema_changes, DEFAULT_SCHEMA_CHANGES)
        query = (
            sa.select(users.c.email)
            .select_from(
                project_members.join(users, users.c.id == project_members.c.user_id).outerjoin(
                    notification_preferences,
                    notification_preferences.c.user_id == project_members.c.user_id,
                )
            )
            .where(
                project_members.c.project_id == project_id,
                sa.or_(
                    choice == "all",
                    sa.and_(choice == "owned", project_members.c.role == "owner"),
                ),
            )
            .order_by(project_members.c.created_at, users.c.email)
        )
        async with self._engine.connect() as conn:
            return [str(r.email) for r in await conn.execute(query)]
