"""OpenTelemetry traces (``tracing.py``): what a real ``dbify serve`` exports over OTLP/HTTP.

The collector is a real HTTP server in this process that decodes what arrives with
OpenTelemetry's own protobuf classes (``opentelemetry-proto``), as a collector would. The
server runs with a 100 ms export delay so spans arrive within a second. Sampling is
checked in-process against the SDK's in-memory exporter.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from dbify.dataplane.timing import ConnectionUse, RequestTiming
from dbify.settings import TracingSettings
from dbify.tracing import Tracing, start_tracing
from tests.fixtures.server import RunningServer, start_server, stop_server


@dataclass
class Collector:
    """Spans received at /v1/traces, with the raw bytes of every export."""

    url: str = ""
    spans: list[Span] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def trace(self, trace_id: bytes, count: int, within: float = 10.0) -> list[Span]:
        deadline = time.monotonic() + within
        while True:
            with self.lock:
                found = [s for s in self.spans if s.trace_id == trace_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def names(self) -> list[str]:
        with self.lock:
            return [s.name for s in self.spans]


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    received = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            request = ExportTraceServiceRequest.FromString(body)
            with received.lock:
                received.raw.append(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        received.spans.extend(scope.spans)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def traced(fixture_database_url: str, collector: Collector) -> Iterator[RunningServer]:
    env = {
        "DBIFY_TRACING__ENABLED": "true",
        "DBIFY_TRACING__OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    server = start_server(fixture_database_url, env=env)
    yield server
    stop_server(server)


def _traceparent() -> tuple[str, bytes, bytes]:
    trace_id, parent_id = secrets.token_bytes(16), secrets.token_bytes(8)
    return f"00-{trace_id.hex()}-{parent_id.hex()}-01", trace_id, parent_id


def _attributes(span: Span) -> dict[str, object]:
    found: dict[str, object] = {}
    for item in span.attributes:
        value = item.value
        found[item.key] = getattr(value, value.WhichOneof("value") or "string_value")
    return found


def test_a_data_api_read_is_a_server_span_with_its_database_spans(
    traced: RunningServer, collector: Collector
) -> None:
    header, trace_id, parent_id = _traceparent()
    response = httpx.get(
        f"{traced.rest_url}/books?id=eq.987654&select=id,title",
        headers={"apikey": traced.service_key, "traceparent": header, "user-agent": "t/1"},
    )
    assert response.status_code == 200, response.text
    spans = collector.trace(trace_id, 3)
    server = next(s for s in spans if s.kind == Span.SPAN_KIND_SERVER)
    assert server.name == "GET /p/{project_id}/rest/v1/books"
    assert server.parent_span_id == parent_id  # joined the caller's trace
    attributes = _attributes(server)
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.route"] == "/p/{project_id}/rest/v1/books"
    assert attributes["dbify.project_id"] == traced.id
    assert attributes["dbify.query_shape"] == "id=eq.?&select=id,title"
    assert attributes["dbify.role"] == "service"
    assert attributes["client.address"] == "127.0.0.0"  # anonymised as request logs are
    assert attributes["user_agent.original"] == "t/1"
    assert attributes["dbify.request_id"] == response.headers["x-request-id"]

    children = [s for s in spans if s.parent_span_id == server.span_id]
    assert sorted(s.name for s in children) == ["SELECT books", "pool.acquire"]
    statement = next(s for s in children if s.name == "SELECT books")
    assert statement.kind == Span.SPAN_KIND_CLIENT
    db = _attributes(statement)
    assert db["db.system.name"] == "postgresql"
    assert db["db.collection.name"] == "books"
    assert "$1" in str(db["db.query.text"])
    assert "books" in str(db["db.query.text"])
    for child in children:  # inside the request, in order
        assert server.start_time_unix_nano <= child.start_time_unix_nano
        assert child.start_time_unix_nano <= child.end_time_unix_nano
        assert child.end_time_unix_nano <= server.end_time_unix_nano

    # Neither the filter value nor the key reach the collector, in any span.
    exported = b"".join(collector.raw)
    assert b"987654" not in exported
    assert traced.service_key.encode() not in exported


def test_an_error_names_its_code_and_a_request_without_traceparent_starts_a_trace(
    traced: RunningServer, collector: Collector
) -> None:
    response = httpx.get(f"{traced.rest_url}/no_such_table", headers={"apikey": traced.anon_key})
    assert response.status_code == 404
    code = response.json()["code"]
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 10
    found: list[Span] = []
    while not found and time.monotonic() < deadline:
        with collector.lock:
            found = [
                s for s in collector.spans
                if _attributes(s).get("dbify.request_id") == request_id
            ]  # fmt: skip
        time.sleep(0.05)
    (server,) = found
    assert server.parent_span_id == b""  # a new trace
    attributes = _attributes(server)
    assert attributes["http.response.status_code"] == 404
    assert attributes["error.type"] == code
    assert attributes["dbify.role"] == "anon"
    assert server.status.code != server.status.STATUS_CODE_ERROR  # a 4xx is the caller's


def test_management_requests_are_traced_by_route_and_probes_are_not(
    traced: RunningServer, collector: Collector
) -> None:
    header, trace_id, _ = _traceparent()
    assert httpx.get(f"{traced.base_url}/healthz", headers={"traceparent": header}).is_success
    response = httpx.get(
        f"{traced.base_url}/api/v1/projects/{traced.id}", headers={"traceparent": header}
    )
    assert response.status_code == 401
    (span,) = collector.trace(trace_id, 1)
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.name == "GET /api/v1/projects/{project_id}"  # the route, not the ID
    assert _attributes(span)["http.response.status_code"] == 401
    time.sleep(0.5)  # a /healthz span, had there been one, was exported with it
    assert len(collector.trace(trace_id, 2, within=0.1)) == 1


def test_tracing_is_off_unless_enabled() -> None:
    assert start_tracing(TracingSettings()) is None


def _in_memory(ratio: float) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider, TracingSettings(record_sql=False), "truncate", ""), exporter


def _one_read(tracing: Tracing, headers: dict[str, str]) -> None:
    timing = RequestTiming()
    timing.uses = [ConnectionUse(1_000, 2_000, 9_000, "SELECT 1 FROM books WHERE id = $1")]
    scope = {"method": "GET", "path": "/p/x/rest/v1/books", "query_string": b"id=eq.1",
             "client": ("10.1.2.3", 5000)}  # fmt: skip
    tracing.data_request(
        project_id="x", scope=scope, headers=headers, data_path="/books", status=200,
        body=b"[]", timing=timing, request_id=None, started_wall_ns=10**18, started_ns=0,
        elapsed_ns=10_000,
    )  # fmt: skip


def test_sampling_follows_the_ratio_and_the_callers_decision() -> None:
    tracing, exporter = _in_memory(0.0)
    _one_read(tracing, {})
    assert exporter.get_finished_spans() == ()  # dropped: no children built either
    header, _, _ = _traceparent()  # the caller sampled it (flags 01)
    _one_read(tracing, {"traceparent": header})
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == ["GET /p/{project_id}/rest/v1/books",
                                             "SELECT books", "pool.acquire"]  # fmt: skip
    statement = next(s for s in spans if s.name == "SELECT books")
    assert statement.attributes is not None
    assert "db.query.text" not in statement.attributes  # record_sql off
    assert statement.start_time == 10**18 + 2_000
    assert statement.end_time == 10**18 + 9_000


def test_a_failure_to_trace_never_reaches_the_request(caplog: pytest.LogCaptureFixture) -> None:
    tracing, _ = _in_memory(1.0)
    timing = RequestTiming()
    broken = {"method": "GET", "query_string": b"id=eq.1"}  # no "path": building fails
    for _ in range(3):
        tracing.data_request(
            project_id="x", scope=broken, headers={}, data_path="/books", status=200,
            body=b"[]", timing=timing, request_id=None, started_wall_ns=10**18, started_ns=0,
            elapsed_ns=10_000,
        )  # fmt: skip
    lines = [r for r in caplog.records if r.name == "dbify.unexpected"]
    assert len(lines) == 1  # once per kind, not per request
    assert "KeyError" in lines[0].getMessage()
    assert "eq.1" not in lines[0].getMessage()
