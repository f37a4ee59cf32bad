"""HTTP API for saved queries (``/api/v1/projects/{id}/queries``). Calling one is the
data plane's job: ``GET /p/{id}/rest/v1/q/{name}`` (``endpoint.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from dbify.control.plane import ControlPlane, get_plane
from dbify.control.saved_queries.schemas import SavedQueryCreate, SavedQueryOut, SavedQueryUpdate
from dbify.control.saved_queries.service import SavedQueryService
from dbify.control.saved_queries.store import SavedQueryStore
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects/{project_id}/queries", tags=["saved queries"])


def saved_query_service(plane: Annotated[ControlPlane, Depends(get_plane)]) -> SavedQueryService:
    return SavedQueryService(SavedQueryStore(plane.store.engine), plane.projects, plane.box)


Service = Annotated[SavedQueryService, Depends(saved_query_service)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_query(
    project_id: str, body: SavedQueryCreate, caller: CurrentCaller, service: Service
) -> SavedQueryOut:
    """Save a query: one SELECT with ``:name`` parameters, checked and PREPAREd now."""
    return await service.create(caller, project_id, body)


@router.get("")
async def list_queries(
    project_id: str, caller: CurrentCaller, service: Service
) -> list[SavedQueryOut]:
    return await service.list(caller, project_id)


@router.get("/{name}")
async def get_query(
    project_id: str, name: str, caller: CurrentCaller, service: Service
) -> SavedQueryOut:
    return await service.get(caller, project_id, name)


@router.patch("/{name}")
async def update_query(
    project_id: str, name: str, body: SavedQueryUpdate, caller: CurrentCaller, service: Service
) -> SavedQueryOut:
    return await service.update(caller, project_id, name, body)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_query(project_id: str, name: str, caller: CurrentCaller, service: Service) -> None:
    await service.delete(caller, project_id, name)
