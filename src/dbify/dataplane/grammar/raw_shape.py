"""A request's raw shape: its query string with the operands of simple filters masked.

Repeated requests differ mostly in filter values (``?id=eq.5``, ``?id=eq.9``). Masking
the operands of ``eq``, ``neq``, ``gt``, ``gte``, ``lt`` and ``lte`` filters (optionally
``not.``) in the raw query string, before any parsing, gives a key under which the
caches remember a parsed and planned request (``statement_cache``, ``write_cache``).
Only plain operands are masked (letters, digits, ``_.:-``: nothing a parser could
unquote or decode); a request with any other filter, or anything percent-encoded, has no
raw shape and is always parsed. Reserved names (``select``, ``order``...) are kept
verbatim, so they are part of the shape.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping

from dbify.dataplane.grammar.query_params import EMBEDDABLE_KEYS, TOP_LEVEL_KEYS

__all__ = ["RawShape", "masked_query", "raw_request_shape", "with_operands"]

RawShape = tuple[Hashable, tuple[str, ...]]
"""``raw_request_shape``'s answer: the key, and the masked operands in query order."""

_MASKED_OPERATORS = frozenset(("eq", "neq", "gt", "gte", "lt", "lte"))
_PLAIN_OPERAND = re.compile(r"[A-Za-z0-9_.:-]+")


def raw_request_shape(
    method: str, path: str, query_string: str, headers: Mapping[str, str]
) -> RawShape | None:
    """The raw shape of a request, or None when it has a filter this does not mask (or
    anything percent-encoded), which then always takes the parsing path.

    >>> key, operands = raw_request_shape("GET", "/books", "id=eq.5&select=id", {})
    >>> key[2], operands
    ('id=eq.&select=id', ('5',))
    >>> raw_request_shape("GET", "/books", "name=like.a*", {}) is None
    True
    """
    parts = _masked_parts(query_string)
    if parts is None:
        return None
    get = headers.get
    # Every header parse_request reads: a shape stands for one parsed request.
    shape_key = (
        method, path, "&".join(prefix for prefix, _ in parts),
        get("accept"), get("prefer"), get("range"), get("accept-profile"),
        get("content-type"), get("content-profile"),
    )  # fmt: skip
    return shape_key, tuple(operand for _, operand in parts if operand is not None)


def masked_query(shape: RawShape) -> str:
    """The query string of ``shape``, its masked operands left out (the request log
    derives its query shape from it: requests of one shape share it).

    >>> masked_query(raw_request_shape("GET", "/books", "id=eq.5&select=id", {}))
    'id=eq.&select=id'
    """
    key = shape[0]
    assert isinstance(key, tuple)
    masked: str = key[2]
    return masked


def with_operands(query_string: str, operands: tuple[str, ...]) -> str:
    """``query_string`` with its masked operands replaced, in order, by ``operands``
    (which ``raw_request_shape`` must have masked: same count).

    >>> with_operands("id=eq.5&select=id&b=not.gt.2", ("x", "y"))
    'id=eq.x&select=id&b=not.gt.y'
    """
    parts = _masked_parts(query_string)
    assert parts is not None
    given = iter(operands)
    return "&".join(
        prefix if operand is None else prefix + next(given) for prefix, operand in parts
    )


def _masked_parts(query_string: str) -> list[tuple[str, str | None]] | None:
    """Each ``&`` part as (its text without the operand, the operand); the operand is
    None for a part kept verbatim. None when a filter cannot be masked."""
    if "%" in query_string or "+" in query_string:
        return None
    parts: list[tuple[str, str | None]] = []
    if query_string:
        for part in query_string.split("&"):
            key, has_value, value = part.partition("=")
            if not has_value or key in TOP_LEVEL_KEYS or key.rpartition(".")[2] in EMBEDDABLE_KEYS:
                parts.append((part, None))
                continue
            negation = ""
            if value.startswith("not."):
                negation, value = "not.", value[4:]
            operator, dot, operand = value.partition(".")
            if not (dot and operator in _MASKED_OPERATORS and _PLAIN_OPERAND.fullmatch(operand)):
                return None
            parts.append((f"{key}={negation}{operator}.", operand))
    return parts
