"""HTTP API of the schema change log (``/api/v1/projects/{id}/schema-changes``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dbify.control.plane import ControlPlane, get_plane
from dbify.control.schema_changes.schemas import SchemaChangePage
from dbify.control.schema_changes.service import SchemaChangeService
from dbify.control.schema_changes.store import SchemaChangeStore
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["schema changes"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


@router.get("/{project_id}/schema-changes")
async def list_schema_changes(
    project_id: str,
    caller: CurrentCaller,
    plane: Plane,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SchemaChangePage:
    """The project's detected schema changes, newest first."""
    service = SchemaChangeService(SchemaChangeStore(plane.store.engine), plane.projects)
    return await service.page(caller, project_id, limit, offset)
