"""HTTP API for projects and their members (``/api/v1/projects``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from dbify.control.plane import ControlPlane, get_plane
from dbify.control.projects.schemas import (
    ConnectionChecked,
    ConnectionTest,
    MemberIn,
    MemberOut,
    Page,
    ProjectCreate,
    ProjectCreated,
    ProjectOut,
    ProjectStatus,
    ProjectUpdate,
)
from dbify.control.schema_watcher.service import watcher_status
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["projects"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_project(
    body: ProjectCreate, caller: CurrentCaller, plane: Plane
) -> ProjectCreated:
    """Check the database, store the project and return its keys (shown only here)."""
    return await plane.projects.create(caller, body)


@router.post("/test-connection")
async def check_database(
    body: ConnectionTest, caller: CurrentCaller, plane: Plane
) -> ConnectionChecked:
    """Connect to a database and read its schema without creating anything; the error
    is the one creating a project with it would give (the dashboard's create form)."""
    return await plane.projects.check_database(caller, body)


@router.get("")
async def list_projects(
    caller: CurrentCaller,
    plane: Plane,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ProjectOut]:
    return await plane.projects.page(caller, limit, offset)


@router.get("/{project_id}")
async def get_project(project_id: str, caller: CurrentCaller, plane: Plane) -> ProjectOut:
    return await plane.projects.get(caller, project_id)


@router.patch("/{project_id}")
async def update_project(
    project_id: str, body: ProjectUpdate, caller: CurrentCaller, plane: Plane
) -> ProjectOut:
    return await plane.projects.update(caller, project_id, body)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(project_id: str, caller: CurrentCaller, plane: Plane) -> None:
    await plane.projects.delete(caller, project_id)


@router.post("/{project_id}/pause")
async def pause_project(project_id: str, caller: CurrentCaller, plane: Plane) -> ProjectOut:
    return await plane.projects.set_paused(caller, project_id, True)


@router.post("/{project_id}/resume")
async def resume_project(project_id: str, caller: CurrentCaller, plane: Plane) -> ProjectOut:
    return await plane.projects.set_paused(caller, project_id, False)


@router.post("/{project_id}/test-connection")
async def test_connection(project_id: str, caller: CurrentCaller, plane: Plane) -> ProjectStatus:
    return await plane.projects.test_connection(caller, project_id)


@router.get("/{project_id}/status")
async def project_status(project_id: str, caller: CurrentCaller, plane: Plane) -> ProjectStatus:
    """Reachability, pool and the schema watcher (mode listen/poll, last error)."""
    found = await plane.projects.status(caller, project_id)
    return found.model_copy(
        update={"schema_watcher": watcher_status(plane.schema_watch, project_id)}
    )


@router.get("/{project_id}/members")
async def list_members(project_id: str, caller: CurrentCaller, plane: Plane) -> list[MemberOut]:
    return await plane.projects.members(caller, project_id)


@router.put("/{project_id}/members")
async def set_member(
    project_id: str, body: MemberIn, caller: CurrentCaller, plane: Plane
) -> MemberOut:
    return await plane.projects.set_member(caller, project_id, body)


@router.delete("/{project_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(project_id: str, user_id: str, caller: CurrentCaller, plane: Plane) -> None:
    await plane.projects.remove_member(caller, project_id, user_id)
