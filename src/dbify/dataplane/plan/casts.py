"""Validation of the SQL type names a client may cast to (``select=id::text``).

A cast is the one place where request text becomes SQL syntax rather than a bind
parameter, so it is accepted only in a form that cannot be anything but a type name:
lower-cased identifiers (optionally schema-qualified), one of PostgreSQL's multi-word
type names, an optional ``(n)`` or ``(p,s)`` modifier and ``[]`` suffixes. Anything else
is a 400. This module does not check that the type exists: PostgreSQL does that.
"""

from __future__ import annotations

import re

from dbify.errors import Codes, DbifyError

_IDENTIFIER = r"[a-z_][a-z0-9_]*"
_SIMPLE = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})?")
_MODIFIER = re.compile(r"\(\s*\d+\s*(,\s*\d+\s*)?\)")

# Why a list: a space inside a cast could otherwise smuggle keywords into the SQL.
_MULTI_WORD = frozenset(
    {
        "double precision",
        "character varying",
        "bit varying",
        "timestamp with time zone",
        "timestamp without time zone",
        "time with time zone",
        "time without time zone",
    }
)


def validate_cast(cast: str) -> str:
    """The SQL spelling of ``cast`` if it is a safe type name, else a 400.

    >>> validate_cast("TEXT")
    'text'
    >>> validate_cast("numeric(10, 2)[]")
    'numeric(10,2)[]'
    >>> validate_cast("double precision")
    'double precision'
    """
    text = cast.strip().lower()
    brackets = 0
    while text.endswith("[]"):
        text = text[:-2].rstrip()
        brackets += 1
    modifier = ""
    if text.endswith(")") and "(" in text:
        head, _, tail = text.partition("(")
        if _MODIFIER.fullmatch("(" + tail) is None:
            raise _invalid(cast)
        modifier = "(" + "".join(tail.split())
        text = head.rstrip()
    words = text.split()
    name = " ".join(words)
    if not (name in _MULTI_WORD or (len(words) == 1 and _SIMPLE.fullmatch(name))):
        raise _invalid(cast)
    return name + modifier + "[]" * brackets


def _invalid(cast: str) -> DbifyError:
    return DbifyError(
        Codes.INVALID_QUERY_PARAM,
        f"Invalid cast type '{cast}'",
        "A cast must be a type name such as text, integer, numeric(10,2) or text[]",
    )
