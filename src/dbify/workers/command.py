"""``dbify worker [NAME…]``: run background workers outside ``dbify serve`` (scale-out).

``WORKERS`` maps a worker's name to an async factory building it from the settings and
the control plane; ``dbify worker`` starts the named ones (all of them when none is
named), runs until SIGINT/SIGTERM, then stops them. A new worker registers itself by
adding an entry (``register_worker``). With ``dbify worker``, set the matching
``*.worker_enabled = false`` on the ``dbify serve`` replicas so that work is not done
twice (it would still be correct: every worker is at-least-once and idempotent).

``--metrics-port`` (off by default) serves the workers' counters as Prometheus text on
``/metrics`` and their health on ``/healthz`` (``workers/metrics.py``): ``dbify serve``
carries those on its API port, a worker has no other HTTP server. Port 0 picks a free
port; the address is printed on stderr before the ``running`` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import click

from dbify.backends.analytics import AnalyticsUnavailable
from dbify.control.plane import ControlPlane, open_control_plane
from dbify.metrics import Metrics
from dbify.settings import Settings, load_settings
from dbify.workers.base import Worker

__all__ = ["WORKERS", "WorkerFactory", "register_worker", "worker"]

_log = logging.getLogger("dbify.workers")

WorkerFactory = Callable[[Settings, ControlPlane], Awaitable[Worker]]


async def _webhooks(settings: Settings, plane: ControlPlane) -> Worker:
    from dbify.control.webhooks.runtime import open_webhook_worker

    return await open_webhook_worker(settings, plane)


async def _request_log(settings: Settings, plane: ControlPlane) -> Worker:
    from dbify.workers.request_log import build_request_log_worker

    try:
        return await build_request_log_worker(settings, plane)
    except (ValueError, AnalyticsUnavailable) as error:
        raise click.ClickException(str(error)) from None


WORKERS: dict[str, WorkerFactory] = {"webhooks": _webhooks, "request-log": _request_log}


def register_worker(name: str, factory: WorkerFactory) -> None:
    """Make ``dbify worker NAME`` available."""
    WORKERS[name] = factory


async def run_workers(
    settings: Settings,
    names: tuple[str, ...],
    stop: asyncio.Event,
    *,
    metrics_address: tuple[str, int] | None = None,
) -> None:
    """Start the named workers (and, with ``metrics_address``, their ``/metrics``), wait
    for ``stop``, stop them."""
    from dbify.workers.metrics import WorkerMetricsServer, worker_readings

    plane = await open_control_plane(settings, migrate=settings.metadata.migrate_on_start)
    started: list[Worker] = []
    server: WorkerMetricsServer | None = None
    try:
        for name in names:
            instance = await WORKERS[name](settings, plane)
            await instance.start()
            started.append(instance)
        if metrics_address is not None:
            metrics = Metrics()
            for instance in started:
                worker_readings(metrics, instance)
            server = WorkerMetricsServer(metrics, started)
            host, port = metrics_address
            bound = await server.start(host, port)
            click.echo(f"dbify worker metrics: http://{host}:{bound}/metrics", err=True)
        click.echo(f"dbify worker running: {', '.join(names)}", err=True)
        await stop.wait()
    finally:
        if server is not None:  # scrapes stop before the counters they read go away
            await server.stop()
        for instance in reversed(started):
            with contextlib.suppress(Exception):
                await instance.stop()
        await plane.close()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@click.command()
@click.argument("names", nargs=-1)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics and /healthz on this port (0: a free one). Off by default.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the metrics port (0.0.0.0 for a scraper on another host or pod).",
)
def worker(names: tuple[str, ...], metrics_port: int | None, metrics_host: str) -> None:
    """Run background workers (all when no NAME is given): see `WORKERS`."""
    unknown = [n for n in names if n not in WORKERS]
    if unknown:
        known = ", ".join(sorted(WORKERS))
        raise click.UsageError(f"Unknown worker(s): {', '.join(unknown)} (known: {known})")
    settings = load_settings()
    chosen = names or tuple(sorted(WORKERS))

    async def main() -> None:
        address = None if metrics_port is None else (metrics_host, metrics_port)
        await run_workers(settings, chosen, stop_on_signals(), metrics_address=address)

    asyncio.run(main())
