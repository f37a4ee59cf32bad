"""Shapes of the cron API (pydantic): jobs, their action, and runs.

A schedule is a cron expression of 5 fields (minute precision) or 6 (a leading
seconds field), read in the job's IANA time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

_ROLE = r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$"
_FUNCTION = r"^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$"


class SqlAction(BaseModel):
    """Run SQL on the project's database in one transaction (several statements allowed)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sql"]
    sql: str = Field(min_length=1, max_length=100_000)
    role: str | None = Field(None, pattern=_ROLE, description="SET LOCAL ROLE first.")


class FunctionAction(BaseModel):
    """Call a database function, with named arguments (JSON values, cast to its types)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["function"]
    function: str = Field(pattern=_FUNCTION, description="name or schema.name")
    arguments: dict[str, Any] = Field(default_factory=dict)
    role: str | None = Field(None, pattern=_ROLE, description="SET LOCAL ROLE first.")


class HttpAction(BaseModel):
    """Send an HTTP request (through the SSRF policy; webhooks.allowed_hosts applies)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["http"]
    url: str = Field(min_length=8, max_length=2000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = Field(None, max_length=100_000)


Action = Annotated[SqlAction | FunctionAction | HttpAction, Field(discriminator="kind")]
MissedPolicy = Literal["skip", "catch_up_once"]
OverlapPolicy = Literal["allow", "skip"]


def _check_schedule(value: str) -> str:
    if len(value.split()) not in (5, 6) or not croniter.is_valid(value):
        raise ValueError("not a cron expression of 5 fields (or 6, with seconds first)")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{value}'") from None
    return value


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    schedule: str = Field(description="e.g. '*/5 * * * *', or '*/10 * * * * *' with seconds.")
    timezone: str = Field("UTC", description="IANA time zone the schedule is read in.")
    action: Action
    enabled: bool = True
    missed_policy: MissedPolicy = Field(
        "skip", description="Occurrences missed while no scheduler ran: skip, or run once."
    )
    overlap_policy: OverlapPolicy = Field(
        "skip", description="An occurrence while the previous run is running: skip or allow."
    )
    timeout_seconds: float = Field(60.0, gt=0, le=3600)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return _check_schedule(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _check_timezone(value)


class JobUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    schedule: str | None = None
    timezone: str | None = None
    action: Action | None = None
    enabled: bool | None = None
    missed_policy: MissedPolicy | None = None
    overlap_policy: OverlapPolicy | None = None
    timeout_seconds: float | None = Field(None, gt=0, le=3600)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else _check_schedule(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class JobOut(BaseModel):
    id: str
    project_id: str
    name: str
    schedule: str
    timezone: str
    action: dict[str, Any]
    enabled: bool
    missed_policy: str
    overlap_policy: str
    timeout_seconds: float
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RunOut(BaseModel):
    id: str
    job_id: str
    trigger: Literal["schedule", "manual"]
    scheduled_for: datetime
    status: Literal["queued", "running", "succeeded", "failed", "skipped"]
    started_at: datetime | None
    finished_at: datetime | None
    output: str | None
    error: str | None


class RunPage(BaseModel):
    items: list[RunOut]
    limit: int
    offset: int
