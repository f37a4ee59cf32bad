"""The request path's side of request logging: append to a bounded buffer, nothing more.

``RequestRecorder.record`` is called once per data API request, after the response is
built. It stores a tuple of references (no parsing, no I/O, no await) in a list bounded
by ``capacity``; when the list is full the entry is counted in ``dropped`` and
discarded, so a stalled publisher can never grow memory or slow requests. The
publisher calls ``drain``, which turns entries into ``RequestLog`` events off the hot
path: key lookup, query redaction, error-code and row-count extraction, IP anonymisation.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from typing import Any

import orjson

from dbify.analytics.event import (
    IpAnonymisation,
    RequestLog,
    anonymise_ip,
    shape_of_query,
    target_of_path,
)
from dbify.dataplane.respond import ApiResponse

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
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        path: str,
        response: ApiResponse,
    ) -> None:
        """Remember one finished request (hot path: a length check and an append)."""
        if len(self._entries) >= self.capacity:
            self.dropped += 1
            return
        self._entries.append(
            (project, ids, started_us, duration_ns, scope, headers, path, response)
        )

    def drain(self, limit: int) -> list[RequestLog]:
        """Remove up to ``limit`` oldest entries and return them as events."""
        taken, self._entries[:limit] = self._entries[:limit], []
        self.recorded += len(taken)
        return [self._event(*entry) for entry in taken]

    def _event(
        self,
        project: Any,
        ids: tuple[str, str],
        started_us: int,
        duration_ns: int,
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        path: str,
        response: ApiResponse,
    ) -> RequestLog:
        key_id, role = _key_of(project, headers)
        response_headers = dict(response.headers)
        client = scope.get("client")
        query: bytes = scope.get("query_string", b"")
        return RequestLog(
            event_id=ids[0],
            timestamp_us=started_us,
            project_id=project.id,
            request_id=ids[1],
            method=scope["method"],
            path=path or "/",
            target=target_of_path(path),
            query_shape=shape_of_query(query.decode("latin-1")),
            status=response.status,
            error_code=_error_code(response),
            duration_us=duration_ns // 1000,
            db_us=_db_time_us(response_headers.get(b"server-timing", b"")),
            rows=_rows(response_headers.get(b"content-range", b"")),
            response_bytes=len(response.body),
            key_id=key_id,
            role=role,
            client_ip=anonymise_ip(client[0] if client else "", self.ip_anonymisation, self._salt),
            user_agent=headers.get("user-agent", "")[:512],
        )


def _key_of(project: Any, headers: Mapping[str, str]) -> tuple[str, str]:
    """(key id, role) of the credential presented; never the credential itself."""
    presented = headers.get("apikey")
    bearer = headers.get("authorization", "")
    if bearer[:7].lower() == "bearer ":
        presented = bearer[7:].strip()
    if not presented:
        return "", ""
    key = project.keys.verify(presented)
    if key is None:
        return "invalid", ""
    return key.id, key.role or key.kind


def _error_code(response: ApiResponse) -> str:
    if response.status < 400 or not response.body.startswith(b"{"):
        return ""
    try:
        code = orjson.loads(response.body).get("code")
    except orjson.JSONDecodeError:
        return ""
    return str(code) if code is not None else ""


def _rows(content_range: bytes) -> int:
    """Rows from ``Content-Range: 0-9/100`` (10) or ``*/0`` (0).

    >>> _rows(b"0-9/100"), _rows(b"*/5"), _rows(b"")
    (10, 0, 0)
    """
    span = content_range.partition(b"/")[0]
    first, sep, last = span.partition(b"-")
    if not sep:
        return 0
    try:
        return int(last) - int(first) + 1
    except ValueError:
        return 0


def _db_time_us(server_timing: bytes) -> int:
    """The ``db;dur=`` entry of ``Server-Timing`` in µs, when the pipeline reports one.

    >>> _db_time_us(b"db;dur=1.5, total;dur=2"), _db_time_us(b"total;dur=2")
    (1500, 0)
    """
    for part in server_timing.split(b","):
        name, _, rest = part.strip().partition(b";dur=")
        if name == b"db" and rest:
            try:
                return int(float(rest) * 1000)
            except ValueError:
                return 0
    return 0
