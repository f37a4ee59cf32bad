"""API shapes of the audit log endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = ["AuditEventOut", "AuditPage"]


class AuditEventOut(BaseModel):
    id: str
    at: datetime
    user_id: str | None
    email: str
    project_id: str | None
    method: str
    path: str
    status: int
    client_ip: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
