"""HTTP API for a project's API keys (``/api/v1/projects/{id}/keys``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from dbify.control.api_keys.schemas import KeyCreate, KeyCreated, KeyOut, KeyRotate, KeyUpdate
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.projects.schemas import Page
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects/{project_id}/keys", tags=["api keys"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_key(
    project_id: str, body: KeyCreate, caller: CurrentCaller, plane: Plane
) -> KeyCreated:
    """A new key; its secret is in this response only."""
    return await plane.keys.create(caller, project_id, body)


@router.get("")
async def list_keys(
    project_id: str,
    caller: CurrentCaller,
    plane: Plane,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[KeyOut]:
    keys = await plane.keys.list(caller, project_id)
    return Page[KeyOut](
        items=keys[offset : offset + limit], total=len(keys), limit=limit, offset=offset
    )


@router.patch("/{key_id}")
async def update_key(
    project_id: str, key_id: str, body: KeyUpdate, caller: CurrentCaller, plane: Plane
) -> KeyOut:
    """Set the key's rate limit override (nulls: the project's limits apply)."""
    return await plane.keys.update(caller, project_id, key_id, body)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(project_id: str, key_id: str, caller: CurrentCaller, plane: Plane) -> None:
    await plane.keys.revoke(caller, project_id, key_id)


@router.post("/{key_id}/rotate", status_code=status.HTTP_201_CREATED)
async def rotate_key(
    project_id: str, key_id: str, body: KeyRotate, caller: CurrentCaller, plane: Plane
) -> KeyCreated:
    """A new secret for the key; the old one keeps working for ``grace_seconds``."""
    return await plane.keys.rotate(caller, project_id, key_id, body.grace_seconds)
