"""Where a data API request's time went: waiting for a pooled connection, and holding it.

The request log needs both (``queue_us``, ``db_us``), and the execute stage is the only
place that sees them. Rather than thread a timer through every stage's signature, the
caller that wants them (the request logger in ``app.py``) puts a ``RequestTiming`` in a
context variable for the request's task; ``execute._connection`` adds to it when one is
there. Each ASGI request runs in its own task, hence its own context, so concurrent
requests never share one. Cost: one ``ContextVar.get`` and three clock reads a request.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["RequestTiming", "current_timing"]


class RequestTiming:
    """Nanoseconds spent waiting for a connection (``queue_ns``) and using it (``db_ns``,
    from acquired to released: the statements and their round trips).

    The pipeline also notes who the request ran as, once it has authenticated it
    (``key_id``, ``role``; None until then): the request log takes them from here
    instead of verifying the credential a second time."""

    __slots__ = ("db_ns", "key_id", "queue_ns", "role")

    def __init__(self) -> None:
        self.queue_ns = 0
        self.db_ns = 0
        self.key_id: str | None = None
        self.role = ""


current_timing: ContextVar[RequestTiming | None] = ContextVar("dbify_request_timing", default=None)
