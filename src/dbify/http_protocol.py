"""uvicorn's httptools protocol, with Dbify's JSON errors for requests it cannot parse.

uvicorn answers a request it cannot parse itself, before any application code runs,
with ``400 text/plain``. Clients of a PostgREST-style API switch on a JSON error's
``code``, so this subclass answers those requests in the catalogue's JSON shape. One such
request is ordinary: a URL over 65,535 bytes (a huge ``in.(…)`` list, say), which
httptools' URL parser cannot represent (16-bit offsets); it gets ``414 URI Too Long``
(``DBIFY414``). Anything else malformed stays a 400 (``DBIFY400``).

It overrides two methods of ``HttpToolsProtocol`` (``on_headers_complete`` and
``send_400_response``); ``tests/compat/test_hostile_input.py`` fails if an uvicorn
release changes them.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dbify.errors import Codes, DbifyError

__all__ = ["MAX_URL_BYTES", "JsonErrorsHttpToolsProtocol"]

MAX_URL_BYTES = 65_535  # http_parser_url's offsets and lengths are uint16


class _UrlTooLong(Exception):
    """Raised from the parser's callback; httptools re-raises it as a parser error."""


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    _url_too_long = False

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
