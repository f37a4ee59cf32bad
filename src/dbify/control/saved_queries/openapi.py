"""Saved queries in the project's OpenAPI document: one ``GET /q/{name}`` path each,
with its declared parameters (typed, required, default) and the result's row schema
from the columns PREPARE described at save time.

The data plane builds the document from the schema snapshot (``dataplane/openapi``);
this module only adds paths to it, so the snapshot-driven part stays unaware of the
metadata store. The grammar's own parameters (``select``, ``order``, ``limit``,
``offset``, ``Prefer``) are referenced from the document's shared components.
"""

from __future__ import annotations

from typing import Any

import orjson

from dbify.control.saved_queries.store import SavedQueryRecord

__all__ = ["add_saved_queries"]

_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "integer": {"type": "integer", "format": "int32"},
    "bigint": {"type": "integer", "format": "int64"},
    "numeric": {"type": "number"},
    "float": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    # No "format": values are read as ISO 8601 (Python's fromisoformat), wider than
    # RFC 3339's date-time, and a default must still validate against the schema.
    "date": {"type": "string", "description": "ISO 8601 date"},
    "timestamp": {"type": "string", "description": "ISO 8601 timestamp"},
    "timestamptz": {"type": "string", "description": "ISO 8601 timestamp"},
    "uuid": {"type": "string", "description": "UUID"},
    "json": {"description": "A JSON document."},
}
_SHARED = ("select", "order", "limit", "offset", "preferCount")


def _column_schema(column: dict[str, str]) -> dict[str, Any]:
    kind, category = column["type"], column["category"]
    schema: dict[str, Any]
    if kind in ("json", "jsonb"):
        schema = {}
    elif kind in ("integer", "smallint", "bigint"):
        schema = {"type": ["integer", "null"]}
    elif category == "N":
        schema = {"type": ["number", "null"]}
    elif category == "B":
        schema = {"type": ["boolean", "null"]}
    elif category == "A":
        schema = {"type": ["array", "null"]}
    else:
        schema = {"type": ["string", "null"]}
    schema["description"] = kind
    return schema


def _parameter(spec: dict[str, Any]) -> dict[str, Any]:
    schema = dict(_PARAMETER_SCHEMAS.get(str(spec.get("type")), {}))
    if spec.get("default") is not None:
        schema["default"] = spec["default"]
    parameter: dict[str, Any] = {
        "name": spec["name"],
        "in": "query",
        "required": bool(spec.get("required", True)) and spec.get("default") is None,
        "schema": schema,
    }
    if spec.get("description"):
        parameter["description"] = spec["description"]
    return parameter


def _path_item(record: SavedQueryRecord, shared: list[str]) -> dict[str, Any]:
    row = {
        "type": "object",
        "properties": {c["name"]: _column_schema(c) for c in record.columns},
    }
    content = {
        "application/json": {"schema": {"type": "array", "items": row}},
        "text/csv": {"schema": {"type": "string"}},
    }
    parameters = [_parameter(p) for p in record.parameters]
    parameters += [{"$ref": f"#/components/parameters/{key}"} for key in shared]
    operation: dict[str, Any] = {
        "tags": ["saved queries"],
        "summary": record.description or f"Saved query {record.name}",
        "operationId": f"savedQuery_{record.name}",
        "parameters": parameters,
        "responses": {
            "200": {"description": "The query's rows", "content": content},
            "206": {"description": "A part of the query's rows", "content": content},
            "400": {"description": "A missing, unknown or ill-typed parameter"},
        },
    }
    return {"get": operation}


def add_saved_queries(document: bytes, records: list[SavedQueryRecord]) -> bytes:
    """``document`` (the data API's OpenAPI JSON) with a path per saved query."""
    usable = [r for r in records if r.columns]
    if not usable:
        return document
    parsed = orjson.loads(document)
    components = parsed.get("components", {}).get("parameters", {})
    shared = [key for key in _SHARED if key in components]
    paths = parsed.setdefault("paths", {})
    for record in usable:
        paths[f"/q/{record.name}"] = _path_item(record, shared)
    return orjson.dumps(parsed)
