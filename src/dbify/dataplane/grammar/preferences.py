"""The ``Prefer`` header (RFC 7240) as PostgREST reads it.

Owns which preferences exist and their spelling. Several preferences may share one header
separated by commas (several ``Prefer`` headers arrive joined by commas, as HTTP allows);
when one is given twice the first wins. Unknown or invalid preferences are ignored unless
``handling=strict`` is among them. Does not decide whether a preference is honoured
(``tx`` needs a project setting, ``max-affected`` applies to writes): later stages do.

>>> preferences = parse_preferences("count=exact, return=representation,count=planned")
>>> (preferences.count, preferences.return_)
('exact', 'representation')
>>> parse_preferences("handling=strict, count=maybe")
Traceback (most recent call last):
dbify.errors.DbifyError: Invalid preferences given with handling=strict
"""

from __future__ import annotations

from typing import Final

from dbify.dataplane.grammar.types import Preferences
from dbify.errors import Codes, DbifyError

_EXACT: Final[dict[str, tuple[str, str]]] = {
    "count=exact": ("count", "exact"),
    "count=planned": ("count", "planned"),
    "count=estimated": ("count", "estimated"),
    "return=minimal": ("return_", "minimal"),
    "return=headers-only": ("return_", "headers-only"),
    "return=representation": ("return_", "representation"),
    "resolution=merge-duplicates": ("resolution", "merge-duplicates"),
    "resolution=ignore-duplicates": ("resolution", "ignore-duplicates"),
    "missing=default": ("missing", "default"),
    "missing=null": ("missing", "null"),
    "tx=commit": ("tx", "commit"),
    "tx=rollback": ("tx", "rollback"),
    "params=single-object": ("params", "single-object"),
    "handling=strict": ("handling", "strict"),
    "handling=lenient": ("handling", "lenient"),
}
_EMPTY = Preferences()


def parse_preferences(header: str | None) -> Preferences:
    """The preferences of a (comma-joined) ``Prefer`` header value; None means none.

    Raises ``DbifyError`` ``PGRST122`` when ``handling=strict`` is given along with a
    preference that is unknown or has an invalid value (``max-affected=abc``).
    """
    if not header:
        return _EMPTY
    chosen: dict[str, object] = {}
    invalid: list[str] = []
    for raw in header.split(","):
        token = raw.strip()
        if not token:
            continue
        known = _EXACT.get(token)
        if known is not None:
            chosen.setdefault(known[0], known[1])
        elif token.startswith("timezone="):
            chosen.setdefault("timezone", token[9:])
        elif token.startswith("max-affected="):
            number = token[13:]
            if number.isascii() and number.isdigit():
                chosen.setdefault("max_affected", int(number))
            else:
                invalid.append(token)
        else:
            invalid.append(token)
    if invalid and chosen.get("handling") == "strict":
        raise DbifyError(
            Codes.INVALID_PREFERENCE,
            "Invalid preferences given with handling=strict",
            "Invalid preferences: " + ", ".join(invalid),
        )
    if not chosen:
        return _EMPTY
    return Preferences(**chosen)  # type: ignore[arg-type]
