"""HTTP API for webhooks (``/api/v1/projects/{id}/webhooks``): endpoints, test ping,
delivery log and manual redelivery.

After endpoints change, the app's ``state.webhook_endpoints_changed`` (set by ``dbify
serve``: the dispatcher's refresh) is awaited, so the next write in this process is
already fanned out; the dispatcher announces the change on the event bus, so other
processes (Redis bus) reload at once too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status

from dbify.control.outbound import OutboundPolicy
from dbify.control.plane import ControlPlane, get_plane
from dbify.control.users.routes import CurrentCaller
from dbify.control.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
)
from dbify.control.webhooks.service import WebhookService
from dbify.control.webhooks.store import WebhookStore

router = APIRouter(prefix="/projects/{project_id}/webhooks", tags=["webhooks"])


def webhook_service(plane: Annotated[ControlPlane, Depends(get_plane)]) -> WebhookService:
    policy = OutboundPolicy(plane.settings.webhooks.allowed_hosts)
    return WebhookService(WebhookStore(plane.store.engine), plane.projects, plane.box, policy)


Service = Annotated[WebhookService, Depends(webhook_service)]


async def _endpoints_changed(request: Request) -> None:
    refresh = getattr(request.app.state, "webhook_endpoints_changed", None)
    if refresh is not None:
        await refresh()


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_endpoint(
    project_id: str, body: EndpointCreate, caller: CurrentCaller, service: Service,
    request: Request,
) -> EndpointCreated:  # fmt: skip
    """Add an endpoint; its signing secret is returned only here."""
    created = await service.create(caller, project_id, body)
    await _endpoints_changed(request)
    return created


@router.get("")
async def list_endpoints(
    project_id: str, caller: CurrentCaller, service: Service
) -> list[EndpointOut]:
    return await service.list(caller, project_id)


@router.get("/{endpoint_id}")
async def get_endpoint(
    project_id: str, endpoint_id: str, caller: CurrentCaller, service: Service
) -> EndpointOut:
    return await service.get(caller, project_id, endpoint_id)


@router.patch("/{endpoint_id}")
async def update_endpoint(
    project_id: str, endpoint_id: str, body: EndpointUpdate, caller: CurrentCaller,
    service: Service, request: Request,
) -> EndpointOut:  # fmt: skip
    updated = await service.update(caller, project_id, endpoint_id, body)
    await _endpoints_changed(request)
    return updated


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(
    project_id: str, endpoint_id: str, caller: CurrentCaller, service: Service, request: Request
) -> None:
    await service.delete(caller, project_id, endpoint_id)
    await _endpoints_changed(request)


@router.post("/{endpoint_id}/test", status_code=status.HTTP_202_ACCEPTED)
async def ping_endpoint(
    project_id: str, endpoint_id: str, caller: CurrentCaller, service: Service
) -> DeliveryOut:
    """Queue a ``webhook.ping`` message to the endpoint."""
    return await service.ping(caller, project_id, endpoint_id)


@router.get("/{endpoint_id}/deliveries")
async def list_deliveries(
    project_id: str,
    endpoint_id: str,
    caller: CurrentCaller,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Literal["pending", "succeeded", "dead"] | None = None,
) -> DeliveryPage:
    return await service.deliveries(caller, project_id, endpoint_id, limit, offset, status)


@router.get("/{endpoint_id}/deliveries/{delivery_id}")
async def get_delivery(
    project_id: str, endpoint_id: str, delivery_id: str, caller: CurrentCaller, service: Service
) -> DeliveryDetail:
    """The message, its body and every attempt (request headers, status, response, time)."""
    return await service.delivery(caller, project_id, endpoint_id, delivery_id)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", status_code=202)
async def redeliver(
    project_id: str, endpoint_id: str, delivery_id: str, caller: CurrentCaller, service: Service
) -> DeliveryOut:
    return await service.redeliver(caller, project_id, endpoint_id, delivery_id)
