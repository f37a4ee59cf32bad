"""HTTP API for request stats and logs (``/api/v1/projects/{id}/stats|logs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from dbify.control.analytics.schemas import Bucket, LogEvent, LogPage, Stats
from dbify.control.analytics.service import AnalyticsService
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller

router = APIRouter(prefix="/projects", tags=["analytics"])


def get_analytics(
    request: Request, plane: Annotated[ControlPlane, Depends(get_plane)]
) -> AnalyticsService:
    """The service over the store this process reads (``app.state.analytics_store``)."""
    store = getattr(request.app.state, "analytics_store", None)
    return AnalyticsService(store, plane.projects)


Analytics = Annotated[AnalyticsService, Depends(get_analytics)]
From = Annotated[datetime | None, Query(alias="from")]
To = Annotated[datetime | None, Query()]


@router.get("/{project_id}/stats")
async def project_stats(
    project_id: str,
    caller: CurrentCaller,
    analytics: Analytics,
    start: From = None,
    to: To = None,
    bucket: Bucket = "hour",
) -> Stats:
    """Totals, latency percentiles, a time series and breakdowns over [from, to)."""
    return await analytics.stats(caller, project_id, start, to, bucket)


@router.get("/{project_id}/logs")
async def project_logs(
    project_id: str,
    caller: CurrentCaller,
    analytics: Analytics,
    start: From = None,
    to: To = None,
    status: int | None = None,
    status_class: Literal["1xx", "2xx", "3xx", "4xx", "5xx"] | None = None,
    method: str | None = None,
    table: str | None = None,
    key_id: str | None = None,
    request_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> LogPage:
    """Request log, newest first; pass ``next_cursor`` back as ``cursor`` for more."""
    given = {
        "status": status, "status_class": status_class,
        "method": method.upper() if method else None, "target": table,
        "key_id": key_id, "request_id": request_id,
    }  # fmt: skip
    filters = {name: value for name, value in given.items() if value is not None}
    return await analytics.logs(caller, project_id, start, to, filters, cursor, limit)


@router.get("/{project_id}/logs/{event_id}")
async def project_log_event(
    project_id: str, event_id: str, caller: CurrentCaller, analytics: Analytics
) -> LogEvent:
    return await analytics.event(caller, project_id, event_id)
