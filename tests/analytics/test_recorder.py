"""The recorder keeps plain values only, and its rows decode into complete events."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from dbify.analytics.event import (
    count_events,
    decode_batch,
    encode_entries,
    encode_rows,
    entry_columns,
    entry_rows,
    event_values,
)
from dbify.analytics.recorder import RequestRecorder
from dbify.dataplane.respond import ApiResponse
from dbify.dataplane.timing import RequestTiming

_KEY = SimpleNamespace(id="k1", role="", kind="anon")
_KEYS = SimpleNamespace(verify=lambda presented: _KEY if presented == "secret" else None)
_PROJECT = SimpleNamespace(id="p1", keys=_KEYS)


def test_timestamps_are_wall_clock_time_derived_from_the_monotonic_start() -> None:
    """The caller passes its ``perf_counter_ns`` start; the entry holds wall-clock
    microseconds, from an offset read again by the first entry after each ``take``."""
    recorder = RequestRecorder(capacity=10)
    scope = {"method": "GET", "query_string": b"", "client": None}
    recorder._wall_ns += 3_600 * 10**9  # as if the wall clock had since been set back an hour
    before = time.time_ns() // 1000
    started = time.perf_counter_ns()
    recorder.record(_PROJECT, started, 1, RequestTiming(), scope, {}, "/t", ApiResponse(200))
    recorder.record(
        _PROJECT, started - 5_000_000, 1, RequestTiming(), scope, {}, "/t", ApiResponse(200)
    )
    after = time.time_ns() // 1000
    first, second = recorder.take(10)
    assert before <= first[1] <= after  # the stale offset was replaced by the first entry
    assert first[1] - second[1] == 5_000  # the second: 5 ms earlier, by the same offset


def test_entries_hold_plain_values_and_rows_decode_to_events() -> None:
    recorder = RequestRecorder(capacity=10)
    headers = {"authorization": "Bearer secret", "user-agent": "ua"}
    scope = {"method": "GET", "query_string": b"email=eq.bob%40x.io&select=id", "client": ("203.0.113.7", 1)}  # fmt: skip
    response = ApiResponse(200, b"[1]", [(b"content-range", b"0-0/*")])
    timing = RequestTiming()
    timing.db_ns, timing.queue_ns = 500_000, 30_000
    request_id = recorder.record(
        _PROJECT, 1_000, 2_500_000, timing, scope, headers, "/orders", response
    )
    recorder.record(
        _PROJECT, 1_000, 1_000, RequestTiming(), scope, {"apikey": "nope"}, "/", response
    )
    entries = recorder.take(10)
    for entry in entries:
        assert all(isinstance(v, str | int | bytes) for v in entry)
        assert b"secret" not in repr(entry).encode()
        assert "203.0.113.7" not in entry
    body = encode_rows(entry_rows(entries))
    for private in (b"secret", b"bob", b"203.0.113.7"):  # credential, filter value, address
        assert private not in body
    first, second = decode_batch(body)
    assert (first.event_id, first.request_id, first.target, first.path) == (request_id, request_id, "orders", "/orders")  # fmt: skip
    assert (first.query_shape, first.client_ip) == ("email=eq.?&select=id", "203.0.113.0")
    assert (first.rows, first.db_us, first.duration_us, first.response_bytes) == (1, 500, 2500, 3)
    assert (first.queue_us, second.queue_us, second.db_us) == (30, 0, 0)
    assert (first.key_id, first.role, first.user_agent) == ("k1", "anon", "ua")
    assert (second.key_id, second.target, second.path) == ("invalid", "", "/")


def test_the_pipelines_key_is_logged_and_entries_messages_need_trust() -> None:
    """A request the pipeline authenticated is logged with the key it noted (no second
    verification); an entries message decodes like JSON rows, but only when trusted."""
    recorder = RequestRecorder(capacity=10)
    scope = {"method": "GET", "query_string": b"id=eq.7", "client": None}
    timing = RequestTiming()
    timing.key_id, timing.role = "k9", "web_user"
    response = ApiResponse(404, b'{"code":"PGRST205","message":"m"}', [])
    recorder.record(_PROJECT, 5, 1_000, timing, scope, {}, "/x", response)
    entries = recorder.take(10)
    body = encode_entries(entries)
    assert count_events(body) is None
    assert count_events(body, trusted=True) == 1
    with pytest.raises(ValueError, match="from outside"):
        decode_batch(body)
    (event,) = decode_batch(body, trusted=True)
    assert event == decode_batch(encode_rows(entry_rows(entries)))[0]
    assert (event.key_id, event.role, event.error_code, event.query_shape) == ("k9", "web_user", "PGRST205", "id=eq.?")  # fmt: skip
    assert event.client_ip == ""


def test_entry_columns_are_the_rows_events_transposed() -> None:
    """The chDB child's columnar derivation gives exactly the values of the row path."""
    recorder = RequestRecorder(capacity=10)
    cases = [
        (200, b"[1]", [(b"content-range", b"0-9/*")], "/orders", b"id=gt.5&select=id"),
        (404, b'{"code":"PGRST205"}', [], "", b""),
        (206, b"[]", [(b"content-range", b"*/0")], "/rpc/f", b"q=%E2%82%AC&limit=2"),
    ]
    for status, body, headers, path, query in cases:
        scope = {"method": "GET", "query_string": query, "client": ("2001:db8::1", 1)}
        timing = RequestTiming()
        timing.db_ns, timing.queue_ns = 1_234_567, 89_999
        recorder.record(_PROJECT, 7, 5_500_000, timing, scope,
                        {"user-agent": "u" * 600}, path, ApiResponse(status, body, headers))  # fmt: skip
    entries = recorder.take(10)
    rows = [event_values(row) for row in entry_rows(entries)]
    assert entry_columns(entries) == [list(column) for column in zip(*rows, strict=True)]
    assert entry_columns([]) == [[] for _ in rows[0]]


def test_request_ids_are_unique_in_order_and_sent_back_as_x_request_id() -> None:
    """Ids come in blocks (``_issue``): they stay unique and ascending across a block's
    end, each is also the response's ``X-Request-Id``, and a client's own id is kept
    only when it is a safe header value (ASCII, printable, at most 128 characters)."""
    recorder = RequestRecorder(capacity=1)  # full after one: ids are still given
    scope = {"method": "GET", "query_string": b"", "client": None}
    seen = []
    for _ in range(2_100):
        response = ApiResponse(200, b"[]", [])
        request_id = recorder.record(_PROJECT, 1, 1, RequestTiming(), scope, {}, "/t", response)
        assert response.headers == [(b"x-request-id", request_id.encode())]
        seen.append(request_id)
    assert len(set(seen)) == len(seen) == 2_100
    assert seen == sorted(seen)
    assert len({len(i) for i in seen}) == 1
    assert recorder.dropped == 2_099
    for given, kept in (("trace-42", True), ("a\tb", False), ("é", False), ("x" * 129, False)):
        response = ApiResponse(200, b"[]", [])
        request_id = recorder.record(
            _PROJECT, 1, 1, RequestTiming(), scope, {"x-request-id": given}, "/t", response
        )
        assert (request_id == given) is kept
        assert response.headers == [(b"x-request-id", request_id.encode("latin-1"))]
        assert request_id not in seen
