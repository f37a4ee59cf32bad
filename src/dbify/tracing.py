"""Optional OpenTelemetry traces of the data API and of the HTTP endpoints around it.

Off by default, and then free: nothing of OpenTelemetry is imported and the request path
tests one attribute (``DbifyApp.tracing is None``). On (``tracing.enabled``; the ``otel``
extra), every data API request becomes a SERVER span, joined to the caller's trace when
the request carries W3C ``traceparent``/``tracestate``, with two children per pooled
connection the request held: ``pool.acquire`` (waiting for a connection) and a CLIENT
span for the statement (``db.system.name`` ``postgresql``, the table, the operation and,
unless ``record_sql`` is off, the SQL text). Management API and dashboard requests get a
SERVER span each; probes (``/healthz``, ``/readyz``, ``/metrics``) none.

What a span never holds: a credential (the key's id and role instead), a filter value
(the query's shape, as request logs keep it: ``id=eq.?``) or a bound value (the SQL has
``$n`` placeholders; values are bind parameters). The client address is anonymised as
request logs anonymise it (``analytics.ip_anonymisation``).

The spans are made after the response is built, from the clock readings the request
took anyway (``RequestTiming``; its ``uses`` list is filled only while tracing is on): no
span context travels through the pipeline's stages, and a request the sampler drops
costs its decision only. The SDK's ``BatchSpanProcessor`` exports in its own thread
(OTLP over HTTP, protobuf) to ``tracing.otlp_endpoint`` or to what the standard
``OTEL_EXPORTER_OTLP_*`` variables say; ``shutdown`` flushes it (graceful shutdown).
Tracing never fails a request: an error while building spans is logged once per kind
(``unexpected.py``'s one line) and the request is answered as if tracing were off.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from time import perf_counter_ns, time_ns
from typing import TYPE_CHECKING, Any, ParamSpec

from dbify.analytics.event import (
    IpAnonymisation,
    anonymise_ip,
    error_code_of,
    shape_of_query,
    target_of_path,
)
from dbify.dataplane.timing import RequestTiming
from dbify.settings import TracingSettings
from dbify.unexpected import describe_unexpected, log_unexpected

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

__all__ = ["UNTRACED_PATHS", "Tracing", "TracingUnavailable", "start_tracing"]

# Probes and scrapes: every few seconds from every orchestrator, nothing to learn.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# The SQL a data API method runs (PostgREST's mapping); rpc/ paths call a function.
_OPERATIONS = {
    "GET": "SELECT",
    "HEAD": "SELECT",
    "POST": "INSERT",
    "PUT": "UPSERT",
    "PATCH": "UPDATE",
    "DELETE": "DELETE",
}
_SQL_LIMIT = 4096  # characters of SQL kept in a span (an embed can build long statements)


_P = ParamSpec("_P")
_reported: set[str] = set()


def _never_raises(method: Callable[_P, None]) -> Callable[_P, None]:
    """Spans are a side show: a failure to build one is logged (once per kind), never
    passed on to the request that was being traced."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception as exc:
            kind = describe_unexpected(exc)
            if kind not in _reported:
                _reported.add(kind)
                log_unexpected("tracing a request failed (logged once)", exc)

    return guarded


class TracingUnavailable(RuntimeError):
    """Tracing is enabled but OpenTelemetry's SDK is not installed."""


def start_tracing(
    settings: TracingSettings, *, ip_anonymisation: IpAnonymisation = "truncate", salt: str = ""
) -> Tracing | None:
    """A running ``Tracing`` when ``settings.enabled``, else None (nothing imported)."""
    if not settings.enabled:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as error:
        raise TracingUnavailable(
            "tracing.enabled needs OpenTelemetry's SDK: pip install 'dbify[otel]'"
        ) from error
    from dbify import __version__

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        ),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)  # None: the OTEL_* variables
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider, settings, ip_anonymisation, salt)


