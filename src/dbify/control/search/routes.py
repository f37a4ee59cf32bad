"""HTTP API of search indexes (``/api/v1/projects/{id}/search-indexes``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from dbify.control.errors import ControlCodes, control_error
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.search.schemas import SearchIndexCreate, SearchIndexOut
from dbify.control.search.service import SearchIndexService
from dbify.control.search.store import SearchIndexStore
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["search"])
Plane = Annotated[ControlPlane, Depends(get_plane)]
Wait = Annotated[bool, Query(description="Answer once the build has finished.")]


def _service(request: Request, plane: ControlPlane) -> SearchIndexService:
    engine = getattr(request.app.state, "search_engine", None)
    if engine is None or plane.directory is None:
        raise control_error(ControlCodes.INVALID_REQUEST, "Search runs inside `dbify serve` only")
    return SearchIndexService(
        SearchIndexStore(plane.store.engine), plane.projects, engine, plane.directory
    )


@router.post(
    "/{project_id}/search-indexes",
    status_code=status.HTTP_201_CREATED,
    response_model_by_alias=True,
)
async def create_search_index(
    project_id: str,
    body: SearchIndexCreate,
    caller: CurrentCaller,
    plane: Plane,
    request: Request,
    wait: Wait = False,
) -> SearchIndexOut:
    """Enable search on a table and start the backfill (``wait=true``: until it is done)."""
    return await _service(request, plane).create(caller, project_id, body, wait=wait)


@router.get("/{project_id}/search-indexes")
async def list_search_indexes(
    project_id: str, caller: CurrentCaller, plane: Plane, request: Request
) -> list[SearchIndexOut]:
    """The project's search indexes with their status (rows indexed, lag, last error)."""
    return await _service(request, plane).list(caller, project_id)


@router.get("/{project_id}/search-indexes/{index_id}")
async def get_search_index(
    project_id: str, index_id: str, caller: CurrentCaller, plane: Plane, request: Request
) -> SearchIndexOut:
    return await _service(request, plane).get(caller, project_id, index_id)


@router.post("/{project_id}/search-indexes/{index_id}/reindex")
async def reindex(
    project_id: str,
    index_id: str,
    caller: CurrentCaller,
    plane: Plane,
    request: Request,
    wait: Wait = False,
) -> SearchIndexOut:
    """Rebuild the index from scratch; searches use the old version until it is done."""
    service = _service(request, plane)
    return await service.rebuild(caller, project_id, index_id, wait=wait, full=True)


@router.post("/{project_id}/search-indexes/{index_id}/refresh")
async def refresh(
    project_id: str,
    index_id: str,
    caller: CurrentCaller,
    plane: Plane,
    request: Request,
    wait: Wait = False,
) -> SearchIndexOut:
    """Catch up now with rows changed or deleted since the last sync."""
    service = _service(request, plane)
    return await service.rebuild(caller, project_id, index_id, wait=wait, full=False)


@router.delete("/{project_id}/search-indexes/{index_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_search_index(
    project_id: str, index_id: str, caller: CurrentCaller, plane: Plane, request: Request
) -> None:
    await _service(request, plane).delete(caller, project_id, index_id)
