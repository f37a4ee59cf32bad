"""HTTP API of a project's schema watcher (``/api/v1/projects/{id}/schema-watcher``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dbify.control.plane import ControlPlane, get_plane
from dbify.control.schema_watcher.schemas import SchemaWatcherOut
from dbify.control.schema_watcher.service import SchemaWatcherService
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["schema changes"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


def _service(plane: ControlPlane) -> SchemaWatcherService:
    timeout = min(plane.settings.database.connect_timeout_seconds, 10.0)
    return SchemaWatcherService(
        plane.projects, plane.box, plane.schema_watch, connect_timeout=timeout
    )


@router.get("/{project_id}/schema-watcher")
async def get_schema_watcher(
    project_id: str, caller: CurrentCaller, plane: Plane
) -> SchemaWatcherOut:
    """Whether the event triggers are installed, and the running watcher's mode."""
    return await _service(plane).get(caller, project_id)


@router.post("/{project_id}/schema-watcher")
async def install_schema_watcher(
    project_id: str, caller: CurrentCaller, plane: Plane
) -> SchemaWatcherOut:
    """Create the dbify_* event triggers (admin or owner; the database role must be allowed
    to create event triggers, usually a superuser): changes are then seen at once."""
    return await _service(plane).set_installed(caller, project_id, True)


@router.delete("/{project_id}/schema-watcher")
async def uninstall_schema_watcher(
    project_id: str, caller: CurrentCaller, plane: Plane
) -> SchemaWatcherOut:
    """Drop the event triggers (admin or owner); the watcher falls back to polling."""
    return await _service(plane).set_installed(caller, project_id, False)
