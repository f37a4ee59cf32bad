"""uvicorn's httptools protocol, with Dbify's JSON errors for requests it cannot parse.

uvicorn answers a request it cannot parse itself, before any application code runs,
with ``400 text/plain``. Clients of a PostgREST-style API switch on a JSON error's
``code``, so this subclass answers those requests in the catalogue's JSON shape. One such
request is ordinary: a URL over 65,535 bytes (a huge ``in.(…)`` list, say), which
httptools' URL parser cannot represent (16-bit offsets); it gets ``414 URI Too Long``
(``DBIFY414``). Anything else malformed stays a 400 (``DBIFY400``).

It also writes each response with one system call instead of two: uvicorn writes the
status line and headers when the application sends ``http.response.start`` and the body
on ``http.response.body``, and uvloop sends each write to the socket at once. Profiled
under load, those two ``send`` calls were ~20 % of the serving thread's time on a
one-row read. The protocol's transport is wrapped in ``_CoalescingTransport``, which
collects the writes made in one event-loop iteration and hands them to the socket
together at the end of it (``loop.call_soon``): status line, headers and body leave as
one segment, and nothing waits longer than the current iteration. A data API response,
built in one piece (below), goes to the socket at once (``write_whole``); a body over
``_JOIN_LIMIT`` goes beside its head (``write_head_and_body``, one ``writev``) instead of
being copied behind it: joining a 1,000-row page (236 KB) cost a copy into a fresh
allocation per response.

Data API requests skip the ASGI layer. uvicorn still parses them and keeps each one's
``RequestResponseCycle`` (body, keep-alive, pipelining, disconnects, graceful shutdown
all stay uvicorn's), but instead of running the ASGI app (proxy-headers middleware,
``DbifyApp.__call__``, two ``send`` messages whose headers are re-validated one by one)
the task asks the application for the response (``DirectApp.data_response``) and writes
it in one piece with the bookkeeping ``RequestResponseCycle.send`` does. Measured
(``bench/cpu.py --base``, 5 rounds, one-row reads, logging off): 340 → 296 µs of server
CPU a request on a slow VM, req/s +14 %. Trusted ``X-Forwarded-*`` headers are applied by
the same proxy-headers middleware uvicorn configured, run on the scope alone.

The keep-alive timeout is kept with one timer per idle period, not one per response
(see ``on_response_complete``).

It overrides seven methods of ``HttpToolsProtocol`` (``connection_made``,
``connection_lost``, ``on_headers_complete``, ``_start_asgi_task``,
``on_response_complete``, ``_unset_keepalive_if_required`` and ``send_400_response``)
and relies on
``RequestResponseCycle``'s attributes, so ``pyproject.toml`` caps uvicorn at the minor
version tested; ``tests/test_http_direct.py`` (bytes on a real socket: keep-alive,
pipelining, HEAD, HTTP/1.0, chunked bodies, proxy headers, errors) and
``tests/compat/test_hostile_input.py`` fail if a release changes what they rely on.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Protocol

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import (
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from dbify.dataplane.respond import respond_error
from dbify.errors import Codes, DbifyError
from dbify.unexpected import INTERNAL_ERROR, log_unexpected

__all__ = ["MAX_URL_BYTES", "DirectApp", "DirectResponse", "JsonErrorsHttpToolsProtocol"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

MAX_URL_BYTES = 65_535  # http_parser_url's offsets and lengths are uint16
# Bodies up to this size are copied behind their head (one buffer, one send); larger
# ones are written beside it (no copy). Copying 16 KiB costs less than a second buffer.
_JOIN_LIMIT = 16_384
# Headers whose values Dbify builds itself, never from request text: constants (the
# content types), numbers (``Content-Range``) and request ids (generated, or the client's
# when ASCII and printable, checked by the request log). uvicorn's header-value check
# (a regular expression per value) is skipped for them: ~1 % of a one-row read.
_BUILT_VALUES = frozenset((b"content-type", b"content-range", b"x-request-id"))


class _UrlTooLong(Exception):
    """Raised from the parser's callback; httptools re-raises it as a parser error."""


class _CoalescingTransport:
    """A transport whose writes of one loop iteration reach the socket as one write.

    Everything but writing and closing is the real transport's (``__getattr__``); flow
    control still works, since the real transport reports to the protocol directly and
    its buffer size includes what is held here once flushed (at the latest at the end of
    the current iteration).
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def write_whole(self, data: bytes) -> None:
        """A response already in one piece: to the socket now, unless writes of this
        iteration are waiting (then after them, in order). Saves the ``call_soon`` a
        coalesced write costs."""
        if self._pending:
            self._pending.append(data)
        elif not self._transport.is_closing():
            self._transport.write(data)

    def write_head_and_body(self, head: bytes, body: bytes) -> None:
        """``write_whole`` of ``head + body`` without the copy: the transport hands both
        buffers to the socket together (uvloop: one ``writev``)."""
        if self._pending:
            self._pending += (head, body)
        elif not self._transport.is_closing():
            self._transport.writelines((head, body))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def is_closing(self) -> bool:  # every response asks: spare it __getattr__
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class DirectResponse(Protocol):
    """What a direct handler answers (``dataplane.respond.ApiResponse`` is one)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class DirectApp(Protocol):
    """An application that answers some requests without the ASGI layer (``DbifyApp``:
    the data API)."""

    def data_api_project(self, path: str) -> str | None: ...

    async def data_response(
        self, project_id: str, scope: Scope, receive: Receive
    ) -> DirectResponse: ...


