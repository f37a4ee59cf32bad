"""API shapes of the table explorer (``/api/v1/projects/{id}/schema`` and ``/rows``).

A summary of the live schema snapshot, for people: relations with their columns, keys
and relationships, and the functions callable through ``/rpc``.
"""

from __future__ import annotations

from pydantic import BaseModel


class ColumnOut(BaseModel):
    name: str
    data_type: str
    nullable: bool
    default: str | None
    primary_key: bool
    description: str | None


class RelationshipOut(BaseModel):
    """An embeddable relation: ``target`` reached through ``columns`` (source, target)."""

    target: str
    cardinality: str
    constraint: str
    columns: list[tuple[str, str]]
    junction: str | None


class RelationOut(BaseModel):
    schema_name: str
    name: str
    kind: str
    columns: list[ColumnOut]
    primary_key: list[str]
    relationships: list[RelationshipOut]
    insertable: bool
    updatable: bool
    deletable: bool
    description: str | None


class ParameterOut(BaseModel):
    name: str
    data_type: str
    mode: str
    has_default: bool


class FunctionOut(BaseModel):
    schema_name: str
    name: str
    parameters: list[ParameterOut]
    return_type: str
    returns_set: bool
    volatility: str
    description: str | None


class SchemaSummary(BaseModel):
    project_id: str
    schemas: list[str]
    relations: list[RelationOut]
    functions: list[FunctionOut]
