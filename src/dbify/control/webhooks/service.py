"""Rules for webhooks: who manages endpoints, which events reach which endpoint, and
turning an event into queued, signed-later messages.

Managing endpoints needs the project ``admin`` role, reading their deliveries
``viewer``. A URL is checked against the SSRF policy (``control/outbound``) when saved
and again before each attempt. Secrets are sealed with the ``SecretBox``. ``publish``
fans an event out: one message per matching endpoint (event type, and table filter for
row events), each with its own id (the ``webhook-id`` receivers dedupe on) and the
Standard Webhooks body ``{"type", "timestamp", "data"}``. Sending is the worker's job
(``workers/webhooks.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from dbify.control.access import Caller
from dbify.control.errors import ControlCodes, control_error
from dbify.control.outbound import OutboundPolicy, TargetRefused
from dbify.control.projects.service import ProjectService
from dbify.control.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
)
from dbify.control.webhooks.signing import new_secret
from dbify.control.webhooks.store import DeliveryRecord, EndpointRecord, WebhookStore
from dbify.secrets_box import SecretBox

__all__ = ["WebhookService", "endpoint_wants"]


def _now() -> datetime:
    return datetime.now(UTC)


def endpoint_wants(endpoint: EndpointRecord, event_type: str, table: str | None) -> bool:
    """Whether ``endpoint`` receives this event (pings always reach it)."""
    if not endpoint.enabled and event_type != "webhook.ping":
        return False
    if event_type != "webhook.ping" and event_type not in endpoint.events:
        return False
    if table is None or endpoint.tables is None:
        return True
    bare = table.rpartition(".")[2]
    return table in endpoint.tables or bare in endpoint.tables


def _out(record: EndpointRecord) -> EndpointOut:
    return EndpointOut(
        id=record.id,
        project_id=record.project_id,
        url=record.url,
        events=list(record.events),
        tables=None if record.tables is None else list(record.tables),
        enabled=record.enabled,
        description=record.description,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _delivery_out(record: DeliveryRecord) -> DeliveryOut:
    return DeliveryOut(
        id=record.id,
        endpoint_id=record.endpoint_id,
        event_type=record.event_type,
        status=record.status,
        attempts=record.attempts,
        next_attempt_at=record.next_attempt_at,
        last_status_code=record.last_status_code,
        last_error=record.last_error,
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        projects: ProjectService,
        box: SecretBox,
        policy: OutboundPolicy,
    ) -> None:
        self.store = store
        self._projects = projects
        self._box = box
        self._policy = policy

    async def _check_url(self, url: str) -> None:
        try:
            await self._policy.check(url)
        except TargetRefused as exc:
            raise control_error(
                ControlCodes.INVALID_REQUEST, f"Webhook URL refused: {exc}"
            ) from None

    async def _endpoint(self, project_id: str, endpoint_id: str) -> EndpointRecord:
        record = await self.store.endpoint(project_id, endpoint_id)
        if record is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Webhook '{endpoint_id}' not found")
        return record

    async def create(
        self, caller: Caller, project_id: str, body: EndpointCreate
    ) -> EndpointCreated:
        await self._projects.require_role(caller, project_id, "admin")
        await self._check_url(body.url)
        secret = body.secret or new_secret()
        now = _now()
        record = EndpointRecord(
            id=secrets.token_hex(8),
            project_id=project_id,
            url=body.url,
            secret_sealed=self._box.encrypt(secret),
            events=tuple(body.events),
            tables=None if body.tables is None else tuple(body.tables),
            enabled=body.enabled,
            description=body.description,
            created_at=now,
            updated_at=now,
        )
        await self.store.insert_endpoint(record)
        return EndpointCreated(**_out(record).model_dump(), secret=secret)

    async def list(self, caller: Caller, project_id: str) -> list[EndpointOut]:
        await self._projects.require_role(caller, project_id, "viewer")
        return [_out(r) for r in await self.store.endpoints(project_id)]

    async def get(self, caller: Caller, project_id: str, endpoint_id: str) -> EndpointOut:
        await self._projects.require_role(caller, project_id, "viewer")
        return _out(await self._endpoint(project_id, endpoint_id))

    async def update(
        self, caller: Caller, project_id: str, endpoint_id: str, change: EndpointUpdate
    ) -> EndpointOut:
        await self._projects.require_role(caller, project_id, "admin")
        await self._endpoint(project_id, endpoint_id)
        values: dict[str, Any] = change.model_dump(exclude_unset=True)
        if values.get("url") is not None:
            await self._check_url(values["url"])
        values = {k: v for k, v in values.items() if v is not None or k == "tables"}
        await self.store.update_endpoint(endpoint_id, updated_at=_now(), **values)
        return _out(await self._endpoint(project_id, endpoint_id))

    async def delete(self, caller: Caller, project_id: str, endpoint_id: str) -> None:
        await self._projects.require_role(caller, project_id, "admin")
        if not await self.store.delete_endpoint(project_id, endpoint_id):
            raise control_error(ControlCodes.NOT_FOUND, f"Webhook '{endpoint_id}' not found")

    async def ping(self, caller: Caller, project_id: str, endpoint_id: str) -> DeliveryOut:
        """Queue a ``webhook.ping`` to this endpoint (even when disabled)."""
        await self._projects.require_role(caller, project_id, "admin")
        endpoint = await self._endpoint(project_id, endpoint_id)
        message = _message(endpoint, "webhook.ping", {"project_id": project_id}, _now())
        await self.store.enqueue([message])
        return _delivery_out(message)

    async def deliveries(
        self, caller: Caller, project_id: str, endpoint_id: str, limit: int, offset: int,
        status: str | None,
    ) -> DeliveryPage:  # fmt: skip
        await self._projects.require_role(caller, project_id, "viewer")
        await self._endpoint(project_id, endpoint_id)
        rows, total = await self.store.deliveries(endpoint_id, limit, offset, status)
        items = [_delivery_out(r) for r in rows]
        return DeliveryPage(items=items, total=total, limit=limit, offset=offset)

    async def delivery(
        self, caller: Caller, project_id: str, endpoint_id: str, delivery_id: str
    ) -> DeliveryDetail:
        await self._projects.require_role(caller, project_id, "viewer")
        await self._endpoint(project_id, endpoint_id)
        record = await self.store.delivery(endpoint_id, delivery_id)
        if record is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Delivery '{delivery_id}' not found")
        attempts = [
            AttemptOut(
                attempt=a.attempt,
                started_at=a.started_at,
                duration_ms=a.duration_ms,
                request_headers=a.request_headers,
                status_code=a.status_code,
                response_excerpt=a.response_excerpt,
                error=a.error,
            )
            for a in await self.store.attempts(delivery_id)
        ]
        return DeliveryDetail(
            **_delivery_out(record).model_dump(), payload=record.payload, attempt_log=attempts
        )

    async def redeliver(
        self, caller: Caller, project_id: str, endpoint_id: str, delivery_id: str
    ) -> DeliveryOut:
        """Send a message again (same ``webhook-id``); a dead one gets one more attempt."""
        await self._projects.require_role(caller, project_id, "admin")
        await self._endpoint(project_id, endpoint_id)
        if await self.store.delivery(endpoint_id, delivery_id) is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Delivery '{delivery_id}' not found")
        await self.store.requeue(delivery_id, _now())
        record = await self.store.delivery(endpoint_id, delivery_id)
        assert record is not None
        return _delivery_out(record)

    async def publish(
        self, project_id: str, event_type: str, data: Mapping[str, Any], table: str | None = None,
        ordering_key: str | None = None,
    ) -> int:  # fmt: skip
        """Queue ``event_type`` for every endpoint of the project that wants it; messages
        with the same ``ordering_key`` (one row) are delivered one at a time, in order."""
        endpoints = await self.store.endpoints(project_id)
        now = _now()
        messages = [
            _message(e, event_type, data, now, ordering_key)
            for e in endpoints
            if endpoint_wants(e, event_type, table)
        ]
        await self.store.enqueue(messages)
        return len(messages)


def _message(
    endpoint: EndpointRecord, event_type: str, data: Mapping[str, Any], now: datetime,
    ordering_key: str | None = None,
) -> DeliveryRecord:  # fmt: skip
    body = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    return DeliveryRecord(
        id="msg_" + secrets.token_hex(16),
        endpoint_id=endpoint.id,
        project_id=endpoint.project_id,
        event_type=event_type,
        payload=orjson.dumps(body).decode(),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        last_status_code=None,
        last_error=None,
        created_at=now,
        finished_at=None,
        ordering_key=ordering_key,
    )
