"""``dbify serve`` with Granian instead of uvicorn as the HTTP server, for comparison only.

Issue 11 asks which ASGI server is fastest for Dbify. This runs the real ``dbify`` command
line with its uvicorn launcher swapped for Granian's embedded server (same event loop,
ASGI without lifespan, HTTP/1.1, no websockets), so both servers serve the identical app:

    pip install granian      # not a Dbify dependency
    python bench/run.py --dbify-cmd \\
        'python bench/granian_serve.py serve --database-url {db_url} --port {port} --json'

Measured on the 2-core box (README, Benchmarks): the same server CPU per request as
uvicorn and within noise in req/s, so ``dbify serve`` stays on uvicorn. A fixed
``--port`` is required (Granian's embedded server does not report a port picked by 0).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable

from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server

import dbify.cli
from dbify.app import DbifyApp


async def _serve_granian(
    app: DbifyApp, host: str, port: int, on_listening: Callable[[int], None]
) -> None:
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGINL,
        http=HTTPModes.http1,
        websockets=False,
        log_enabled=False,
    )
    gc.collect()
    gc.freeze()  # as dbify.cli does before serving
    task = asyncio.create_task(server.serve())
    await asyncio.sleep(0.5)  # the embedded server has no "started" flag to poll
    if task.done():
        await task
    on_listening(port)
    await task


if __name__ == "__main__":
    dbify.cli._serve_app = _serve_granian  # type: ignore[assignment]
    sys.argv = ["dbify", *sys.argv[1:]]
    dbify.cli.main()
