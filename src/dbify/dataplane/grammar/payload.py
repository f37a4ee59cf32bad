"""The body of a write: JSON, CSV or form data → a typed ``Payload``.

Owns PostgREST's body rules (``ApiRequest/Payload.hs``): the accepted content types
(``application/json`` by default, ``text/csv``, ``application/x-www-form-urlencoded``;
anything else is ``PGRST107``, 415), what counts as invalid (``PGRST102`` with where
the parser stopped), the keys a body sets (those of its objects, or ``columns=`` when
given) and the rule that every object of an array has the same keys. The body is
handed on as one JSON array text so PostgreSQL expands it with ``json_to_recordset``
and a bulk insert stays one statement. Does not know the schema: whether the keys are
columns is the plan stage's question.

>>> payload = parse_payload(b'{"title": "Dune", "pages": 412}', None, columns=None)
>>> (payload.keys, payload.row_count, payload.json)
(('title', 'pages'), 1, '[{"title": "Dune", "pages": 412}]')
>>> parse_payload(b"title,pages\\nDune,412\\nEmma,NULL", "text/csv", columns=None).json
'[{"title":"Dune","pages":"412"},{"title":"Emma","pages":null}]'
>>> parse_payload(b'[{"a": 1}, {"b": 2}]', None, columns=None)
Traceback (most recent call last):
dbify.errors.DbifyError: All object keys must match
>>> parse_payload(b'{"a": 1,}', "application/json", columns=None).keys
Traceback (most recent call last):
dbify.errors.DbifyError: Empty or invalid json
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

import orjson

from dbify.errors import Codes, DbifyError

_JSON: Final = "application/json"
_CSV: Final = "text/csv"
_FORM: Final = "application/x-www-form-urlencoded"
_JSON_SYNONYMS: Final = frozenset((_JSON, "application/vnd.pgrst.array+json", "*/*"))


@dataclass(frozen=True, slots=True)
class Payload:
    """A parsed write body.

    ``keys`` are the names the body sets, in first-seen order (``columns=`` when given);
    ``json`` is the body as a JSON array of objects, the one parameter the statement
    expands; ``row_count`` is the array's length; ``uniform`` is False when the objects
    do not all have the same keys (only allowed with ``columns=`` or
    ``Prefer: missing=default``).
    """

    keys: tuple[str, ...]
    json: str
    row_count: int
    uniform: bool = True


def parse_payload(
    body: bytes | None,
    content_type: str | None,
    *,
    columns: tuple[str, ...] | None,
    allow_mixed_keys: bool = False,
    max_rows: int | None = None,
) -> Payload:
    """Parse a POST/PATCH/PUT body.

    ``content_type`` is the raw header (parameters such as ``charset`` are ignored; absent
    means JSON). ``columns`` is the ``columns=`` parameter: it replaces the body's keys
    and lifts the same-keys rule, as does ``allow_mixed_keys`` (``missing=default``).
    A top-level JSON scalar is refused (PostgREST would insert nothing and answer 201).

    Raises ``DbifyError``: ``PGRST107`` (415) for another content type, ``PGRST102``
    (400) for an empty or malformed body, an array of non-objects or mixed keys,
    ``DBIFY413`` (413) for more than ``max_rows`` rows.
    """
    media = _media(content_type)
    raw = body or b""
    if media in _JSON_SYNONYMS:
        rows = _json_rows(raw)
    elif media == _CSV:
        rows = _csv_rows(raw)
    elif media == _FORM:
        rows = [dict(parse_qsl(_utf8(raw), keep_blank_values=True))]
    else:
        raise DbifyError(
            Codes.UNSUPPORTED_CONTENT_TYPE, f"Content-Type not acceptable: {content_type}"
        )
    if max_rows is not None and len(rows) > max_rows:
        raise DbifyError(
            Codes.PAYLOAD_TOO_LARGE,
            f"The payload has {len(rows)} rows, more than the limit of {max_rows}",
            hint="Send the rows in several requests.",
        )
    keys, uniform = _keys(rows)
    if not uniform and columns is None and not allow_mixed_keys:
        raise DbifyError(
            Codes.INVALID_BODY,
            "All object keys must match",
            hint="Give every object the same keys, or name the columns with 'columns='"
            " or 'Prefer: missing=default'.",
        )
    json = _array_text(raw, rows) if media in _JSON_SYNONYMS else orjson.dumps(rows).decode()
    return Payload(columns if columns is not None else keys, json, len(rows), uniform)


def is_json_media(content_type: str | None) -> bool:
    """Whether a body of this ``Content-Type`` is read as JSON."""
    return _media(content_type) in _JSON_SYNONYMS


def one_object_text(body: bytes | None, keys: tuple[str, ...]) -> str | None:
    """``body`` as the one-row JSON array text ``parse_payload`` would make of it, when
    it is one JSON object whose keys are ``keys`` in that order; else None (anything
    else, invalid JSON included, is left to ``parse_payload``). The bare write's check."""
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not dict or tuple(value) != keys:
        return None
    return f"[{body.decode()}]"


