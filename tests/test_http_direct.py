"""Data API requests skip the ASGI layer; the HTTP they get is the same.

A real uvicorn server on a real socket, with Dbify's protocol and a small application
that has both doors: ``data_api_project``/``data_response`` (the direct one, as
``DbifyApp`` has) and ``__call__`` (ASGI). The tests check which door a request took and
the exact bytes that came back: keep-alive, pipelining, HEAD, HTTP/1.0, chunked request
bodies, trusted proxy headers, an application error (500, the server keeps serving), and
the keep-alive timeout (1 s here), kept by one timer per idle period.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from dbify.http_protocol import JsonErrorsHttpToolsProtocol

pytestmark = pytest.mark.anyio


@dataclass
class _Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class _App:
    """Direct for /p/{id}/rest/v1..., ASGI for everything else; remembers what it saw."""

    direct: list[dict[str, Any]] = field(default_factory=list)
    asgi: list[str] = field(default_factory=list)

    def data_api_project(self, path: str) -> str | None:
        if path.startswith("/p/") and "/rest/v1" in path:
            return path.split("/")[2]
        return None

    async def data_response(self, project_id: str, scope: Any, receive: Any) -> _Response:
        body = b""
        if scope["method"] in ("POST", "PATCH"):
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        self.direct.append({"project": project_id, "client": scope["client"], "body": body})
        if scope["query_string"] == b"fail":
            raise ValueError("application bug")
        if scope["query_string"] == b"bad-header":
            return _Response(200, [(b"x-echo", b"a\r\nb")], b"{}")
        if scope["query_string"].startswith(b"big="):  # a body written beside its head
            size = int(scope["query_string"][4:])
            return _Response(200, [(b"content-type", b"application/json")], _big(size))
        return _Response(200, [(b"content-type", b"application/json")], b'{"n":%d}' % len(body))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.asgi.append(scope["path"])
        headers = [(b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"asgi"})


def _big(size: int) -> bytes:
    """``size`` bytes that show any reordering or loss (position-dependent)."""
    return b"".join(b"%09d," % i for i in range(size // 10 + 1))[:size]


@dataclass
class _Running:
    app: _App
    port: int


@pytest.fixture
async def running() -> AsyncIterator[_Running]:
    app = _App()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=JsonErrorsHttpToolsProtocol,
                            lifespan="off", log_level="critical", server_header=False,
                            timeout_keep_alive=1)  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield _Running(app, port)
    finally:
        server.should_exit = True
        await serving


async def _exchange(port: int, request: bytes, *, until_close: bool = False) -> bytes:
    """Send ``request``; read until the connection closes or a quiet 0.3 s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    received = b""
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 5 if until_close else 0.3)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        writer.close()
    return received


def _responses(raw: bytes) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """Split keep-alive responses with content-length bodies."""
    found = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in lines[1:])
        length = int(headers.get(b"content-length", b"0"))
        found.append((lines[0], headers, raw[:length]))
        raw = raw[length:]
    return found


