"""The rows a request asks for: the ``Range`` header merged with ``limit``/``offset``.

Owns the PostgREST rules: the ``Range: first-last`` header counts only on GET (RFC 9110
has other methods ignore it) and a malformed one is ignored; ``Range-Unit`` is ignored;
the header and ``offset``/``limit`` are intersected; ``limit=0`` asks for no rows (not an
empty intersection); any other empty result is ``PGRST103`` (416). Does not compute
``Content-Range`` (the response stage does, from the rows returned).

>>> merge_ranges("GET", "0-9", offset=None, limit=None)
Range(offset=0, limit=10)
>>> merge_ranges("GET", "5-", offset=None, limit=None)
Range(offset=5, limit=None)
>>> merge_ranges("GET", None, offset=10, limit=5)
Range(offset=10, limit=5)
>>> merge_ranges("GET", "0-9", offset=2, limit=100)
Range(offset=2, limit=8)
>>> merge_ranges("GET", "bytes=0-9", offset=None, limit=None)
Range(offset=0, limit=None)
>>> merge_ranges("GET", "5-2", offset=None, limit=None)
Traceback (most recent call last):
dbify.errors.DbifyError: Requested range not satisfiable
"""

from __future__ import annotations

import re

from dbify.dataplane.grammar.types import Range
from dbify.errors import Codes, DbifyError

_RANGE_HEADER = re.compile(r"([0-9]+)-([0-9]*)")
_EVERYTHING = Range()


def merge_ranges(
    method: str, header: str | None, *, offset: int | None, limit: int | None
) -> Range:
    """The top-level range from the ``Range`` header value and the root ``offset`` and
    ``limit`` parameters (None when absent; ``limit`` may be negative, which is
    ``PGRST103`` as in PostgREST).
    """
    low, high = 0, None  # a closed interval of row positions; high None is unbounded
    header_empty = False
    if header is not None and method == "GET":
        match = _RANGE_HEADER.fullmatch(header.strip())
        if match is not None:
            low = int(match.group(1))
            if match.group(2):
                high = int(match.group(2))
                header_empty = high < low
    if offset is not None and offset > low:
        low = offset
    if limit is not None:
        if limit == 0:
            return Range(offset or 0, 0)
        limit_high = (offset or 0) + limit - 1
        high = limit_high if high is None else min(high, limit_high)
    if high is None:
        return Range(low) if low else _EVERYTHING
    if high < low:
        raise DbifyError(
            Codes.INVALID_RANGE,
            "Requested range not satisfiable",
            "The lower boundary must be lower than or equal to the upper boundary in the "
            "Range header."
            if header_empty
            else "Limit should be greater than or equal to zero.",
        )
    return Range(low, high - low + 1)
