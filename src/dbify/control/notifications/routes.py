"""HTTP API of the caller's notification preferences (``/api/v1/users/me/notifications``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dbify.control.notifications.schemas import (
    NotificationPreferences,
    NotificationPreferencesOut,
)
from dbify.control.notifications.service import NotificationService
from dbify.control.notifications.store import NotificationStore
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/users/me", tags=["users"])
Plane = Annotated[ControlPlane, Depends(get_plane)]


def _service(plane: ControlPlane) -> NotificationService:
    return NotificationService(NotificationStore(plane.store.engine))


@router.get("/notifications")
async def get_notifications(caller: CurrentCaller, plane: Plane) -> NotificationPreferencesOut:
    """Which emails the signed-in user receives."""
    return await _service(plane).get(caller)


@router.put("/notifications")
async def put_notifications(
    body: NotificationPreferences, caller: CurrentCaller, plane: Plane
) -> NotificationPreferencesOut:
    """Set them: ``schema_changes`` is 'owned' (default), 'all' or 'none' (opt out)."""
    return await _service(plane).put(caller, body)
