"""The ASGI application: routes the data API on a fast path, everything else to Starlette.

Data API requests (``/p/{project_id}/rest/v1/...``) are the hot path: they are
dispatched here by prefix, without a router or middleware stack, straight into
``dataplane.pipeline``. Docs, health checks and (later) the dashboard and management
API are ordinary Starlette routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter_ns, time_ns
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from dbify import __version__
from dbify.analytics.recorder import RequestRecorder
from dbify.backends.ratelimit import RequestLimiter
from dbify.dashboard import dashboard_routes
from dbify.dataplane.changes import ChangeSink
from dbify.dataplane.cors import ANY_ORIGIN, CorsPolicy, cors_headers, preflight_headers
from dbify.dataplane.openapi import openapi_json
from dbify.dataplane.pipeline import RawRequest, handle_data_request
from dbify.dataplane.project import ProjectDirectory
from dbify.dataplane.respond import JSON_CONTENT_TYPE, ApiResponse, respond_error
from dbify.dataplane.stale import signals_stale_schema
from dbify.dataplane.timing import RequestTiming
from dbify.docs import asset, docs_page
from dbify.errors import Codes, DbifyError
from dbify.metrics import CONTENT_TYPE as METRICS_TYPE
from dbify.metrics import Metrics
from dbify.search import SearchEngine, handle_search_request
from dbify.tracing import UNTRACED_PATHS, Tracing, now_ns
from dbify.unexpected import INTERNAL_ERROR, log_unexpected

if TYPE_CHECKING:
    from dbify.control.saved_queries.endpoint import SavedQueryEndpoint

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_REST_PREFIX = "rest/v1"
# Saved queries: /rest/v1/q/{name} (two segments: a table named `q` stays at /q);
# /queries/v1/{name} is the older alias, kept for existing clients.
_SAVED_PREFIX = "rest/v1/q/"
_QUERIES_PREFIX = "queries/v1/"
_SEARCH_PREFIX = "search/v1/"


class DbifyApp:
    """The whole HTTP surface of one Dbify process."""

    def __init__(
        self,
        directory: ProjectDirectory,
        *,
        public_url: str,
        max_body_bytes: int,
        management: ASGIApp | None = None,
    ) -> None:
        self.directory = directory
        self.public_url = public_url.rstrip("/")
        self.max_body_bytes = max_body_bytes
        # Rate limits (backends/ratelimit): set by `dbify serve`; None: no limits.
        self.limiter: RequestLimiter | None = None
        # Request logging (issue 6): set by `dbify serve`; None turns it off entirely.
        self.recorder: RequestRecorder | None = None
        # Search (issue 9): set by `dbify serve`; None: /p/{id}/search/v1 answers 404.
        self.search: SearchEngine | None = None
        self.search_max_candidates = 1000
        # Row changes for webhooks (issue 10): set by `dbify serve`; None: not told.
        self.changes: ChangeSink | None = None
        # Prometheus metrics (/metrics): set by `dbify serve`; None: not counted.
        self.metrics: Metrics | None = None
        # OpenTelemetry spans (tracing.py): set by `dbify serve` when enabled; None: off.
        self.tracing: Tracing | None = None
        # Shared dependencies /readyz checks (metadata store, Redis...): name -> check.
        # When set, /readyz checks only these and never opens projects' pools.
        self.readiness: dict[str, Callable[[], Awaitable[bool]]] = {}
        # Saved queries (issue 10): set by `dbify serve`; None: /p/{id}/queries/v1 is 404.
        self.saved_queries: SavedQueryEndpoint | None = None
        # Schema watch (issue 7): told the project id when a data API error suggests a
        # stale snapshot (dataplane/stale.py); must return at once. None: not told.
        self.on_stale_schema: Callable[[str], None] | None = None
        self._starlette = Starlette(
            exception_handlers={Exception: _internal_error},
            routes=[
                # The dashboard needs the management API; without it, a landing page.
                *(dashboard_routes() if management is not None else [Route("/", self._landing)]),
                Route("/healthz", self._healthz),
                Route("/readyz", self._readyz),
                Route("/metrics", self._metrics),
                Route("/p/{project_id}/docs", self._docs),
                Route("/p/{project_id}/docs/openapi.json", self._docs_openapi),
                Route("/docs-assets/{name}", self._docs_asset),
                # The management API (control/app.py): /api/v1/..., docs at /api/docs.
                *([Mount("/api", app=management)] if management is not None else []),
            ],
        )

    def rest_url(self, project_id: str) -> str:
        return self.rest_url_of(self.public_url, project_id)

    @staticmethod
    def rest_url_of(public_url: str, project_id: str) -> str:
        return f"{public_url}/p/{project_id}/{_REST_PREFIX}"

    def data_api_project(self, path: str) -> str | None:
        """The project id when ``path`` is the data API (``/p/{id}/rest/v1...``) and no
        saved query (``/p/{id}/rest/v1/q/{name}``) claims it; else None."""
        if not path.startswith("/p/"):
            return None
        project_id, _, rest = path[3:].partition("/")
        if rest != _REST_PREFIX and not rest.startswith(_REST_PREFIX + "/"):
            return None
        if rest.startswith(_SAVED_PREFIX) and self.saved_queries is not None:
            name = rest[len(_SAVED_PREFIX) :]
            if name and "/" not in name:
                return None
        return project_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every request but the data API's on Dbify's own protocol (which calls
        ``data_response`` directly). A bug is logged as one line (``unexpected.py``),
        not as the stack trace the ASGI server would log, and answered with the
        catalogue's JSON 500 when nothing was sent yet."""
        if scope["type"] != "http":
            await self._route(scope, receive, send)
            return
        started = False
        status = 500  # what the client gets if the route fails before it answers
        tracing = self.tracing
        traced = (
            tracing is not None
            and scope["path"] not in UNTRACED_PATHS
            and self.data_api_project(scope["path"]) is None  # data_response traces those
        )
        began = now_ns() if traced else (0, 0)

        async def tracked(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
            await send(message)

        try:
            await self._route(scope, receive, tracked)
        except Exception as exc:
            log_unexpected(f"{scope['method']} {scope['path']} failed", exc)
            if not started:
                await _send(send, respond_error(INTERNAL_ERROR))
        finally:
            if traced and tracing is not None:
                tracing.http_request(scope, status, *began)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/p/"):
                project_id, _, rest = path[3:].partition("/")
                if self.data_api_project(path) is not None:
                    await _send(send, await self.data_response(project_id, scope, receive))
                    return
                if rest.startswith(_SAVED_PREFIX) and self.saved_queries is not None:
                    # a well-formed name: data_api_project left the path to saved queries
                    await self._saved_query(project_id, rest[len(_SAVED_PREFIX) :], scope, send)
                    return
                if rest.startswith(_QUERIES_PREFIX) and self.saved_queries is not None:
                    name = rest[len(_QUERIES_PREFIX) :]
                    await self._saved_query(project_id, name, scope, send)
                    return
                if rest.startswith(_SEARCH_PREFIX) and self.search is not None:
                    await self._search_api(project_id, rest[len(_SEARCH_PREFIX) - 1 :], scope, send)
                    return
        await self._starlette(scope, receive, send)

    async def data_response(self, project_id: str, scope: Scope, receive: Receive) -> ApiResponse:
        """The answer to one data API request, CORS headers included (not yet the
        content length). ``JsonErrorsHttpToolsProtocol`` calls this directly, without the
        ASGI layer; ``__call__`` for any other ASGI server."""
        method: str = scope["method"]
        project = self.directory.get(project_id)
        if project is None:
            error = DbifyError(Codes.PROJECT_NOT_FOUND, f"Project '{project_id}' not found")
            if method == "OPTIONS":
                return ApiResponse(200, b"", preflight_headers(ANY_ORIGIN, {}))
            return _with_cors(respond_error(error), ANY_ORIGIN, None)
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = key.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[name] = f"{headers[name]}, {text}" if name in headers else text
        cors, origin = project.cors, headers.get("origin")
        if method == "OPTIONS":
            return ApiResponse(200, b"", preflight_headers(cors, headers))
        if self.limiter is not None:
            client = scope.get("client")
            refused = await self.limiter.check(project, client[0] if client else None, headers)
            if refused is not None:
                error = DbifyError(Codes.RATE_LIMITED, "Too many requests", hint="Retry later.")
                limited = respond_error(error)
                limited.headers.extend(refused)
                return _with_cors(limited, cors, origin)
        body: bytes | None = None
        if method not in ("GET", "HEAD"):
            try:
                body = await _read_body(receive, project.settings.max_body_bytes)
            except DbifyError as error:
                return _with_cors(respond_error(error), cors, origin)
        raw_path: bytes | None = scope.get("raw_path")
        full_path = raw_path.decode("latin-1") if raw_path else scope["path"]
        data_path = (
            full_path.split("/" + _REST_PREFIX, 1)[1] if "/" + _REST_PREFIX in full_path else ""
        )
        request = RawRequest(
            method=method,
            path=data_path,
            query_string=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            rest_url=self.rest_url(project_id),
        )
        recorder, metrics, tracing = self.recorder, self.metrics, self.tracing
        if recorder is None and tracing is None:
            started = perf_counter_ns() if metrics is not None else 0
            response = await handle_data_request(project, request, self.changes)
            elapsed = perf_counter_ns() - started
        else:
            # Hot path: clock reads and a list append; the publisher does the rest. The
            # timing collects the pool wait and database time (execute._connection).
            timing = RequestTiming()
            wall_ns = 0  # the recorder derives the wall clock from ``started``
            if tracing is not None:
                timing.uses = []
                wall_ns = time_ns()
            started = perf_counter_ns()
            response = await handle_data_request(project, request, self.changes, timing)
            elapsed = perf_counter_ns() - started
            request_id: str | None
            if recorder is not None:
                request_id = recorder.record(
                    project, started, elapsed, timing, scope, headers, data_path, response
                )
            else:
                request_id = headers.get("x-request-id")
            if tracing is not None:
                tracing.data_request(
                    project_id=project.id, scope=scope, headers=headers, data_path=data_path,
                    status=response.status, body=response.body, timing=timing,
                    request_id=request_id, started_wall_ns=wall_ns, started_ns=started,
                    elapsed_ns=elapsed,
                )  # fmt: skip
        if (
            data_path in ("", "/")
            and method == "GET"
            and response.status == 200
            and self.saved_queries
        ):
            # The root's OpenAPI document: saved queries live in the metadata store.
            body = await self.saved_queries.document(project.id, response.body)
            response = ApiResponse(response.status, body, response.headers)
        if metrics is not None:
            metrics.observe_request(project.id, method, response.status, elapsed / 1e9)
        stale = self.on_stale_schema
        if stale is not None and response.status >= 400 and signals_stale_schema(response):
            stale(project_id)
        return _with_cors(response, cors, origin)

    async def _search_api(self, project_id: str, path: str, scope: Scope, send: Send) -> None:
        """``GET /p/{id}/search/v1/{table}``: dbify.search.endpoint (same keys, same rows)."""
        project = self.directory.get(project_id)
        if scope["method"] not in ("GET", "HEAD") or project is None or self.search is None:
            error = DbifyError(Codes.PROJECT_NOT_FOUND, f"Project '{project_id}' not found")
            if project is not None:
                error = DbifyError(Codes.METHOD_NOT_ALLOWED, "Search answers GET only")
            await _send(send, _with_cors(respond_error(error), ANY_ORIGIN, None))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = RawRequest("GET", path, scope["query_string"].decode("latin-1"), headers,
                             None, self.rest_url(project_id))  # fmt: skip
        response = await handle_search_request(
            project, self.search, request, max_candidates=self.search_max_candidates
        )
        await _send(send, _with_cors(response, project.cors, headers.get("origin")))

    async def _saved_query(self, project_id: str, name: str, scope: Scope, send: Send) -> None:
        """``GET /p/{id}/rest/v1/q/{name}``: control/saved_queries/endpoint.py."""
        project = self.directory.get(project_id)
        if project is None or self.saved_queries is None:
            error = DbifyError(Codes.PROJECT_NOT_FOUND, f"Project '{project_id}' not found")
            await _send(send, _with_cors(respond_error(error), ANY_ORIGIN, None))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] == "OPTIONS":
            await _send(send, ApiResponse(200, b"", preflight_headers(project.cors, headers)))
            return
        if self.limiter is not None:
            client = scope.get("client")
            refused = await self.limiter.check(project, client[0] if client else None, headers)
            if refused is not None:
                error = DbifyError(Codes.RATE_LIMITED, "Too many requests", hint="Retry later.")
                limited = respond_error(error)
                limited.headers.extend(refused)
                await _send(send, _with_cors(limited, project.cors, headers.get("origin")))
                return
        request = RawRequest(scope["method"], name, scope["query_string"].decode("latin-1"),
                             headers, None, self.rest_url(project_id))  # fmt: skip
        response = await self.saved_queries.handle(project, name, request)
        await _send(send, _with_cors(response, project.cors, headers.get("origin")))

    async def _landing(self, request: Request) -> Response:
        links = "".join(
            f'<li><code>{p.id}</code> {p.name}: <a href="{self.rest_url(p.id)}">REST</a> · '
            f'<a href="/p/{p.id}/docs">API docs</a></li>'
            for p in self.directory.all()
        )
        return HTMLResponse(f"<!doctype html><title>Dbify</title><h1>Dbify</h1><ul>{links}</ul>")

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _metrics(self, request: Request) -> Response:
        if self.metrics is None:
            return JSONResponse({"message": "Metrics are off"}, 404)
        return Response(self.metrics.exposition(), headers={"content-type": METRICS_TYPE})

    async def _readyz(self, request: Request) -> Response:
        if self.readiness:
            return await _dependencies_ready(self.readiness)
        problems: dict[str, str] = {}
        for project in self.directory.all():
            try:
                async with project.pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1")
            except Exception:
                problems[project.id] = "database unreachable"
        status = 200 if not problems else 503
        return JSONResponse(
            {"status": "ok" if not problems else "unavailable", "projects": problems}, status
        )

    async def _docs(self, request: Request) -> Response:
        project = self.directory.get(request.path_params["project_id"])
        if project is None:
            return JSONResponse({"message": "Project not found"}, 404)
        page = docs_page(
            openapi_url=f"/p/{project.id}/docs/openapi.json",
            assets_url="/docs-assets",
            title=f"{project.name} API",
        )
        return HTMLResponse(page)

    async def _docs_openapi(self, request: Request) -> Response:
        project = self.directory.get(request.path_params["project_id"])
        if project is None:
            return JSONResponse({"message": "Project not found"}, 404)
        body = openapi_json(
            project.snapshot,
            rest_url=self.rest_url(project.id),
            title=project.name,
            version=__version__,
        )
        if self.saved_queries is not None:
            body = await self.saved_queries.document(project.id, body)
        return Response(body, media_type="application/json")

    async def _docs_asset(self, request: Request) -> Response:
        found = asset(request.path_params["name"])
        if found is None:
            return JSONResponse({"message": "Not found"}, 404)
        content, content_type = found
        return Response(
            content, media_type=content_type, headers={"cache-control": "public, max-age=86400"}
        )


