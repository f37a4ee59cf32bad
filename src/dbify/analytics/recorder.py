"""The request path's side of request logging: append one flat tuple, nothing more.

``RequestRecorder.record`` is called once per data API request, after the response is
built. It appends ONE tuple of plain values (``event.ENTRY_FIELDS``: ints, strs, bytes)
to a list bounded by ``capacity``, and keeps no reference to the request, its headers or
the response: holding those per-request objects until the publisher ran cost ~20 µs a
request in garbage collection. When the list is full the entry is counted in ``dropped``
and discarded, so a stalled publisher can never grow memory or slow requests.

Nothing secret is in an entry: the key is its id and role (noted by the pipeline when
it authenticated the request, ``RequestTiming``; verified here only for requests that
failed before that), and the client address is already anonymised. The query is the
pipeline's masked query string when it computed one (``RequestTiming.query_shape``: a
str), else the raw query string (bytes): its shape (filter values removed) is derived
by ``event.entry_rows``, which the publisher runs before a batch leaves the process for
a broker or the spool, or by ``event.entry_columns`` in the chDB child (all-in-one), off
the serving process's CPU.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from typing import Any

from dbify.analytics.event import IpAnonymisation, anonymise_ip, error_code_of
from dbify.dataplane.respond import ApiResponse
from dbify.dataplane.timing import RequestTiming

__all__ = ["RequestRecorder"]

_MAX_CLIENT_REQUEST_ID = 128


class RequestRecorder:
    """A bounded in-process buffer of finished requests."""

    def __init__(
        self, *, capacity: int, ip_anonymisation: IpAnonymisation = "truncate", salt: str = ""
    ) -> None:
        self.capacity = capacity
        self.ip_anonymisation: IpAnonymisation = ip_anonymisation
        self._salt = salt
        self._entries: list[tuple[Any, ...]] = []
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)
        self.dropped = 0
        self.recorded = 0

    def __len__(self) -> int:
        return len(self._entries)

    def new_request_id(self, headers: Mapping[str, str]) -> tuple[str, str]:
        """(event id, request id): the client's ``X-Request-Id`` is kept when sensible."""
        event_id = f"{self._prefix}{next(self._counter):010x}"
        given = headers.get("x-request-id")
        if (
            given
            and len(given) <= _MAX_CLIENT_REQUEST_ID
            and given.isascii()
            and given.isprintable()
        ):
            return event_id, given
        return event_id, event_id

    def record(
        self,
        project: Any,
        ids: tuple[str, str],
        started_us: int,
        duration_ns: int,
        timing: RequestTiming,
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        path: str,
        response: ApiResponse,
    ) -> None:
        """Remember one finished request (hot path: pick plain values, one append)."""
        if len(self._entries) >= self.capacity:
            self.dropped += 1
            return
        span = b""
        for name, value in response.headers:
            if name == b"content-range":
                span = value
        status = response.status
        client = scope.get("client")
        get = headers.get
        key_id = timing.key_id
        role = timing.role
        if key_id is None:  # refused before authentication finished
            key_id, role = _key_of(project.keys, get("apikey"), get("authorization"))
        self._entries.append(
            (
                ids[0],
                started_us,
                project.id,
                ids[1],
                scope["method"],
                path,
                timing.query_shape or scope["query_string"],
                status,
                error_code_of(response.body) if status >= 400 else "",
                duration_ns,
                timing.db_ns,
                timing.queue_ns,
                span,
                len(response.body),
                key_id,
                role,
                anonymise_ip(client[0], self.ip_anonymisation, self._salt) if client else "",
                get("user-agent", ""),
            )
        )

    def take(self, limit: int) -> list[tuple[Any, ...]]:
        """Remove up to ``limit`` oldest entries and return them as they are."""
        taken, self._entries[:limit] = self._entries[:limit], []
        self.recorded += len(taken)
        return taken


def _key_of(keys: Any, apikey: str | None, authorization: str | None) -> tuple[str, str]:
    """(key id, role) of the credential presented; never the credential itself."""
    presented = apikey
    if authorization is not None and authorization[:7].lower() == "bearer ":
        presented = authorization[7:].strip()
    if not presented:
        return "", ""
    key = keys.verify(presented)
    if key is None:
        return "invalid", ""
    return key.id, key.role or key.kind
