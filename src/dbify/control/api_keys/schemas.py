"""Shapes of the API keys API. A key's secret appears only in ``KeyCreated``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: str = Field(
        "anon",
        min_length=1,
        max_length=63,
        description="'anon', 'service', or the name of a database role the key runs as.",
    )
    expires_at: datetime | None = Field(None, description="When the key stops working.")
    rate_limit_per_second: float | None = Field(
        None, gt=0, description="This key's rate limit (None: the project's per-key limit)."
    )
    rate_limit_burst: int | None = Field(
        None, ge=1, description="This key's bucket size (None: the project's)."
    )


class KeyUpdate(BaseModel):
    """A key's rate limit override; null fields remove it (the project's limit applies)."""

    model_config = ConfigDict(extra="forbid")

    rate_limit_per_second: float | None = Field(None, gt=0)
    rate_limit_burst: int | None = Field(None, ge=1)


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        3600, ge=0, le=30 * 86400, description="How long the old secret keeps working."
    )


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    rate_limit_per_second: float | None = None
    rate_limit_burst: int | None = None


class KeyCreated(KeyOut):
    """Returned once: ``key`` is not retrievable afterwards."""

    key: str
