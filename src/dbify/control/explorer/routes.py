"""HTTP API of the table explorer.

``GET /api/v1/projects/{id}/schema``: the live schema summary. ``GET
/api/v1/projects/{id}/rows/{relation}?<PostgREST query>``: a read of the data API run
for the signed-in user (the dashboard's row browser needs no API key in the page); the
response is the data API's own (body, ``Content-Range``, errors).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from dbify.control.explorer.schemas import SchemaSummary
from dbify.control.explorer.service import ExplorerService
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["explorer"])


def get_explorer(plane: Annotated[ControlPlane, Depends(get_plane)]) -> ExplorerService:
    return ExplorerService(plane.projects, plane.directory)


Explorer = Annotated[ExplorerService, Depends(get_explorer)]
Plane = Annotated[ControlPlane, Depends(get_plane)]


@router.get("/{project_id}/schema")
async def schema_summary(
    project_id: str, caller: CurrentCaller, explorer: Explorer
) -> SchemaSummary:
    """Tables, views and functions of the project's exposed schemas, as served now."""
    return await explorer.summary(caller, project_id)


@router.get("/{project_id}/rows/{relation}")
async def browse_rows(
    project_id: str,
    relation: str,
    request: Request,
    caller: CurrentCaller,
    explorer: Explorer,
    plane: Plane,
) -> Response:
    """Rows of a table or view with PostgREST filters, ``order``, ``limit``, ``offset``."""
    rest_url = f"{plane.projects.public_url}/p/{project_id}/rest/v1"
    answer = await explorer.rows(
        caller,
        project_id,
        relation,
        request.url.query,
        dict(request.headers),
        rest_url,
    )
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in answer.headers
        if name.lower() in (b"content-type", b"content-range")
    }
    return Response(answer.body, answer.status, headers)
