"""Shapes of the saved-queries API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ParameterType = Literal[
    "text", "integer", "bigint", "numeric", "float", "boolean", "date", "timestamp",
    "timestamptz", "uuid", "json",
]  # fmt: skip
# The data API grammar's own query parameters, applied on top of the query's rows.
RESERVED = ("select", "order", "limit", "offset", "and", "or", "not", "columns")
_ROLE = r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$"


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
            raise ValueError(f"'{value}' is reserved for the data API grammar")
        return value


class SavedQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$", description="The URL segment.")
    description: str = Field("", max_length=1000)
    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT; :name params.")
    parameters: list[QueryParameter] = Field(default_factory=list)
    run_as_role: str | None = Field(
        None,
        pattern=_ROLE,
        description="Database role the query runs as (SET LOCAL ROLE); default: the "
        "caller's role, else the project's anon role.",
    )
    timeout_ms: int | None = Field(
        None, ge=1, le=600_000, description="statement_timeout; default: the project's."
    )


class SavedQueryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=1000)
    sql: str | None = Field(None, min_length=1, max_length=100_000)
    parameters: list[QueryParameter] | None = None
    run_as_role: str | None = Field(
        None, pattern=_ROLE.replace("^", "^$|^", 1), description="'' clears it."
    )
    timeout_ms: int | None = Field(None, ge=0, le=600_000, description="0 clears it.")


class ResultColumn(BaseModel):
    """One output column, as PREPARE described it."""

    name: str
    type: str = Field(description="format_type() of the column's type.")
    category: str = Field(description="pg_type.typcategory (N numeric, S string...).")


class SavedQueryOut(BaseModel):
    id: str
    project_id: str
    name: str
    description: str
    sql: str
    parameters: list[QueryParameter]
    run_as_role: str | None
    timeout_ms: int | None
    columns: list[ResultColumn]
    url: str = Field(description="GET it with the project's keys (apikey or Bearer).")
    created_at: datetime
    updated_at: datetime