async def test_data_api_takes_the_direct_door_and_the_rest_asgi(running: _Running) -> None:
    raw = await _exchange(running.port, b"GET /p/abc/rest/v1/books HTTP/1.1\r\nhost: x\r\n\r\n"
                                        b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")  # fmt: skip
    (status, headers, body), (status2, _, body2) = _responses(raw)
    assert (status, body) == (b"HTTP/1.1 200 OK", b'{"n":0}')
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == b"7"
    assert b"date" in headers
    assert b"connection" not in headers
    assert (status2, body2) == (b"HTTP/1.1 200 OK", b"asgi")
    assert [d["project"] for d in running.app.direct] == ["abc"]
    assert running.app.asgi == ["/healthz"]


async def test_pipelined_requests_are_answered_in_order(running: _Running) -> None:
    requests = b"".join(
        b"POST /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s"
        % (len(body), body)
        for body in (b"a", b"bbb", b"cc")
    )
    answers = _responses(await _exchange(running.port, requests))
    assert [body for _, _, body in answers] == [b'{"n":1}', b'{"n":3}', b'{"n":2}']
    assert [d["body"] for d in running.app.direct] == [b"a", b"bbb", b"cc"]


async def test_large_bodies_arrive_whole_and_in_order(running: _Running) -> None:
    sizes = (300_000, 10, 16_385, 16_384, 1_000_000)
    requests = b"".join(
        b"GET /p/abc/rest/v1/t?big=%d HTTP/1.1\r\nhost: x\r\n\r\n" % size for size in sizes
    )
    answers = _responses(await _exchange(running.port, requests))
    assert [body for _, _, body in answers] == [_big(size) for size in sizes]
    assert [headers[b"content-length"] for _, headers, _ in answers] == [
        b"%d" % size for size in sizes
    ]
    closing = b"GET /p/abc/rest/v1/t?big=500000 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    [(status, headers, body)] = _responses(await _exchange(running.port, closing, until_close=True))
    assert (status, headers[b"connection"], body) == (b"HTTP/1.1 200 OK", b"close", _big(500_000))
    head = await _exchange(
        running.port, b"HEAD /p/abc/rest/v1/t?big=300000 HTTP/1.1\r\nhost: x\r\n\r\n"
    )
    assert head.endswith(b"content-length: 300000\r\n\r\n")


async def test_chunked_request_body_arrives_whole(running: _Running) -> None:
    request = (b"POST /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")  # fmt: skip
    [(status, _, body)] = _responses(await _exchange(running.port, request))
    assert (status, body) == (b"HTTP/1.1 200 OK", b'{"n":7}')
    assert running.app.direct[0]["body"] == b"abcdefg"


async def test_head_sends_the_length_but_no_body(running: _Running) -> None:
    raw = await _exchange(running.port, b"HEAD /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 7\r\n" in raw
    assert raw.endswith(b"\r\n\r\n")


async def test_http_1_0_closes_the_connection(running: _Running) -> None:
    raw = await _exchange(running.port, b"GET /p/abc/rest/v1/t HTTP/1.0\r\n\r\n", until_close=True)
    [(status, headers, body)] = _responses(raw)
    assert (status, headers[b"connection"], body) == (b"HTTP/1.1 200 OK", b"close", b'{"n":0}')


async def test_connection_close_is_honoured(running: _Running) -> None:
    request = b"GET /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    [(_, headers, _)] = _responses(await _exchange(running.port, request, until_close=True))
    assert headers[b"connection"] == b"close"


async def test_trusted_proxy_sets_the_client(running: _Running) -> None:
    request = b"GET /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\nx-forwarded-for: 203.0.113.7\r\n\r\n"
    await _exchange(running.port, request)
    assert running.app.direct[0]["client"][0] == "203.0.113.7"


async def test_application_error_is_a_500_and_the_server_keeps_serving(
    running: _Running, caplog: pytest.LogCaptureFixture
) -> None:
    for query in (b"fail", b"bad-header"):
        raw = await _exchange(running.port, b"GET /p/abc/rest/v1/t?%s HTTP/1.1\r\n\r\n" % query)
        assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
        assert b"a\r\nb" not in raw
        [(_, headers, body)] = _responses(raw)
        assert headers[b"content-type"] == b"application/json; charset=utf-8"
        assert json.loads(body)["code"] == "DBIFY500"
    # One line each, naming the bug's type and place; no stack, no message.
    logged = [r for r in caplog.records if r.name == "dbify.unexpected"]
    assert [r.getMessage().split(": ", 1)[1].split(" at ")[0] for r in logged] == [
        "builtins.ValueError", "builtins.RuntimeError"
    ]  # fmt: skip
    assert "test_http_direct.py" in logged[0].getMessage()
    for record in logged:
        assert record.exc_info is None
        assert "application bug" not in record.getMessage()
    raw = await _exchange(running.port, b"GET /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.timing
async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    running: _Running,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        started = asyncio.get_running_loop().time()
        writer.write(b"GET /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\n\r\n")
        received = b""
        async with asyncio.timeout(5):
            while chunk := await reader.read(65536):
                received += chunk
        waited = asyncio.get_running_loop().time() - started
    finally:
        writer.close()
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert 0.9 <= waited < 2.5


async def test_requests_within_the_timeout_keep_the_connection_open(running: _Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        for _ in range(4):  # 0.7 s apart: each gap < 1 s, together well past the first timer
            writer.write(b"GET /p/abc/rest/v1/t HTTP/1.1\r\nhost: x\r\n\r\n")
            async with asyncio.timeout(2):
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(7)
            assert head.startswith(b"HTTP/1.1 200 OK")
            await asyncio.sleep(0.7)
    finally:
        writer.close()
    assert len(running.app.direct) == 4