async def _no_app(scope: Scope, receive: Any, send: Any) -> None:
    """The innermost app of the proxy-headers step: that step only rewrites the scope."""


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    _url_too_long = False
    _direct: DirectApp | None = None
    _proxy: ProxyHeadersMiddleware | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = _CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
        app: Any = self.app
        if isinstance(app, ProxyHeadersMiddleware):
            # The same trusted hosts, applied to the scope alone (see _serve_direct).
            self._proxy = copy.copy(app)
            self._proxy.app = _no_app  # type: ignore[assignment]
            app = app.app
        if hasattr(app, "data_api_project") and not self.config.reset_contextvars:
            self._direct = app

    # Keep-alive without a timer per response: uvicorn arms one (``call_later``) after
    # every response and cancels it on the next request's first bytes (~3 % of a
    # one-row read). Here the connection notes when it went idle; one timer at a time
    # checks that note when it fires and re-arms itself for whatever is left.
    _idle_since: float | None = None  # loop time of the last response; None: busy

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None  # busy: a timer already armed finds this and stands down

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self._keep_alive_due
            )

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return  # a request is in progress; its response arms the timer again
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_due)
        else:
            self.timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        direct = self._direct
        if direct is not None and app is self.app:  # not uvicorn's 503 when over its limit
            project_id = direct.data_api_project(cycle.scope["path"])
            if project_id is not None:
                task = self.loop.create_task(_serve_direct(cycle, direct, project_id, self._proxy))
                task.add_done_callback(self.tasks.discard)
                self.tasks.add(task)
                return
        super()._start_asgi_task(cycle, app)

    def on_headers_complete(self) -> None:
        if len(self.url) > MAX_URL_BYTES:
            self._url_too_long = True
            raise _UrlTooLong
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._url_too_long:
            error = DbifyError(
                Codes.URI_TOO_LONG,
                f"The request URL is longer than {MAX_URL_BYTES} bytes",
                hint="Send long filter lists in the body of a POST to an /rpc function, "
                "or split the request.",
            )
        else:
            error = DbifyError(Codes.MALFORMED_HTTP, "Invalid HTTP request received")
        body = error.to_json()
        status = f"HTTP/1.1 {error.status} {_REASONS[error.status]}\r\n".encode()
        head = [status]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()


_REASONS = {400: "Bad Request", 414: "URI Too Long"}


async def _serve_direct(
    cycle: RequestResponseCycle,
    app: DirectApp,
    project_id: str,
    proxy: ProxyHeadersMiddleware | None,
) -> None:
    """One data API request without the ASGI layer: the cycle's scope and ``receive``
    as uvicorn prepared them, the response written as ``RequestResponseCycle.send``
    would write it (same bookkeeping), in one piece. An application error is logged as one
    line (``unexpected.py``: no stack, no message) and answered with the catalogue's JSON
    500, or ends the connection if the response had started."""
    scope: Any = cycle.scope
    receive: Any = cycle.receive
    try:
        if proxy is not None:
            await proxy(scope, receive, cycle.send)
        response = await app.data_response(project_id, scope, receive)
        await _write_response(cycle, response.status, response.headers, response.body)
    except Exception as exc:
        log_unexpected(f"{scope['method']} on the data API failed", exc)
        if not cycle.response_started:
            error = respond_error(INTERNAL_ERROR)
            await _write_response(cycle, error.status, error.headers, error.body)
        else:
            cycle.transport.close()
    except BaseException:  # cancelled (shutdown, a lost client): nothing to answer
        cycle.transport.close()
        raise
    finally:
        cycle.on_response = lambda: None


async def _write_response(
    cycle: RequestResponseCycle, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes
) -> None:
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return
    parts = [STATUS_LINE[status]]
    for name, value in cycle.default_headers:
        parts += (name, b": ", value, b"\r\n")
    for name, value in headers:  # names are Dbify's constants; values may echo the request
        if name not in _BUILT_VALUES and HEADER_VALUE_RE.search(value):
            raise RuntimeError("Invalid HTTP header value.")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"content-length: %d\r\n" % len(body))
    if not cycle.keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    # Started only now: a refused header above still leaves room for the 500.
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    # connection_made gave the protocol, and so every cycle, a _CoalescingTransport.
    transport: _CoalescingTransport = cycle.transport  # type: ignore[assignment]
    if cycle.scope["method"] == "HEAD":
        transport.write_whole(b"".join(parts))
    elif len(body) > _JOIN_LIMIT:
        transport.write_head_and_body(b"".join(parts), body)
    else:
        parts.append(body)
        transport.write_whole(b"".join(parts))
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()
