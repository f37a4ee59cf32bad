"""The HTTP server under ``dbify serve`` and ``dbify demo``: uvicorn with our protocol.

``serve_app`` runs one ``DbifyApp`` until SIGINT/SIGTERM, then shuts down gracefully.
A worker of ``dbify serve --workers N`` (``control/serve_workers.py``) passes the socket
it listens on (its own, bound with SO_REUSEPORT) and a lifeline: the read end of a pipe
whose write end only its supervisor holds, so the worker stops when the supervisor dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import click
import uvicorn

from dbify.app import DbifyApp
from dbify.http_protocol import JsonErrorsHttpToolsProtocol

__all__ = ["GracefulServer", "run_loop", "serve_app", "shared_port_socket"]

# The listen backlog of a worker's socket; the kernel caps it at net.core.somaxconn.
_BACKLOG = 2048


def run_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main`` on uvloop (asyncio's loop where uvloop is missing)."""
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(main())


class GracefulServer(uvicorn.Server):
    """uvicorn's server, minus one step: after a graceful shutdown uvicorn re-raises the
    SIGTERM/SIGINT it caught, and with the default handler back that kills the process
    before ``serve_platform``'s cleanup runs (request-log buffer flushed to the queue,
    pools and the metadata store closed). Here the signal only starts the shutdown:
    stop accepting, finish the requests in flight, clean up, exit 0."""

    stop_signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in self.stop_signals}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def shared_port_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT, so that several processes
    can each listen on the same port and the kernel spreads connections over them.

    With ``listen=False`` it only holds the port (a supervisor's placeholder: a socket
    that does not listen is never handed a connection).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


async def serve_app(
    app: DbifyApp,
    host: str,
    port: int,
    on_listening: Callable[[int], None],
    *,
    sock: socket.socket | None = None,
    lifeline: int | None = None,
    stop_signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=JsonErrorsHttpToolsProtocol,  # httptools, with JSON errors for unparsable requests
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    server = GracefulServer(config)
    server.stop_signals = stop_signals
    # What is loaded by now (modules, settings, schema snapshots) lives as long as the
    # process. Frozen, the collector stops rescanning it: a full collection over those
    # ~130k objects takes ~70 ms, which showed as p99 stalls of every request in flight.
    gc.collect()
    gc.freeze()
    task = asyncio.create_task(_serve(server, [sock] if sock is not None else None))
    if lifeline is not None:
        _watch_lifeline(server, lifeline)
    while not server.started:
        if task.done():
            with contextlib.suppress(_StartupFailed):
                await task
            raise click.ClickException(f"Could not listen on {host}:{port}")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
    on_listening(int(bound))
    await task


class _StartupFailed(Exception):
    """uvicorn could not start (it logged why: the port is taken, say)."""


async def _serve(server: uvicorn.Server, sockets: list[socket.socket] | None) -> None:
    """``server.serve``, its ``sys.exit`` on a failed start as an exception: a
    ``SystemExit`` raised in a task leaves the event loop at once, and the cleanup of
    ``serve_platform`` (pools, metadata store) never ran ("Task was destroyed")."""
    try:
        await server.serve(sockets=sockets)
    except SystemExit:
        raise _StartupFailed from None


def _watch_lifeline(server: uvicorn.Server, fd: int) -> None:
    """Shut down gracefully once ``fd`` reads end-of-file (the supervisor is gone)."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            server.should_exit = True

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
