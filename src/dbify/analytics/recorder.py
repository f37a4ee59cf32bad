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

import os
from collections.abc import Callable, Mapping
from time import perf_counter_ns, time_ns
from typing import Any

from dbify.analytics.event import IpAnonymisation, anonymise_ip, error_code_of
from dbify.dataplane.respond import ApiResponse
from dbify.dataplane.timing import RequestTiming

__all__ = ["RequestRecorder"]

_MAX_CLIENT_REQUEST_ID = 128
# An event id is the process's random prefix, a block number and a position in the
# block: ids of a block are the block's base plus one of these suffixes, a concatenation
# each, where formatting every id as a padded hex number cost ~2 k instructions more.
# Last first: ``pop`` takes them in order.
_SUFFIXES = tuple(f"{n:02x}" for n in reversed(range(256)))
_SUFFIX_BYTES = tuple(suffix.encode() for suffix in _SUFFIXES)
_MAX_REMEMBERED_ADDRESSES = 4096


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
        self._blocks = 0
        self._ids: list[str] = []
        self._encoded: list[bytes] = []
        self._ips: dict[str, str] = {}
        self._wall_ns = 0  # wall clock minus perf_counter: set by the first entry of a batch
        self.dropped = 0
        self.recorded = 0
        # The publisher's alarm (``RequestLogPublisher.start``): rung by the entry that
        # ends an empty buffer and by the ``wake_at``-th, so it sleeps while nothing waits.
        self.wake: Callable[[], None] = _nothing
        self.wake_at = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        project: Any,
        started_ns: int,
        duration_ns: int,
        timing: RequestTiming,
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        path: str,
        response: ApiResponse,
    ) -> str:
        """Remember one finished request (hot path: pick plain values, one append) and
        answer its request id, also added to ``response`` as ``X-Request-Id``: the
        client's own when sensible, else the event id. The id is given even when the
        buffer is full and the entry is dropped.

        ``started_ns`` is a ``perf_counter_ns`` reading, the caller's start of its own
        timing: the event's wall-clock time is derived from it by an offset read again
        by the first entry after every ``take``, so a request costs no wall-clock read
        and a clock step shows within one flush."""
        ids = self._ids
        if not ids:
            ids = self._issue()
        event_id = ids.pop()
        encoded = self._encoded.pop()
        request_id = headers.get("x-request-id")
        if (
            request_id
            and len(request_id) <= _MAX_CLIENT_REQUEST_ID
            and request_id.isascii()
            and request_id.isprintable()  # no control characters: a safe header value
        ):
            encoded = request_id.encode("latin-1")
        else:
            request_id = event_id
        span = b""
        for name, value in response.headers:  # first or second when there is one
            if name == b"content-range":
                span = value
                break
        response.headers.append((b"x-request-id", encoded))
        entries = self._entries
        held = len(entries)
        if held >= self.capacity:
            self.dropped += 1
            return request_id
        if held == 0:
            self._wall_ns = time_ns() - perf_counter_ns()
        status = response.status
        client = scope.get("client")
        ip = ""
        if client:
            ip = self._ips.get(client[0]) or self._anonymised(client[0])
        key_id = timing.key_id
        role = timing.role
        if key_id is None:  # refused before authentication finished
            get = headers.get
            key_id, role = _key_of(project.keys, get("apikey"), get("authorization"))
        entries.append(
            (
                event_id,
                (started_ns + self._wall_ns) // 1000,
                project.id,
                request_id,
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
                ip,
                headers.get("user-agent", ""),
            )
        )
        if held == 0 or held + 1 == self.wake_at:
            self.wake()
        return request_id

    def _issue(self) -> list[str]:
        """The next block of event ids (256), last first, and their bytes for the
        header: 22 hex digits, ascending, unique within the process's prefix."""
        base = f"{self._prefix}{self._blocks:08x}"
        self._blocks += 1
        self._ids = [base + suffix for suffix in _SUFFIXES]
        encoded = base.encode()
        self._encoded = [encoded + suffix for suffix in _SUFFIX_BYTES]
        return self._ids

    def _anonymised(self, address: str) -> str:
        """``anonymise_ip`` of ``address``, remembered: clients repeat."""
        if len(self._ips) >= _MAX_REMEMBERED_ADDRESSES:
            self._ips.clear()
        ip = self._ips[address] = anonymise_ip(address, self.ip_anonymisation, self._salt)
        return ip

    def take(self, limit: int) -> list[tuple[Any, ...]]:
        """Remove up to ``limit`` oldest entries and return them as they are."""
        taken, self._entries[:limit] = self._entries[:limit], []
        self.recorded += len(taken)
        return taken


def _nothing() -> None:
    return None


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
