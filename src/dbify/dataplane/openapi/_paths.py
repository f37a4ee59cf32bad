"""The path items of the OpenAPI document: one per relation, one per ``/rpc`` function.

Owns which operations a path offers (by updatability and the role's privileges),
their parameters, request bodies and responses. It does not map types
(``_types.py``) nor define the shared components (``_components.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dbify.dataplane.openapi._components import (
    FILTER_SYNTAX,
    ComponentNames,
    is_read_only,
    parameter_ref,
    property_ref,
    relation_schema,
    schema_ref,
)
from dbify.dataplane.openapi._types import JsonObject, make_nullable, type_schema
from dbify.schema.model import Function, FunctionParameter, Relation, SchemaSnapshot

_ERROR: JsonObject = {"$ref": "#/components/responses/Error"}
_CONTENT_RANGE: JsonObject = {
    "Content-Range": {
        "description": "The rows returned and, when counted, the total: `0-24/3573`.",
        "schema": {"type": "string"},
    }
}
_NO_CONTENT: JsonObject = {"description": "No content (`Prefer: return=minimal`)."}


@dataclass(frozen=True, slots=True)
class DocumentedRelation:
    """A relation with the keys its components were given."""

    relation: Relation
    schema_key: str
    filter_keys: Mapping[str, str]  # column name -> components.parameters key


def _rows_content(item: JsonObject, *, csv: bool = True) -> JsonObject:
    """The media types a read can answer with (chosen by ``Accept``)."""
    content: JsonObject = {
        "application/json": {"schema": {"type": "array", "items": item}},
        "application/vnd.pgrst.object+json": {"schema": item},
    }
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return content


def _rows_response(description: str, item: JsonObject) -> JsonObject:
    return {"description": description, "headers": _CONTENT_RANGE, "content": _rows_content(item)}


def _filters(documented: DocumentedRelation) -> list[JsonObject]:
    return [parameter_ref(key) for key in documented.filter_keys.values()]


def _common(*keys: str) -> list[JsonObject]:
    return [parameter_ref(key) for key in keys]


# What each kind of operation does, in PostgREST's terms: the operation's description
# (Spectral's oas ruleset asks for one; a summary alone is a title).
_DESCRIPTIONS = {
    "get": "Filter with `column=operator.value` (operators in the API description), shape and "
    "embed with `select`, sort with `order`, page with `limit`/`offset` or `Range`; "
    "`Prefer: count=exact|planned|estimated` returns the total in `Content-Range`.",
    "head": "As GET, without a body: `Prefer: count=exact` puts the total in `Content-Range`.",
    "post": "A JSON object, a JSON array (one statement) or CSV. `Prefer: return=minimal|"
    "headers-only|representation`; `resolution=merge-duplicates|ignore-duplicates` with "
    "`on_conflict` upserts; `missing=default` fills absent keys with column defaults; "
    "`tx=rollback` is a dry run.",
    "patch": "Changes every row matching the filters; an unfiltered update is refused unless "
    "the project allows it. `Prefer: max-affected=N` rolls back when more rows would change.",
    "put": "Upsert of exactly one row: the filters are `eq` on every primary-key column and "
    "the body is the complete row with the same key.",
    "delete": "Deletes every row matching the filters; an unfiltered delete is refused unless "
    "the project allows it. `Prefer: max-affected=N` rolls back when more rows would change.",
    "rpc_get": "For STABLE and IMMUTABLE functions only: arguments are query parameters; a "
    "set-returning result takes `select`, filters, `order` and paging.",
    "rpc_post": "Arguments as a JSON object of named arguments (`Prefer: params=single-object` "
    "passes the whole body as one `json` argument); runs read-write unless the function "
    "is STABLE or IMMUTABLE.",
}


def _operation(
    kind: str,
    tag: str,
    operation_id: str,
    summary: str,
    parameters: Sequence[JsonObject],
    responses: JsonObject,
    body: JsonObject | None = None,
) -> JsonObject:
    operation: JsonObject = {
        "tags": [tag],
        "operationId": operation_id,
        "summary": summary,
        "description": _DESCRIPTIONS[kind],
    }
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = {**responses, "default": _ERROR}
    return operation


def _body(schema: JsonObject, description: str, *, csv: bool = False) -> JsonObject:
    content: JsonObject = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"required": True, "description": description, "content": content}


def _patch_schema(documented: DocumentedRelation) -> JsonObject:
    """Any subset of the writable columns: the row schema minus ``required``."""
    properties = {
        column.name: property_ref(documented.schema_key, column.name)
        for column in documented.relation.columns
        if not is_read_only(column)
    }
    return {"type": "object", "properties": properties}


def relation_path_item(documented: DocumentedRelation, names: ComponentNames) -> JsonObject:
    """GET/HEAD when the role may SELECT; POST/PATCH/PUT/DELETE when the relation
    allows the change and the role holds the privilege. Empty if nothing is allowed."""
    relation = documented.relation
    privileges = relation.privileges
    tag = relation.name.name
    row = schema_ref(documented.schema_key)
    filters = _filters(documented)
    item: JsonObject = {}
    if relation.description:
        item["description"] = relation.description
    if "SELECT" in privileges:
        read_parameters = [
            *filters,
            *_common("select", "order", "range", "rangeUnit", "offset", "limit"),
            *_common("preferCount", "acceptProfile"),
        ]
        item["get"] = _operation(
            "get",
            tag,
            names.allocate(f"get_{tag}"),
            f"Read rows of {tag}",
            read_parameters,
            {
                "200": _rows_response("The rows.", row),
                "206": _rows_response("A page of the rows (`Range`/`limit`).", row),
            },
        )
        item["head"] = _operation(
            "head",
            tag,
            names.allocate(f"head_{tag}"),
            f"Count rows of {tag} (headers only)",
            read_parameters,
            {"200": {"description": "Headers only.", "headers": _CONTENT_RANGE}},
        )
    write_parameters = _common("select", "preferReturn", "contentProfile")
    changed: JsonObject = {
        "201": _rows_response("Created; the rows with `return=representation`.", row),
        "204": _NO_CONTENT,
    }
    updated: JsonObject = {
        "200": _rows_response("The affected rows with `return=representation`.", row),
        "204": _NO_CONTENT,
    }
    if relation.insertable and "INSERT" in privileges:
        body = _body(
            {"oneOf": [row, {"type": "array", "items": row}]},
            "A row or an array of rows.",
            csv=True,
        )
        item["post"] = _operation(
            "post",
            tag,
            names.allocate(f"post_{tag}"),
            f"Insert (or upsert) rows into {tag}",
            [*_common("columns", "on_conflict"), *write_parameters],
            changed,
            body,
        )
    if relation.updatable and "UPDATE" in privileges:
        item["patch"] = _operation(
            "patch",
            tag,
            names.allocate(f"patch_{tag}"),
            f"Update the rows of {tag} matching the filters",
            [*filters, *_common("order", "limit"), *write_parameters],
            updated,
            _body(_patch_schema(documented), "The columns to change."),
        )
        if relation.primary_key and relation.insertable and "INSERT" in privileges:
            item["put"] = _operation(
                "put",
                tag,
                names.allocate(f"put_{tag}"),
                f"Insert or replace one row of {tag}, identified by `eq` filters on "
                f"its primary key ({', '.join(relation.primary_key)})",
                [*filters, *write_parameters],
                updated,
                _body(row, "The complete row."),
            )
    if relation.deletable and "DELETE" in privileges:
        item["delete"] = _operation(
            "delete",
            tag,
            names.allocate(f"delete_{tag}"),
            f"Delete the rows of {tag} matching the filters",
            [*filters, *_common("order", "limit"), *write_parameters],
            updated,
        )
    return item


def filter_parameter(column_name: str, data_type: str) -> JsonObject:
    """A per-column filter: always a string, since the value is ``operator.value``."""
    return {
        "name": column_name,
        "in": "query",
        "required": False,
        "description": f"Filter on `{column_name}` ({data_type}): {FILTER_SYNTAX}",
        "schema": {"type": "string"},
    }


# --- functions --------------------------------------------------------------------------


def _return_schema(
    function: Function, snapshot: SchemaSnapshot, relation_keys: Mapping[str, str]
) -> JsonObject | None:
    """The JSON of one returned row or value; None for ``void``."""
    if function.return_type == "void":
        return None
    single: JsonObject
    if function.return_relation is not None:
        key = relation_keys.get(str(function.return_relation))
        if key is not None:
            single = schema_ref(key)
        else:
            returned = snapshot.relations.get(function.return_relation)
            single = relation_schema(returned, snapshot) if returned is not None else {}
    elif function.returns_scalar:
        single = make_nullable(type_schema(function.return_type, snapshot.enums))
    else:
        outputs = [p for p in function.parameters if p.mode in ("out", "inout", "table")]
        single = {"type": "object"}
        if outputs:
            single["properties"] = {
                p.name: make_nullable(type_schema(p.data_type, snapshot.enums)) for p in outputs
            }
    return {"type": "array", "items": single} if function.returns_set else single


def _arguments(overloads: Sequence[Function]) -> tuple[list[FunctionParameter], set[str]]:
    """Named input parameters over all overloads, and those every overload requires."""
    seen: dict[str, FunctionParameter] = {}
    required: set[str] | None = None
    for function in overloads:
        named = [p for p in function.input_parameters if p.name]
        for parameter in named:
            seen.setdefault(parameter.name, parameter)
        mandatory = {p.name for p in named if not p.has_default}
        required = mandatory if required is None else required & mandatory
    return list(seen.values()), required or set()


def _argument_schema(parameter: FunctionParameter, snapshot: SchemaSnapshot) -> JsonObject:
    schema = type_schema(parameter.data_type, snapshot.enums)
    if parameter.mode == "variadic" and schema.get("type") != "array":
        schema = {"type": "array", "items": schema}
    schema["x-pg-type"] = parameter.data_type
    return schema


def function_path_item(
    overloads: Sequence[Function],
    snapshot: SchemaSnapshot,
    relation_keys: Mapping[str, str],
    names: ComponentNames,
) -> JsonObject:
    """POST always; GET for stable/immutable functions (GET runs read-only)."""
    first = overloads[0]
    name = first.name.name
    tag = f"(rpc) {name}"
    arguments, required = _arguments(overloads)
    returned = _return_schema(first, snapshot, relation_keys)
    shaped = first.returns_set or first.return_relation is not None
    if returned is None:
        responses: JsonObject = {"204": {"description": "Done; the function returns void."}}
    elif first.returns_set:
        items = returned.get("items", {})
        item_schema = items if isinstance(items, dict) else {}
        responses = {"200": _rows_response("The result.", item_schema)}
    else:
        responses = {
            "200": {"description": "The result.", "content": {"application/json": {
                "schema": returned}}}
        }  # fmt: skip
    read_options = _common("select", "order", "range", "offset", "limit") if shaped else []
    item: JsonObject = {}
    if first.description:
        item["description"] = first.description
    if all(f.volatility in ("stable", "immutable") for f in overloads):
        query = [
            {
                "name": p.name,
                "in": "query",
                "required": p.name in required,
                "description": f"`{p.name}` ({p.data_type}); repeat it for an array.",
                "schema": {"type": "string"},
            }
            for p in arguments
        ]
        item["get"] = _operation(
            "rpc_get",
            tag,
            names.allocate(f"rpc_get_{name}"),
            first.description or f"Call {name}",
            [*query, *read_options, *_common("preferParams", "acceptProfile")],
            responses,
        )
    body_schema: JsonObject = {
        "type": "object",
        "properties": {p.name: _argument_schema(p, snapshot) for p in arguments},
    }
    if required:
        body_schema["required"] = [p.name for p in arguments if p.name in required]
    item["post"] = _operation(
        "rpc_post",
        tag,
        names.allocate(f"rpc_post_{name}"),
        first.description or f"Call {name}",
        [*read_options, *_common("preferParams", "contentProfile")],
        responses,
        _body(body_schema, "The arguments, by name."),
    )
    return item
