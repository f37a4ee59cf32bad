"""Shapes of the webhooks API (pydantic). The secret is returned only at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["row.inserted", "row.updated", "row.deleted", "schema.changed", "webhook.ping"]
EVENT_TYPES: tuple[EventType, ...] = (
    "row.inserted",
    "row.updated",
    "row.deleted",
    "schema.changed",
    "webhook.ping",
)


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="http(s) URL that receives POSTs.")
    events: list[EventType] = Field(
        default_factory=lambda: list(EVENT_TYPES), min_length=1, description="Event types sent."
    )
    tables: list[str] | None = Field(
        None, description="Only row events of these tables ('table' or 'schema.table')."
    )
    enabled: bool = True
    description: str = Field("", max_length=500)
    secret: str | None = Field(
        None, pattern=r"^whsec_[A-Za-z0-9+/=]{24,}$", description="Default: generated."
    )


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=8, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1)
    tables: list[str] | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)


class EndpointOut(BaseModel):
    id: str
    project_id: str
    url: str
    events: list[str]
    tables: list[str] | None
    enabled: bool
    description: str
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="Standard Webhooks signing secret (shown only here).")


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: float
    request_headers: dict[str, str]
    status_code: int | None
    response_excerpt: str | None
    error: str | None


class DeliveryOut(BaseModel):
    id: str = Field(description="The webhook-id header: the receiver's idempotency key.")
    endpoint_id: str
    event_type: str
    status: Literal["pending", "succeeded", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryDetail(DeliveryOut):
    payload: str = Field(description="The exact body sent (signed).")
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int
