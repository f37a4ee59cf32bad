"""Shapes of the access roles API (``/api/v1/projects/{id}/access-roles``).

An access role names, per table or view (``orders`` or ``sales.orders``), the
privileges it holds, an optional column allow-list and an optional row filter in the
PostgREST filter grammar (a value ``$claims.<path>`` stands for the caller's JWT
claim, ``dataplane/plan/claims.py``), plus the functions it may call and optional
``max_rows`` / ``statement_timeout_ms`` overrides. ``policy.compile_policy`` turns one
into the data plane's ``AccessPolicy``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PrivilegeName = Literal["select", "insert", "update", "delete"]


class TableRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    privileges: list[PrivilegeName] = Field(
        default_factory=list, description="Any of select, insert, update, delete."
    )
    columns: list[str] | None = Field(
        None, description="The only columns the role may read, write, filter or order on."
    )
    row_filter: str | None = Field(
        None,
        max_length=4000,
        description="PostgREST filters ANDed into every query and checked on writes,"
        " e.g. 'region=eq.eu&or=(status.eq.open,status.eq.pending)';"
        " '$claims.<path>' stands for a JWT claim, e.g. 'owner_id=eq.$claims.sub'.",
    )


class AccessRoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: dict[str, TableRule] = Field(default_factory=dict)
    functions: list[str] = Field(
        default_factory=list, description="Functions the role may call (name or schema.name)."
    )
    max_rows: int | None = Field(
        None, ge=1, description="Rows a read returns at most; overrides the project's max_rows."
    )
    statement_timeout_ms: int | None = Field(
        None, ge=0, description="Per request; overrides the project's timeout (0 disables)."
    )
    max_body_bytes: int | None = Field(
        None,
        ge=1,
        description="Largest request body the role may send (413 above it); can only lower "
        "the project's max_body_bytes, which applies first.",
    )


class AccessRoleCreate(AccessRoleBody):
    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z_][A-Za-z0-9_$]*$",
        description="Named by API keys (their role) and by JWT role claims.",
    )


class AccessRoleOut(AccessRoleCreate):
    created_at: datetime
    updated_at: datetime
