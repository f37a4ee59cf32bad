"""Shapes of the saved-queries API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ParameterType = Literal[
    "text", "integer", "bigint", "numeric", "float", "boolean", "date", "timestamp",
    "timestamptz", "uuid", "json",
]  # fmt: skip
RESERVED = ("limit", "offset")


class QueryParameter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Written :name in the SQL.")
    type: ParameterType = "text"
    required: bool = Field(True, description="A missing required parameter is a 400.")
    default: str | None = Field(None, description="Value (as text) when not given.")
    description: str = Field("", max_length=500)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED:
            raise ValueError(f"'{value}' is reserved for pagination")
        return value


class SavedQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$", description="The URL segment.")
    description: str = Field("", max_length=1000)
    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT; :name params.")
    parameters: list[QueryParameter] = Field(default_factory=list)


class SavedQueryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=1000)
    sql: str | None = Field(None, min_length=1, max_length=100_000)
    parameters: list[QueryParameter] | None = None


class SavedQueryOut(BaseModel):
    id: str
    project_id: str
    name: str
    description: str
    sql: str
    parameters: list[QueryParameter]
    url: str = Field(description="GET it with the project's keys (apikey or Bearer).")
    created_at: datetime
    updated_at: datetime
