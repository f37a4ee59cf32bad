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


class KeyCreated(KeyOut):
    """Returned once: ``key`` is not retrievable afterwards."""

    key: str
