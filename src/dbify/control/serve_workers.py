"""``dbify serve --workers N``: N serving processes on one port, and their supervisor.

Each worker is a whole ``dbify serve`` replica (the scale-out mode, on one machine)
listening on a socket of its own bound to the same address with SO_REUSEPORT: the
kernel spreads connections over the workers by a hash of their addresses, so a proxy's
or a client pool's long-lived keep-alive connections are spread too (on one shared
listening socket the worker that went idle last takes most of a burst of them).

Workers share nothing in memory, so the settings must name the shared backends
(``multi_process_problems``): a PostgreSQL metadata store (leader election for the
schema watch and the scheduler), the Redis event bus (a key revoked or a schema reloaded
in one worker reaches the others within a second), rate limits counted in Redis, and
for request logs a broker queue and a ClickHouse server (the in-process queue and chDB's
data directory belong to one process). Embedded search indexes are kept per worker
(``search.index_dir``), as every replica keeps its own.

The supervisor migrates the store and makes the ``--database-url`` project before any
worker starts, holds the port with a socket that never listens (so ``--port 0`` gives
every worker the same port), starts the workers and waits until each listens, prints
the banner, restarts a worker that dies (after a growing pause if it died young), and on
SIGINT/SIGTERM asks every worker to stop gracefully: in-flight requests finish, log
buffers flush. Each worker watches its pipe to the supervisor: if the supervisor is
killed, the pipe closes and the worker stops too.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

import click

from dbify.app import DbifyApp
from dbify.backends.loader import search_index_dir
from dbify.control.plane import default_pool_size
from dbify.control.serve import (
    Listening,
    ServedProject,
    prepare_store,
    print_banner,
    serve_platform,
)
from dbify.http_server import run_loop, serve_app, shared_port_socket
from dbify.metadata.engine import metadata_url
from dbify.settings import Settings

__all__ = ["multi_process_problems", "serve_workers"]

_log = logging.getLogger("dbify.serve")

_START_TIMEOUT = 120.0  # a worker loads every project's schema before it listens
_STOP_TIMEOUT = 30.0  # then what is still running is killed
_YOUNG = 10.0  # a worker dying sooner after its start is restarted after a pause...
_MAX_PAUSE = 30.0  # ...doubling from 1 s up to this


def multi_process_problems(settings: Settings) -> list[str]:
    """The settings that must change before several processes can serve together."""
    problems: list[str] = []
    if not metadata_url(settings).startswith("postgresql"):
        problems.append(
            "DBIFY_METADATA__URL=postgresql://…: a SQLite store belongs to one process, "
            "and leader election (schema watch, scheduler) needs PostgreSQL"
        )
    if settings.events.backend != "redis":
        problems.append(
            "DBIFY_EVENTS__BACKEND=redis and DBIFY_EVENTS__REDIS_URL: key revocations and "
            "schema reloads must reach every worker"
        )
    auth = settings.auth
    if (auth.rate_limit_per_key or auth.rate_limit_per_ip) and not auth.rate_limit_redis_url:
        problems.append(
            "DBIFY_AUTH__RATE_LIMIT_REDIS_URL: rate limits must be counted once, not per worker"
        )
    analytics = settings.analytics
    if analytics.enabled and analytics.queue == "memory":
        problems.append(
            "DBIFY_ANALYTICS__QUEUE=redis, rabbitmq or kafka (or DBIFY_ANALYTICS__ENABLED="
            "false): the in-process request-log queue belongs to one process"
        )
    if analytics.enabled and analytics.store == "chdb":
        problems.append(
            "DBIFY_ANALYTICS__STORE=clickhouse (or DBIFY_ANALYTICS__ENABLED=false): chDB's "
            "data directory belongs to one process"
        )
    return problems


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    pipe: Connection  # the supervisor's end: "ready"/"error" come in; closing it stops the worker
    started: float
    pipe_open: bool = True  # until the worker's end closes (it is exiting)


@dataclass
class _Supervisor:
    settings: Settings
    host: str
    port: int
    workers: dict[int, _Worker] = field(default_factory=dict)
    pauses: dict[int, float] = field(default_factory=dict)  # index -> next restart pause
    due: dict[int, float] = field(default_factory=dict)  # index -> when to restart it
    stopping: bool = False

    def start(self, index: int) -> _Worker:
        context = multiprocessing.get_context("spawn")  # no fork: a fresh interpreter each
        mine, theirs = context.Pipe()
        settings = self.settings
        if settings.search.enabled:  # embedded indexes: one directory per worker
            own = search_index_dir(settings) / f"worker-{index}"
            search = settings.search.model_copy(update={"index_dir": own})
            settings = settings.model_copy(update={"search": search})
        process = context.Process(
            target=_worker_main,
            args=(settings, index, self.host, self.port, theirs),
            name=f"dbify-worker-{index}",
        )
        process.start()
        theirs.close()
        worker = _Worker(index, process, mine, time.monotonic())
        self.workers[index] = worker
        return worker

    def wait_ready(self, worker: _Worker, deadline: float) -> Listening | None:
        """The worker's ``Listening`` (None if told to stop meanwhile); ClickException if
        it failed or took too long."""
        while not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                raise click.ClickException(f"worker {worker.index} did not start in time")
            if worker.pipe.poll(min(left, 0.5)):
                try:
                    status, value = worker.pipe.recv()
                except EOFError:
                    status, value = "error", None
                if status == "ready":
                    listening: Listening = value
                    return listening
                reason = value or f"exit code {worker.process.exitcode}"
                raise click.ClickException(f"worker {worker.index} did not start: {reason}")
            if not worker.process.is_alive():
                raise click.ClickException(
                    f"worker {worker.index} exited (code {worker.process.exitcode})"
                )
        return None

    def supervise(self) -> None:
        """Restart workers that die until asked to stop."""
        while not self.stopping:
            pipes = {w.pipe: w for w in self.workers.values() if w.pipe_open}
            sentinels = [w.process.sentinel for w in self.workers.values()]
            # Half a second at most, so a signal's flag is seen; sooner if a restart is due.
            timeout = max(0.0, min([0.5, *(when - time.monotonic() for when in self.due.values())]))
            for ready in wait([*pipes, *sentinels], timeout=timeout):
                if ready in pipes:
                    self._message(pipes[ready])
            for worker in list(self.workers.values()):
                if not worker.process.is_alive() and not self.stopping:
                    self._died(worker)
            now = time.monotonic()
            for index, when in list(self.due.items()):
                if when <= now and not self.stopping:
                    del self.due[index]
                    self.start(index)

    def _message(self, worker: _Worker) -> None:
        try:
            status, value = worker.pipe.recv()
        except (EOFError, OSError):
            worker.pipe_open = False  # it is exiting: its sentinel will say so
            return
        if status == "ready":
            _log.warning("worker %d (pid %s) is serving again", worker.index, worker.process.pid)
        else:
            _log.warning("worker %d could not start: %s", worker.index, value)

    def _died(self, worker: _Worker) -> None:
        del self.workers[worker.index]
        worker.pipe.close()
        lived = time.monotonic() - worker.started
        pause = 0.0
        if lived < _YOUNG:
            pause = self.pauses.get(worker.index, 1.0)
            self.pauses[worker.index] = min(pause * 2, _MAX_PAUSE)
        else:
            self.pauses.pop(worker.index, None)
        _log.warning(
            "worker %d (pid %s) exited with code %s; starting another in %.0f s",
            worker.index, worker.process.pid, worker.process.exitcode, pause,
        )  # fmt: skip
        self.due[worker.index] = time.monotonic() + pause

    def stop(self) -> None:
        """SIGTERM every worker (a graceful stop), then kill what outlives the timeout."""
        self.stopping = True
        for worker in self.workers.values():
            if worker.process.is_alive():
                worker.process.terminate()
        deadline = time.monotonic() + _STOP_TIMEOUT
        for worker in self.workers.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                _log.warning("worker %d did not stop in time; killing it", worker.index)
                worker.process.kill()
                worker.process.join()
            worker.pipe.close()
        self.workers.clear()


def serve_workers(
    settings: Settings,
    *,
    workers: int,
    host: str,
    port: int,
    database_url: str | None,
    schemas: tuple[str, ...],
    name: str,
    as_json: bool,
) -> None:
    problems = multi_process_problems(settings)
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise click.ClickException(
            f"--workers {workers} runs one server per process, and processes share state "
            f"only through the scale-out backends. Set:\n{lines}"
        )
    shortcut = asyncio.run(prepare_store(settings, database_url, schemas, name))
    try:
        placeholder = shared_port_socket(host, port, listen=False)
    except OSError as error:
        raise click.ClickException(f"Could not listen on {host}:{port}: {error}") from None
    try:
        bound = int(placeholder.getsockname()[1])
        metadata = settings.metadata.model_copy(update={"migrate_on_start": False})
        supervisor = _Supervisor(settings.model_copy(update={"metadata": metadata}), host, bound)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            supervisor.stopping = True

        originals = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            started = [supervisor.start(index) for index in range(workers)]
            deadline = time.monotonic() + _START_TIMEOUT
            ready = [supervisor.wait_ready(worker, deadline) for worker in started]
            listening = ready[0]
            if listening is None:  # SIGINT/SIGTERM while starting
                return
            if shortcut is not None:
                project_id, anon, service = shortcut
                rest_url = DbifyApp.rest_url_of(listening.public_url, project_id)
                served = ServedProject(project_id, rest_url, anon, service)
                listening = Listening(listening.public_url, served, listening.projects)
            pool_size = default_pool_size(settings)
            print_banner(listening, as_json=as_json, workers=workers, pool_size=pool_size)
            supervisor.supervise()
        finally:
            supervisor.stop()
            for sig, handler in originals.items():
                signal.signal(sig, handler)
    finally:
        placeholder.close()


def _worker_main(settings: Settings, index: int, host: str, port: int, pipe: Connection) -> None:
    """One worker: ``serve_platform`` on a socket of its own, until SIGTERM or until the
    supervisor's end of ``pipe`` closes."""
    # Ctrl+C reaches the whole process group; the supervisor turns it into one SIGTERM
    # per worker (a second signal would make uvicorn drop the requests in flight).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format=f"%(levelname)s worker {index}: %(message)s",
    )

    def announce(listening: Listening) -> None:
        pipe.send(("ready", listening))

    async def serve(
        app: DbifyApp, host: str, port: int, on_listening: Callable[[int], None]
    ) -> None:
        sock = shared_port_socket(host, port)
        await serve_app(
            app, host, port, on_listening,
            sock=sock, lifeline=pipe.fileno(), stop_signals=(signal.SIGTERM,),
        )  # fmt: skip

    try:
        run_loop(lambda: serve_platform(settings, serve, host=host, port=port, announce=announce))
    except click.ClickException as error:
        pipe.send(("error", error.message))
        sys.exit(1)
    except OSError as error:
        pipe.send(("error", f"could not listen on {host}:{port}: {error}"))
        sys.exit(1)
