"""HTTP API of the linter (``GET /api/v1/projects/{id}/lint``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dbify.control.lint.schemas import LintReport
from dbify.control.lint.service import LintService
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["lint"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


@router.get("/{project_id}/lint")
async def lint_project(project_id: str, caller: CurrentCaller, plane: Plane) -> LintReport:
    """Lint the project's exposed schemas now (reads its database's catalog)."""
    service = LintService(plane.projects, plane.box, plane.settings.api.anon_role)
    return await service.report(caller, project_id)
