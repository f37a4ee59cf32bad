"""HTTP API of the linter (``GET /api/v1/projects/{id}/lint``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from dbify.control.lint.schemas import LintReport
from dbify.control.lint.service import LintService
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller
from dbify.lint.usage import UsageThresholds

router = APIRouter(prefix="/projects", tags=["lint"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


@router.get("/{project_id}/lint")
async def lint_project(
    project_id: str,
    caller: CurrentCaller,
    plane: Plane,
    request: Request,
    slow_ms: Annotated[float, Query(gt=0, description="p95 above which an endpoint is slow")] = 200,
    min_requests: Annotated[
        int, Query(ge=1, description="Filter uses before an unindexed column is reported")
    ] = 100,
    openapi: Annotated[bool, Query(description="Also lint the generated OpenAPI document")] = False,
) -> LintReport:
    """Lint the project's exposed schemas now (reads its database's catalog); where
    this process reads the request logs, also slow endpoints and unindexed filters."""
    store = getattr(request.app.state, "analytics_store", None)
    service = LintService(plane.projects, plane.box, plane.settings.api.anon_role, store)
    thresholds = UsageThresholds(slow_ms, min_requests)
    return await service.report(caller, project_id, thresholds, openapi=openapi)
