"""API lint of a project's generated OpenAPI document: pure rules over the JSON.

The schema linter looks at the database; these rules look at what clients and code
generators actually receive, in the spirit of Spectral's ``oas`` ruleset (no Node or
Spectral needed): operation ids present, unique and usable as identifiers; every
operation described and answering a success; tables and columns documented (from
``COMMENT ON``); properties typed; enums consistent with their type; path templates
backed by parameters; and no keywords OpenAPI 3.1 deprecated (``nullable``,
``example``). Findings use the schema linter's ``Finding``; subjects are JSON
locations such as ``paths./books.get`` or ``components.schemas.books.properties.id``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from dbify.lint.findings import Finding

__all__ = ["OPENAPI_RULES", "lint_openapi"]

Document = Mapping[str, Any]
OpenApiRule = Callable[[Document], Iterable[Finding]]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMPLATE = re.compile(r"\{([^}]+)\}")
_TYPED = frozenset({"type", "$ref", "enum", "const", "anyOf", "oneOf", "allOf"})
_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _operations(document: Document) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for path, item in (document.get("paths") or {}).items():
        for method in _METHODS:
            operation = item.get(method) if isinstance(item, Mapping) else None
            if isinstance(operation, Mapping):
                yield path, method, operation


def _schemas(document: Document) -> Mapping[str, Any]:
    return (document.get("components") or {}).get("schemas") or {}


def operation_ids(document: Document) -> Iterable[Finding]:
    seen: dict[str, str] = {}
    for path, method, operation in _operations(document):
        where = f"paths.{path}.{method}"
        operation_id = operation.get("operationId")
        if not operation_id:
            yield Finding(
                "operation_id_missing", "error", "api", where,
                "The operation has no operationId: SDK generators invent a name from the "
                "path, which changes whenever the path does.",
                "Give the operation a stable operationId.",
            )  # fmt: skip
            continue
        if operation_id in seen:
            yield Finding(
                "operation_id_duplicate", "error", "api", where,
                f"operationId '{operation_id}' is also used by {seen[operation_id]}: "
                "generated clients get two methods with one name.",
                "Make operation ids unique across the document.",
            )  # fmt: skip
        seen.setdefault(operation_id, where)
        if not _IDENTIFIER.match(operation_id):
            yield Finding(
                "operation_id_not_identifier", "warning", "naming", where,
                f"operationId '{operation_id}' is not an identifier: SDK generators "
                "rename it, so method names differ between languages.",
                "Rename the table or function in snake_case (ids derive from its name).",
            )  # fmt: skip


def operation_documentation(document: Document) -> Iterable[Finding]:
    for path, method, operation in _operations(document):
        where = f"paths.{path}.{method}"
        if not operation.get("summary") and not operation.get("description"):
            yield Finding(
                "operation_description_missing", "info", "api", where,
                "The operation has neither summary nor description: documentation and "
                "generated clients show it without any explanation.",
                "Describe it (for functions: COMMENT ON FUNCTION ... IS '...').",
            )  # fmt: skip
        if not operation.get("tags"):
            yield Finding(
                "operation_tags_missing", "info", "api", where,
                "The operation has no tag, so documentation lists it outside every group.",
                "Tag it with the table or function it belongs to.",
            )  # fmt: skip
        responses = operation.get("responses") or {}
        if not any(str(code)[:1] in ("2", "3") for code in responses):
            yield Finding(
                "operation_success_response_missing", "warning", "api", where,
                "No 2xx or 3xx response is documented: typed clients cannot know what "
                "a successful call returns.",
                "Document the success response.",
            )  # fmt: skip


def path_parameters(document: Document) -> Iterable[Finding]:
    for path, method, operation in _operations(document):
        item = document["paths"][path]
        declared = {
            p.get("name")
            for p in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]
            if isinstance(p, Mapping) and p.get("in") == "path"
        }
        for name in _TEMPLATE.findall(path):
            if name not in declared:
                yield Finding(
                    "path_parameter_undeclared", "error", "api", f"paths.{path}.{method}",
                    f"The path template names {{{name}}} but the operation declares no "
                    "such path parameter.",
                    f"Declare the path parameter '{name}'.",
                )  # fmt: skip


def _own_text(description: object) -> str:
    """A description without the generated key notes (``Note:`` + ``<pk/>``...)."""
    return str(description or "").split("Note:\n", 1)[0].strip()


def table_descriptions(document: Document) -> Iterable[Finding]:
    for tag in document.get("tags") or []:
        if isinstance(tag, Mapping) and not tag.get("description"):
            name = tag.get("name")
            yield Finding(
                "table_description_missing", "info", "api", f"tags.{name}",
                f"'{name}' has no description: the API documentation shows its endpoints "
                "without saying what the rows are.",
                f"COMMENT ON TABLE {name} IS '...';",
            )  # fmt: skip


def column_descriptions(document: Document) -> Iterable[Finding]:
    for key, schema in _schemas(document).items():
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        if not isinstance(properties, Mapping) or "x-pg-type" not in str(schema):
            continue  # only the row schemas of tables and views carry columns
        missing = [n for n, p in properties.items() if not _own_text(p.get("description"))]
        if missing:
            listed = ", ".join(missing)
            yield Finding(
                "column_description_missing", "info", "api", f"components.schemas.{key}",
                f"Column(s) without a description: {listed}. Generated types and the "
                "documentation show them bare.",
                f"COMMENT ON COLUMN {key}.{missing[0]} IS '...'; (and the others)",
            )  # fmt: skip


def _walk(node: object, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}[{index}]")


def untyped_properties(document: Document) -> Iterable[Finding]:
    for key, schema in _schemas(document).items():
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        for name, prop in (properties or {}).items():
            if not isinstance(prop, Mapping) or prop.keys() & _TYPED:
                continue
            pg_type = prop.get("x-pg-type", "?")
            if pg_type in ("json", "jsonb"):
                continue  # any JSON value, by design
            yield Finding(
                "untyped_property", "warning", "api",
                f"components.schemas.{key}.properties.{name}",
                f"'{name}' ({pg_type}) has no JSON type: generated SDK types make it "
                "unknown/Any, so clients lose type checking on it.",
                "Use a type with a JSON mapping, or a domain/cast in a view that "
                "exposes it as text, number or json.",
            )  # fmt: skip


def enums(document: Document) -> Iterable[Finding]:
    for where, node in _walk(document.get("components") or {}, "components"):
        values = node.get("enum")
        if not isinstance(values, list):
            continue
        kinds = node.get("type")
        allowed = [kinds] if isinstance(kinds, str) else list(kinds or [])
        checks = [_JSON_TYPES[k] for k in allowed if k in _JSON_TYPES]
        wrong = [v for v in values if checks and not any(check(v) for check in checks)]
        if wrong:
            yield Finding(
                "enum_value_type_mismatch", "error", "api", where,
                f"Enum value(s) {wrong!r} do not match the declared type {kinds!r}: "
                "validators reject them and generated types cannot hold them.",
                "Make the enum's values match its type.",
            )  # fmt: skip
        labels = [str(v) for v in values if v is not None]
        if len({v.lower() for v in labels}) < len(labels):
            yield Finding(
                "enum_duplicate_value", "warning", "api", where,
                "The enum repeats a value (ignoring case): generated enum members clash.",
                "ALTER TYPE ... RENAME VALUE so every label differs beyond case.",
            )  # fmt: skip
        odd = [v for v in labels if not _IDENTIFIER.match(v)]
        if odd:
            yield Finding(
                "enum_label_not_identifier", "info", "naming", where,
                f"Enum label(s) {odd!r} are not identifiers: every SDK generator renames "
                "them differently.",
                "ALTER TYPE ... RENAME VALUE '...' TO 'snake_case';",
            )  # fmt: skip


_DEPRECATED_31 = {
    "nullable": 'OpenAPI 3.1 dropped \'nullable\': use "type": ["...", "null"].',
    "example": "OpenAPI 3.1 deprecates 'example' in schemas: use 'examples' (a list).",
}


def deprecated_keywords(document: Document) -> Iterable[Finding]:
    if not str(document.get("openapi", "")).startswith("3.1"):
        return
    for where, node in _walk(document.get("components") or {}, "components"):
        if "x-pg-type" in node or node.get("type") or "$ref" in node:
            for keyword, why in _DEPRECATED_31.items():
                if keyword in node:
                    yield Finding(
                        "deprecated_keyword", "warning", "api", f"{where}.{keyword}", why,
                        "Use the OpenAPI 3.1 (JSON Schema 2020-12) form.",
                    )  # fmt: skip


def unused_components(document: Document) -> Iterable[Finding]:
    text = str(dict(document))
    components = document.get("components") or {}
    for section in ("schemas", "parameters", "responses"):
        for name in components.get(section) or {}:
            if f"#/components/{section}/{name}'" not in text:
                yield Finding(
                    "unused_component", "info", "api", f"components.{section}.{name}",
                    "The component is defined but never referenced.",
                    "Remove it, or reference it where it applies.",
                )  # fmt: skip


OPENAPI_RULES: tuple[OpenApiRule, ...] = (
    operation_ids,
    operation_documentation,
    path_parameters,
    table_descriptions,
    column_descriptions,
    untyped_properties,
    enums,
    deprecated_keywords,
    unused_components,
)


def lint_openapi(document: Document) -> list[Finding]:
    """Every finding of every OpenAPI rule, most severe first."""
    found = [finding for rule in OPENAPI_RULES for finding in rule(document)]
    return sorted(set(found), key=lambda f: f.sort_key)
