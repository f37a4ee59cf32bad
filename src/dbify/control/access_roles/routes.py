"""HTTP API for a project's RBAC access roles (``/api/v1/projects/{id}/access-roles``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from dbify.control.access_roles.schemas import AccessRoleBody, AccessRoleCreate, AccessRoleOut
from dbify.control.access_roles.service import AccessRoleService
from dbify.control.access_roles.store import AccessRoleStore
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.projects.service import NoListener, ProjectListener
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects/{project_id}/access-roles", tags=["access roles"])


def access_role_service(plane: Annotated[ControlPlane, Depends(get_plane)]) -> AccessRoleService:
    """The service over the plane's store; changes reach the live directory if serving."""
    listener: ProjectListener = plane.directory or NoListener()
    return AccessRoleService(AccessRoleStore(plane.store.engine), plane.projects, listener)


Service = Annotated[AccessRoleService, Depends(access_role_service)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_access_role(
    project_id: str, body: AccessRoleCreate, caller: CurrentCaller, service: Service
) -> AccessRoleOut:
    """A named role that API keys (``role``) and JWT role claims can name."""
    return await service.create(caller, project_id, body)


@router.get("")
async def list_access_roles(
    project_id: str, caller: CurrentCaller, service: Service
) -> list[AccessRoleOut]:
    return await service.list(caller, project_id)


@router.get("/{name}")
async def get_access_role(
    project_id: str, name: str, caller: CurrentCaller, service: Service
) -> AccessRoleOut:
    return await service.get(caller, project_id, name)


@router.put("/{name}")
async def replace_access_role(
    project_id: str, name: str, body: AccessRoleBody, caller: CurrentCaller, service: Service
) -> AccessRoleOut:
    """Replace the role's rules; live requests use the new ones at once."""
    return await service.replace(caller, project_id, name, body)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_access_role(
    project_id: str, name: str, caller: CurrentCaller, service: Service
) -> None:
    await service.delete(caller, project_id, name)
