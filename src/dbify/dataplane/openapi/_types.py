"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) for PostgreSQL types.

Owns the mapping from a column's or parameter's PostgreSQL type to the JSON value
PostgreSQL's own JSON functions produce for it (``to_json``), since that is what the
data API returns: ``bigint`` is a JSON number, ``timestamptz`` an ISO string, ``jsonb``
any JSON value. It does not know about relations, paths or parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dbify.schema.model import Column

JsonObject = dict[str, object]

_INT32_RANGE = (-2147483648, 2147483647)
_INT16_RANGE = (-32768, 32767)

# Keyed by format_type() output without modifiers; the value is the JSON Schema.
_BASE_TYPES: Mapping[str, JsonObject] = {
    "smallint": {"type": "integer", "format": "int32", "minimum": _INT16_RANGE[0],
                 "maximum": _INT16_RANGE[1]},
    "integer": {"type": "integer", "format": "int32"},
    "bigint": {"type": "integer", "format": "int64"},
    "oid": {"type": "integer", "format": "int64", "minimum": 0},
    "real": {"type": "number", "format": "float"},
    "double precision": {"type": "number", "format": "double"},
    "numeric": {"type": "number"},
    "boolean": {"type": "boolean"},
    "text": {"type": "string"},
    "character varying": {"type": "string"},
    "character": {"type": "string"},
    "bpchar": {"type": "string"},
    "name": {"type": "string"},
    "citext": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date"},
    "timestamp with time zone": {"type": "string", "format": "date-time"},
    "timestamp without time zone": {"type": "string", "format": "date-time"},
    "time without time zone": {"type": "string", "format": "time"},
    "time with time zone": {"type": "string", "format": "time"},
    "interval": {"type": "string"},
    "money": {"type": "string"},
    "bytea": {"type": "string", "contentEncoding": "base16"},
    "inet": {"type": "string"},
    "cidr": {"type": "string"},
    "macaddr": {"type": "string"},
    "xml": {"type": "string", "contentMediaType": "application/xml"},
    "tsvector": {"type": "string"},
    "tsquery": {"type": "string"},
    "bit": {"type": "string"},
    "bit varying": {"type": "string"},
    # json/jsonb hold any JSON value: the empty schema, which already admits null.
    "json": {},
    "jsonb": {},
    "record": {"type": "object"},
}  # fmt: skip

# pg_type.typcategory fallbacks for domains, extension types and the unforeseen.
_CATEGORY_TYPES: Mapping[str, JsonObject] = {
    "N": {"type": "number"},
    "B": {"type": "boolean"},
    "S": {"type": "string"},
    "D": {"type": "string"},
    "T": {"type": "string"},
    "I": {"type": "string"},
    "R": {"type": "string"},
    "G": {"type": "string"},
    "V": {"type": "string"},
    "C": {"type": "object"},
}

_MODIFIERS = re.compile(r"\(.*?\)")


def normalize_type(data_type: str) -> str:
    """``character varying(20)`` → ``character varying``; ``numeric(10,2)[]`` →
    ``numeric[]``. Type modifiers don't change the JSON shape."""
    return _MODIFIERS.sub("", data_type).strip()


def type_schema(
    data_type: str,
    enums: Mapping[str, tuple[str, ...]],
    *,
    category: str = "",
    element_type: str | None = None,
) -> JsonObject:
    """The JSON Schema of a value of PostgreSQL type ``data_type``.

    ``enums`` maps enum type names (as ``format_type`` spells them) to their labels.
    Unknown types give ``{}`` (any value) unless ``category`` says better.

    >>> type_schema("integer[]", {})
    {'type': 'array', 'items': {'type': 'integer', 'format': 'int32'}}
    >>> type_schema("public.mood", {"public.mood": ("sad", "ok")})
    {'type': 'string', 'enum': ['sad', 'ok']}
    """
    normalized = normalize_type(data_type)
    if normalized.endswith("[]") or category == "A":
        inner = element_type or normalized.removesuffix("[]")
        items = type_schema(inner, enums)
        return {"type": "array", "items": items}
    labels = enums.get(normalized) or enums.get(normalized.rsplit(".", 1)[-1])
    if labels:
        return {"type": "string", "enum": list(labels)}
    known = _BASE_TYPES.get(normalized) or _BASE_TYPES.get(normalized.rsplit(".", 1)[-1])
    if known is not None:
        return dict(known)
    return dict(_CATEGORY_TYPES.get(category, {}))


def make_nullable(schema: JsonObject) -> JsonObject:
    """Admit ``null`` the 3.1 way: ``"type": ["string", "null"]`` (and ``None`` in an
    ``enum``). The empty schema already admits everything and is left alone."""
    kind = schema.get("type")
    if kind is None:
        return schema
    result = dict(schema)
    result["type"] = [kind, "null"] if isinstance(kind, str) else [*_as_list(kind), "null"]
    enum = schema.get("enum")
    if isinstance(enum, list):
        result["enum"] = [*enum, None]
    return result


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def column_type_schema(column: Column, enums: Mapping[str, tuple[str, ...]]) -> JsonObject:
    """The JSON Schema of a column's values, nullability and ``maxLength`` included."""
    all_enums = dict(enums)
    if column.enum_values:
        all_enums[normalize_type(column.data_type)] = column.enum_values
    schema = type_schema(
        column.data_type,
        all_enums,
        category=column.type_category,
        element_type=column.element_type,
    )
    if column.max_length is not None and schema.get("type") == "string":
        schema["maxLength"] = column.max_length
    return make_nullable(schema) if column.nullable else schema


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_QUOTED = re.compile(r"^'((?:[^']|'')*)'(?:::[\w\s.\"\[\]]+)?$")


def default_value(expression: str | None, schema: JsonObject) -> object | None:
    """The JSON value of a column default when it is a literal, else None.

    PostgreSQL stores defaults as SQL text: ``0``, ``'pending'::text``, ``true``,
    ``now()``, ``nextval('seq'::regclass)``. Only constants are documented as
    ``default``; expressions are evaluated per row and have no single value.

    >>> default_value("'it''s'::text", {"type": "string"})
    "it's"
    >>> default_value("42", {"type": "integer"}), default_value("now()", {})
    (42, None)
    """
    if expression is None:
        return None
    text = expression.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    kind = schema.get("type")
    kinds = set(_as_list(kind)) if kind is not None else set()
    if _NUMBER.match(text):
        if "integer" in kinds and "." not in text:
            return int(text)
        if kinds & {"integer", "number"}:
            return float(text) if "." in text else int(text)
        return None
    if text in ("true", "false") and "boolean" in kinds:
        return text == "true"
    quoted = _QUOTED.match(text)
    # SQL's text of a date/time ('2024-01-01 00:00:00+00') is not JSON's (ISO 8601 with
    # a "T"), so such defaults are left out rather than documented wrong.
    if quoted and "string" in kinds and schema.get("format") in (None, "uuid"):
        return quoted.group(1).replace("''", "'")
    return None
