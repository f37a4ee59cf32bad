"""API shapes of the schema change log (``GET /api/v1/projects/{id}/schema-changes``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ChangeOut(BaseModel):
    kind: str
    subject: str
    breaking: bool
    before: str | None = None
    after: str | None = None


class SchemaChangeOut(BaseModel):
    """One detected change of a project's schema (one burst of DDL)."""

    id: str
    project_id: str
    detected_at: datetime
    detected_by: str
    breaking: int
    changes: list[ChangeOut]
    openapi_before: str
    openapi_after: str


class SchemaChangePage(BaseModel):
    items: list[SchemaChangeOut]
    total: int
    limit: int
    offset: int
