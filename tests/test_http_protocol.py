"""The serving protocol's transport writes each response with one system call.

A real asyncio server on a real socket: the protocol wraps the transport it is given in
``_CoalescingTransport`` as ``JsonErrorsHttpToolsProtocol`` does, and the real
transport underneath is counted. What one loop iteration writes reaches the socket as one
write, in order; a lone write (a HEAD response's headers) still leaves by the end of the
iteration; ``close`` sends what is pending first; ``abort`` drops it. A response already
in one piece (``write_whole``) is written at once, or after what is pending, in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dbify.http_protocol import _CoalescingTransport

pytestmark = pytest.mark.anyio


class _Counted:
    """The real transport, with its writes counted."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _Server(asyncio.Protocol):
    def __init__(self, chunks_per_request: list[bytes], ending: str, whole: bytes = b"") -> None:
        self.chunks = chunks_per_request
        self.ending = ending
        self.whole = whole
        self.written_at_once = 0  # real writes made before data_received returned
        self.counted: _Counted | None = None
        self.out: _CoalescingTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.counted = _Counted(transport)
        self.out = _CoalescingTransport(self.counted, asyncio.get_running_loop())  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        assert self.out is not None
        for chunk in self.chunks:  # like uvicorn: status line and headers, then the body
            self.out.write(chunk)
        if self.whole:
            self.out.write_whole(self.whole)
            assert self.counted is not None
            self.written_at_once = len(self.counted.writes)
        if self.ending == "close":
            self.out.close()
        elif self.ending == "abort":
            self.out.abort()


async def _exchange(
    chunks: list[bytes], ending: str = "", whole: bytes = b""
) -> tuple[bytes, list[bytes]]:
    loop = asyncio.get_running_loop()
    protocol = _Server(chunks, ending, whole)
    server = await loop.create_server(lambda: protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    expected = sum(map(len, chunks)) + len(whole) if ending != "abort" else 0
    received = b""
    try:
        async with asyncio.timeout(5):
            while len(received) < expected or (ending and not reader.at_eof()):
                data = await reader.read(65536)
                if not data:
                    break
                received += data
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
    assert protocol.counted is not None
    _last_server.append(protocol)
    return received, protocol.counted.writes


_last_server: list[_Server] = []


async def test_one_iterations_writes_leave_as_one() -> None:
    head, body = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", b"hello"
    received, writes = await _exchange([head, body])
    assert received == head + body
    assert writes == [head + body]


async def test_a_lone_write_is_sent_by_the_end_of_the_iteration() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
    received, writes = await _exchange([head])
    assert (received, writes) == (head, [head])


async def test_close_sends_what_is_pending_and_abort_drops_it() -> None:
    chunks = [b"HTTP/1.1 400 Bad Request\r\n", b"connection: close\r\n\r\n"]
    received, writes = await _exchange(chunks, "close")
    assert received == b"".join(chunks)
    assert writes == [b"".join(chunks)]
    received, writes = await _exchange(chunks, "abort")
    assert (received, writes) == (b"", [])


async def test_a_whole_response_is_written_at_once_or_after_what_is_pending() -> None:
    whole = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
    received, writes = await _exchange([], whole=whole)
    assert (received, writes) == (whole, [whole])
    assert _last_server[-1].written_at_once == 1  # no wait for the end of the iteration
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    received, writes = await _exchange([interim], whole=whole)
    assert (received, writes) == (interim + whole, [interim + whole])
    assert _last_server[-1].written_at_once == 0