async def _dependencies_ready(checks: dict[str, Callable[[], Awaitable[bool]]]) -> Response:
    """Run every check (2 s each, concurrently); 503 when one fails."""

    async def run(check: Callable[[], Awaitable[bool]]) -> str:
        try:
            return "ok" if await asyncio.wait_for(check(), 2) else "unavailable"
        except Exception:  # a failing dependency is a readiness answer, not an error
            return "unavailable"

    names = list(checks)
    results = await asyncio.gather(*(run(checks[n]) for n in names))
    report = dict(zip(names, results, strict=True))
    ready = all(r == "ok" for r in results)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "dependencies": report}, 200 if ready else 503
    )


def _with_cors(response: ApiResponse, policy: CorsPolicy, origin: str | None) -> ApiResponse:
    response.headers.extend(cors_headers(policy, origin))
    return response


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise DbifyError(
                Codes.PAYLOAD_TOO_LARGE,
                f"Request body exceeds the limit of {limit} bytes",
            )
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Starlette's answer to a bug, then raised again to ``DbifyApp.__call__``, which
    logs it."""
    error = respond_error(INTERNAL_ERROR)
    return Response(error.body, error.status, headers={"content-type": JSON_CONTENT_TYPE.decode()})


async def _send(send: Send, response: ApiResponse) -> None:
    headers = response.headers
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