def _media(content_type: str | None) -> str:
    return (content_type or _JSON).split(";", 1)[0].strip().lower()


def _json_rows(raw: bytes) -> list[dict[str, object]]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        line, column = error.lineno, error.colno
        raise DbifyError(
            Codes.INVALID_BODY,
            "Empty or invalid json",
            f"{error.msg} at line {line}, column {column} (byte {error.pos})",
        ) from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        # PostgREST silently inserts nothing for a scalar body; a clear error is safer.
        raise DbifyError(
            Codes.INVALID_BODY,
            "Expected a JSON object or an array of objects",
            f"The body is a JSON {type(value).__name__ if value is not None else 'null'}",
        )
    if not all(isinstance(item, dict) for item in value):
        raise DbifyError(
            Codes.INVALID_BODY,
            "All object keys must match",
            "Every element of the array must be a JSON object",
        )
    return value


def _array_text(raw: bytes, rows: list[dict[str, object]]) -> str:
    """The JSON array text: the client's own bytes when they already are one (valid, as
    ``orjson`` just parsed them), so a large bulk body is not re-serialised."""
    text = raw.decode()
    stripped = text.lstrip(" \t\r\n")
    if stripped.startswith("["):
        return text
    if stripped.startswith("{"):
        return f"[{text}]"
    return "[]" if not rows else orjson.dumps(rows).decode()


def _csv_rows(raw: bytes) -> list[dict[str, object]]:
    """CSV with a header line; the unquoted text ``NULL`` is null, as in PostgREST."""
    reader = csv.reader(io.StringIO(_utf8(raw), newline=""), strict=True)
    try:
        lines = [line for line in reader if line]
    except csv.Error as error:
        raise DbifyError(
            Codes.INVALID_BODY, "Invalid CSV", f"{error} at line {reader.line_num}"
        ) from None
    if not lines:
        raise DbifyError(Codes.INVALID_BODY, "Invalid CSV", "The body has no header line")
    header, records = lines[0], lines[1:]
    rows: list[dict[str, object]] = []
    for number, record in enumerate(records, start=2):
        if len(record) != len(header):
            raise DbifyError(
                Codes.INVALID_BODY,
                "All lines must have same number of fields",
                f"Line {number} has {len(record)} fields, the header {len(header)}",
            )
        rows.append({k: (None if v == "NULL" else v) for k, v in zip(header, record, strict=True)})
    return rows


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as error:
        raise DbifyError(
            Codes.INVALID_BODY, "The body is not valid UTF-8", f"Invalid byte at {error.start}"
        ) from None


def _keys(rows: list[dict[str, object]]) -> tuple[tuple[str, ...], bool]:
    """The union of the rows' keys in first-seen order, and whether all rows share them."""
    if not rows:
        return (), True
    first = rows[0].keys()
    seen = dict.fromkeys(first)
    uniform = True
    for row in rows[1:]:
        if row.keys() != first:
            uniform = False
            seen.update(dict.fromkeys(row))
    return tuple(seen), uniform
