"""Which data API errors suggest the schema snapshot is stale.

When the database changes under a cached snapshot, requests naming the new objects fail
the planner (``PGRST200``/``202``/``204``/``205``, ``42703``) or, for objects the
snapshot still has, fail in PostgreSQL (``42703``, ``42P01``, ``42883``). Such an error
is a hint worth a cheap re-check of the project's catalog (``SchemaWatch.recheck``);
deciding whether anything changed is the schema watcher's job, not this module's.
"""

from __future__ import annotations

import orjson

from dbify.dataplane.respond import ApiResponse

__all__ = ["STALE_SCHEMA_CODES", "signals_stale_schema"]

STALE_SCHEMA_CODES = frozenset(
    {"42703", "42P01", "42883", "PGRST200", "PGRST202", "PGRST204", "PGRST205"}
)
_STATUSES = frozenset({400, 404})


def signals_stale_schema(response: ApiResponse) -> bool:
    """Whether ``response`` is an error whose code is in ``STALE_SCHEMA_CODES``.

    >>> signals_stale_schema(ApiResponse(400, b'{"code":"42703","message":"x"}', []))
    True
    >>> signals_stale_schema(ApiResponse(400, b'{"code":"PGRST100"}', []))
    False
    >>> signals_stale_schema(ApiResponse(200, b'[]', []))
    False
    """
    if response.status not in _STATUSES or not response.body.startswith(b"{"):
        return False
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and body.get("code") in STALE_SCHEMA_CODES
