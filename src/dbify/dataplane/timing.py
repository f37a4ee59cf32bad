"""Where a data API request's time went: waiting for a pooled connection, and holding it.

The request log needs both (``queue_us``, ``db_us``), and the execute stage is the only
place that sees them. The caller that wants them (the request logger in ``app.py``)
passes a ``RequestTiming`` to ``pipeline.handle_data_request``, which hands it down to
the execute stage; ``execute._connection`` adds to it. An argument rather than a context
variable: setting, reading and resetting one cost ~2.5 k instructions a logged request
(callgrind), a quarter of what the request log's branch in ``app.py`` added.
Tracing (``dbify.tracing``) also asks for ``uses``: when and for what each connection was
held, from which it draws the request's database spans afterwards.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ConnectionUse", "RequestTiming"]


class RequestTiming:
    """Nanoseconds spent waiting for a connection (``queue_ns``) and using it (``db_ns``,
    from acquired to released: the statements and their round trips).

    The pipeline also notes who the request ran as, once it has authenticated it
    (``key_id``, ``role``; None until then): the request log takes them from here
    instead of verifying the credential a second time.

    ``query_shape``: the query string with its filter operands masked
    (``grammar.raw_shape.masked_query``), noted by the pipeline when it computed the
    request's raw shape anyway; the request log derives the logged shape from it, once per
    distinct shape, instead of from every raw query string.

    ``uses``, when a list (tracing on), gets one ``ConnectionUse`` per pooled connection
    the request held."""

    # Class-level defaults instead of ``__init__``: one is made for every logged request,
    # and a Python ``__init__`` setting six attributes doubled the cost of making it.
    queue_ns = 0
    db_ns = 0
    key_id: str | None = None
    role = ""
    query_shape: str | None = None
    uses: list[ConnectionUse] | None = None


class ConnectionUse(NamedTuple):
    """One pooled connection held by a request: ``perf_counter_ns`` readings of when it
    was asked for, obtained and given back, and the SQL it ran (``$n`` placeholders, no
    values; "" when not known)."""

    asked_ns: int
    acquired_ns: int
    released_ns: int
    sql: str
