"""The data API's OpenAPI 3.1 document, built from a schema snapshot.

Owns ``build_openapi`` (pure: snapshot in, document out) and its JSON encoding. The
document describes one exposed schema, as PostgREST's root endpoint does: the default
schema, or the one an ``Accept-Profile`` header picked. Only what the snapshot's role
may use is listed (PostgREST's ``openapi-mode = follow-privileges``). Serving the
document and the docs page is the app's job, not this package's.

Layout::

    __init__.py     assemble the document
    _paths.py       operations per relation and per function
    _components.py  row schemas, shared parameters, error schema, security schemes
    _types.py       PostgreSQL type -> JSON Schema
"""

from __future__ import annotations

from urllib.parse import quote

import orjson

from dbify.dataplane.openapi._components import (
    COMMON_PARAMETERS,
    OPERATORS_GUIDE,
    ComponentNames,
    error_schema,
    relation_schema,
    schema_ref,
    security_schemes,
)
from dbify.dataplane.openapi._paths import (
    DocumentedRelation,
    filter_parameter,
    function_path_item,
    relation_path_item,
)
from dbify.dataplane.openapi._types import JsonObject
from dbify.schema.model import SchemaSnapshot

__all__ = ["build_openapi", "openapi_json"]

OPENAPI_VERSION = "3.1.0"


def _path(name: str) -> str:
    # Percent-encode so names with spaces, slashes or braces stay one literal segment.
    return "/" + quote(name, safe="")


def _document_relations(
    snapshot: SchemaSnapshot, schema: str, names: ComponentNames
) -> list[DocumentedRelation]:
    documented = []
    for qualified, relation in sorted(snapshot.relations.items()):
        if qualified.schema != schema or not relation.privileges:
            continue
        schema_key = names.allocate(qualified.name)
        filter_keys = {
            column.name: names.allocate(f"rowFilter.{schema_key}.{column.name}")
            for column in relation.columns
        }
        documented.append(DocumentedRelation(relation, schema_key, filter_keys))
    return documented


def build_openapi(
    snapshot: SchemaSnapshot,
    *,
    rest_url: str,
    title: str,
    version: str,
    schema: str | None = None,
) -> dict[str, object]:
    """The OpenAPI 3.1 document of ``schema`` (default: the snapshot's default schema).

    ``rest_url`` becomes the single server URL (``…/p/{id}/rest/v1``); ``title`` and
    ``version`` fill ``info``. Relations the role holds no privilege on and functions
    it may not execute are left out; write operations appear only when the relation
    is writable and the role holds the privilege. Raises nothing: unknown PostgreSQL
    types become the any-value schema ``{}``.
    """
    documented_schema = schema or snapshot.default_schema
    names = ComponentNames()
    relations = _document_relations(snapshot, documented_schema, names)
    relation_keys = {str(d.relation.name): d.schema_key for d in relations}

    # Separate namespaces per component type, but one for operationIds.
    operation_ids = ComponentNames()
    error_key = ComponentNames(set(relation_keys.values())).allocate("Error")

    paths: JsonObject = {"/": _root_path_item()}
    parameters: JsonObject = {**COMMON_PARAMETERS}
    parameters["acceptProfile"] = _profile_parameter("Accept-Profile", snapshot, "read from")
    parameters["contentProfile"] = _profile_parameter("Content-Profile", snapshot, "write to")
    schemas: JsonObject = {}
    tags: list[JsonObject] = []
    for entry in relations:
        relation = entry.relation
        item = relation_path_item(entry, operation_ids)
        if not item.keys() - {"description"}:
            continue
        paths[_path(relation.name.name)] = item
        schemas[entry.schema_key] = relation_schema(relation, snapshot)
        for column in relation.columns:
            parameters[entry.filter_keys[column.name]] = filter_parameter(
                column.name, column.data_type
            )
        tag: JsonObject = {"name": relation.name.name}
        if relation.description:
            tag["description"] = relation.description
        tags.append(tag)
    for qualified, overloads in sorted(snapshot.functions.items()):
        callable_overloads = [f for f in overloads if f.executable]
        if qualified.schema != documented_schema or not callable_overloads:
            continue
        paths["/rpc" + _path(qualified.name)] = function_path_item(
            callable_overloads, snapshot, relation_keys, operation_ids
        )
        # Every operation's tag is declared (Spectral: operation-tag-defined).
        rpc_tag: JsonObject = {"name": f"(rpc) {qualified.name}"}
        if callable_overloads[0].description:
            rpc_tag["description"] = callable_overloads[0].description
        tags.append(rpc_tag)
    tags.insert(0, {"name": "Introspection", "description": "The API's own description."})
    schemas[error_key] = error_schema()

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                f"REST API for the `{documented_schema}` schema, in PostgREST's query "
                f"grammar.\n\n{OPERATORS_GUIDE}"
            ),
        },
        "servers": [{"url": rest_url}],
        "security": [{"apikey": []}, {"bearer": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "responses": {
                "Error": {
                    "description": "An error (4xx or 5xx).",
                    "content": {"application/json": {"schema": schema_ref(error_key)}},
                }
            },
            "securitySchemes": security_schemes(),
        },
    }


def _root_path_item() -> JsonObject:
    return {
        "get": {
            "tags": ["Introspection"],
            "operationId": "openapi",
            "summary": "This OpenAPI document",
            "description": "Tables, views and functions this key's role may use; "
            "`Accept-Profile` picks another exposed schema.",
            "parameters": [{"$ref": "#/components/parameters/acceptProfile"}],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/openapi+json": {"schema": {"type": "object"}}},
                },
                "default": {"$ref": "#/components/responses/Error"},
            },
        }
    }


def _profile_parameter(header: str, snapshot: SchemaSnapshot, verb: str) -> JsonObject:
    schema: JsonObject = {"type": "string"}
    if snapshot.exposed_schemas:
        schema = {"type": "string", "enum": list(snapshot.exposed_schemas)}
    return {
        "name": header,
        "in": "header",
        "required": False,
        "description": f"The schema to {verb}; default `{snapshot.exposed_schemas[0]}`."
        if snapshot.exposed_schemas
        else f"The schema to {verb}.",
        "schema": schema,
    }


def openapi_json(
    snapshot: SchemaSnapshot,
    *,
    rest_url: str,
    title: str,
    version: str,
    schema: str | None = None,
) -> bytes:
    """``build_openapi`` encoded as JSON bytes (``application/openapi+json``)."""
    return orjson.dumps(
        build_openapi(snapshot, rest_url=rest_url, title=title, version=version, schema=schema)
    )
