"""SQL of the audit log: append an event, read newest first with a keyset cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import audit_events

__all__ = ["AuditEvent", "AuditStore"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One management API call. ``id`` grows with time (keyset cursor); ``user_id`` is
    None for calls made without signing in (sign-up, sign-in, refused calls)."""

    id: str
    at: datetime
    user_id: str | None
    email: str
    project_id: str | None
    method: str
    path: str
    status: int
    client_ip: str


class AuditStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, event: AuditEvent) -> None:
        values = {name: getattr(event, name) for name in AuditEvent.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(audit_events.insert().values(**values))

    async def page(
        self,
        *,
        project_id: str | None,
        user_id: str | None,
        before: str | None,
        limit: int,
    ) -> list[AuditEvent]:
        """Up to ``limit`` events newest first, older than the event id ``before``."""
        query = audit_events.select().order_by(audit_events.c.id.desc()).limit(limit)
        if project_id is not None:
            query = query.where(audit_events.c.project_id == project_id)
        if user_id is not None:
            query = query.where(audit_events.c.user_id == user_id)
        if before is not None:
            query = query.where(audit_events.c.id < before)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [_event(row) for row in rows]


def _event(row: sa.Row[Any]) -> AuditEvent:
    mapping = row._mapping
    return AuditEvent(**{name: mapping[name] for name in AuditEvent.__slots__})
