"""HTTP API of the audit log (``/api/v1/audit``, ``/api/v1/projects/{id}/audit``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dbify.control.audit.schemas import AuditPage
from dbify.control.audit.service import AuditService
from dbify.control.audit.store import AuditStore
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller

__all__ = ["router"]

router = APIRouter(tags=["audit"])


def get_audit(plane: Annotated[ControlPlane, Depends(get_plane)]) -> AuditService:
    return AuditService(AuditStore(plane.store.engine), plane.projects)


Audit = Annotated[AuditService, Depends(get_audit)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/audit")
async def platform_audit(
    caller: CurrentCaller,
    audit: Audit,
    user_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> AuditPage:
    """Every audited call, newest first (admins only); pass ``next_cursor`` as ``cursor``."""
    return await audit.platform(caller, user_id, cursor, limit)


@router.get("/projects/{project_id}/audit")
async def project_audit(
    project_id: str,
    caller: CurrentCaller,
    audit: Audit,
    cursor: str | None = None,
    limit: Limit = 50,
) -> AuditPage:
    """The project's audited calls, newest first (project admins)."""
    return await audit.project(caller, project_id, cursor, limit)
