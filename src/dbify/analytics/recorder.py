"""The request path's side of request logging: append one flat tuple, nothing more.

``RequestRecorder.record`` is called once per data API request, after the response is
built. It appends ONE tuple of plain values already at hand (ints, strs, bytes; the
project's long-lived key registry) to a list bounded by ``capacity``, and keeps no
reference to the request, its headers or the response: holding those per-request objects
until the publisher ran cost ~20 µs a request in garbage collection. When the list is full
the entry is counted in ``dropped`` and discarded, so a stalled publisher can never grow
memory or slow requests.

The publisher calls ``drain``, which turns entries into compact rows (``event.ROW_FIELDS``)
for one ``orjson.dumps`` of the whole batch. Only what must not leave the serving process
is derived there: the key id and role (the credential stays here), the query's shape
(filter values are user data) and the anonymised client address. Everything else (target,
row count, database time) is derived by the consumer, see ``event.decode_batch``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from typing import Any

import orjson

from dbify.analytics.event import IpAnonymisation, anonymise_ip, shape_of_query
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
        status, body = response.status, response.body
        client = scope.get("client")
        get = headers.get
        self._entries.append(
            (
                ids[0],
                started_us,
                project.id,
                ids[1],
                scope["method"],
                path,
                scope["query_string"],
                status,
                body if status >= 400 else b"",
                duration_ns,
                timing.db_ns,
                timing.queue_ns,
                span,
                len(body),
                project.keys,
                get("apikey"),
                get("authorization"),
                client[0] if client else "",
                get("user-agent", ""),
            )
        )

    def drain(self, limit: int) -> list[list[Any]]:
        """Remove up to ``limit`` oldest entries and return them as rows (``ROW_FIELDS``)."""
        taken, self._entries[:limit] = self._entries[:limit], []
        self.recorded += len(taken)
        mode, salt = self.ip_anonymisation, self._salt
        return [
            [
                event_id,
                started_us,
                project_id,
                request_id,
                method,
                path,
                shape_of_query(query.decode("latin-1")) if query else "",
                status,
                _error_code(status, error_body),
                duration_ns // 1000,
                db_ns // 1000,
                queue_ns // 1000,
                span.decode("latin-1"),
                response_bytes,
                *_key_of(keys, apikey, authorization),
                anonymise_ip(client, mode, salt),
                user_agent[:512],
            ]
            for (
                event_id,
                started_us,
                project_id,
                request_id,
                method,
                path,
                query,
                status,
                error_body,
                duration_ns,
                db_ns,
                queue_ns,
                span,
                response_bytes,
                keys,
                apikey,
                authorization,
                client,
                user_agent,
            ) in taken
        ]


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


def _error_code(status: int, body: bytes) -> str:
    if status < 400 or not body.startswith(b"{"):
        return ""
    try:
        code = orjson.loads(body).get("code")
    except orjson.JSONDecodeError:
        return ""
    return str(code) if code is not None else ""
