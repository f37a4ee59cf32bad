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
one segment, and nothing waits longer than the current iteration.

It overrides three methods of ``HttpToolsProtocol`` (``connection_made``,
``on_headers_complete`` and ``send_400_response``); ``tests/compat/test_hostile_input.py``
fails if an uvicorn release changes them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dbify.errors import Codes, DbifyError

__all__ = ["MAX_URL_BYTES", "JsonErrorsHttpToolsProtocol"]

MAX_URL_BYTES = 65_535  # http_parser_url's offsets and lengths are uint16


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

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

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


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    _url_too_long = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = _CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]

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