class Tracing:
    """Turns finished requests into spans (see the module's docstring)."""

    def __init__(
        self,
        provider: TracerProvider,
        settings: TracingSettings,
        ip_anonymisation: IpAnonymisation,
        salt: str,
    ) -> None:
        from opentelemetry import propagate, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._provider = provider
        self._tracer: Tracer = provider.get_tracer("dbify")
        self._record_sql = settings.record_sql
        self._ip_anonymisation: IpAnonymisation = ip_anonymisation
        self._salt = salt
        self._extract = propagate.extract
        self._in_span = trace.set_span_in_context
        self._server, self._client, self._internal = (
            SpanKind.SERVER,
            SpanKind.CLIENT,
            SpanKind.INTERNAL,
        )
        self._error = Status(StatusCode.ERROR)

    @_never_raises
    def data_request(
        self,
        *,
        project_id: str,
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        data_path: str,
        status: int,
        body: bytes,
        timing: RequestTiming,
        request_id: str | None,
        started_wall_ns: int,
        started_ns: int,
        elapsed_ns: int,
    ) -> None:
        """The spans of one data API request that took ``elapsed_ns`` from ``started_ns``
        (``perf_counter_ns``; ``started_wall_ns`` is the same instant on the wall clock)."""
        method: str = scope["method"]
        target = target_of_path(data_path)
        route = f"/p/{{project_id}}/rest/v1/{target}" if target else "/p/{project_id}/rest/v1/"
        span = self._tracer.start_span(
            f"{method} {route}",
            context=self._extract(headers),
            kind=self._server,
            start_time=started_wall_ns,
        )
        if not span.is_recording():  # sampled out: nothing else to build
            return
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "http.route": route,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "http.response.status_code": status,
            "dbify.project_id": project_id,
        }
        query = scope["query_string"]
        if query:
            attributes["dbify.query_shape"] = shape_of_query(query.decode("latin-1"))
        if timing.key_id:
            attributes["dbify.key_id"] = timing.key_id
        if timing.role:
            attributes["dbify.role"] = timing.role
        if request_id:
            attributes["dbify.request_id"] = request_id
        if status >= 400:
            code = error_code_of(body)
            attributes["error.type"] = code or str(status)
        self._add_client(attributes, scope, headers)
        span.set_attributes(attributes)
        if status >= 500:
            span.set_status(self._error)
        uses = timing.uses or ()
        if uses:
            parent = self._in_span(span)
            operation = "CALL" if target.startswith("rpc/") else _OPERATIONS.get(method, method)
            table = target[4:] if target.startswith("rpc/") else target
            name = f"{operation} {table}" if table else operation
            wall = started_wall_ns - started_ns  # perf_counter_ns -> wall-clock ns
            for use in uses:
                waited = self._tracer.start_span(
                    "pool.acquire",
                    context=parent,
                    kind=self._internal,
                    attributes={"db.client.connection.pool.name": project_id},
                    start_time=wall + use.asked_ns,
                )
                waited.end(wall + use.acquired_ns)
                db: dict[str, Any] = {
                    "db.system.name": "postgresql",
                    "db.operation.name": operation,
                }
                if table:
                    db["db.collection.name"] = table
                if use.sql and self._record_sql:
                    db["db.query.text"] = use.sql[:_SQL_LIMIT]
                statement = self._tracer.start_span(
                    name, context=parent, kind=self._client, attributes=db,
                    start_time=wall + use.acquired_ns,
                )  # fmt: skip
                statement.end(wall + use.released_ns)
        span.end(started_wall_ns + elapsed_ns)

    @_never_raises
    def http_request(
        self,
        scope: Mapping[str, Any],
        status: int,
        started_wall_ns: int,
        started_ns: int,
    ) -> None:
        """The span of one request served through the ASGI door (management API,
        dashboard, docs), ended now. ``http.route`` is the matched route's template, so
        IDs in paths do not multiply span names."""
        method: str = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        route = _route_of(scope)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "http.response.status_code": status,
        }
        if route:
            attributes["http.route"] = route
        self._add_client(attributes, scope, headers)
        span = self._tracer.start_span(
            f"{method} {route}" if route else method,
            context=self._extract(headers),
            kind=self._server,
            attributes=attributes,
            start_time=started_wall_ns,
        )
        if status >= 500:
            span.set_status(self._error)
        span.end(started_wall_ns + perf_counter_ns() - started_ns)

    def _add_client(
        self, attributes: dict[str, Any], scope: Mapping[str, Any], headers: Mapping[str, str]
    ) -> None:
        client = scope.get("client")
        if client:
            address = anonymise_ip(client[0], self._ip_anonymisation, self._salt)
            if address:
                attributes["client.address"] = address
        agent = headers.get("user-agent")
        if agent:
            attributes["user_agent.original"] = agent[:512]

    def shutdown(self) -> None:
        """Export what is pending and stop the exporter thread (blocks; graceful shutdown)."""
        self._provider.shutdown()


def _route_of(scope: Mapping[str, Any]) -> str | None:
    """The path with each segment a matched route parameter filled replaced by the
    parameter's name (``/api/v1/projects/{project_id}``); None when no route matched.
    Read back from the parameters because mounted apps each see only their part of the
    route's template."""
    if "route" not in scope and "endpoint" not in scope:
        return None
    names = {str(value): name for name, value in scope.get("path_params", {}).items()}
    path: str = scope["path"]
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in path.split("/"))


def now_ns() -> tuple[int, int]:
    """(wall-clock ns, ``perf_counter_ns``) of one instant: where a traced request starts."""
    return time_ns(), perf_counter_ns()
