"""API shapes of the stats and log-search endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Bucket = Literal["minute", "hour", "day"]


class Totals(BaseModel):
    requests: int
    errors: int
    error_rate: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


class SeriesPoint(BaseModel):
    time: str
    requests: int
    errors: int
    avg_ms: float
    p95_ms: float


class Breakdown(BaseModel):
    value: str
    requests: int
    avg_ms: float


class SlowEndpoint(BaseModel):
    method: str
    target: str
    requests: int
    avg_ms: float
    p95_ms: float


class Stats(BaseModel):
    project_id: str
    from_: str
    to: str
    bucket: Bucket
    totals: Totals
    series: list[SeriesPoint]
    by_status: list[Breakdown]
    by_method: list[Breakdown]
    by_table: list[Breakdown]
    by_key: list[Breakdown]
    slowest: list[SlowEndpoint]


class LogEvent(BaseModel):
    event_id: str
    timestamp_us: int
    project_id: str
    request_id: str
    method: str
    path: str
    target: str
    query_shape: str
    status: int
    error_code: str
    duration_us: int
    db_us: int  # holding a database connection (statements and round trips)
    rows: int
    response_bytes: int
    key_id: str
    role: str
    client_ip: str
    user_agent: str
    queue_us: int  # waiting for a pooled connection


class LogPage(BaseModel):
    items: list[LogEvent]
    next_cursor: str | None
