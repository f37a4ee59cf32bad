"""``dbify scheduler``: run cron jobs outside ``dbify serve`` (scale-out).

Several may run on one metadata store: each occurrence is claimed by compare-and-set
(``store.py``), so exactly one runs it. ``--leader-lock`` adds leader election by a
PostgreSQL advisory lock (``leader.py``) so standbys stay idle. Set
``scheduler.enabled = false`` on the ``dbify serve`` replicas when running this.
With the Redis event bus it hears the replicas' ``cache.cron`` announcements, so a job
changed or run through their API is picked up at once, not at the next idle look.
"""

from __future__ import annotations

import asyncio
import contextlib

import click

from dbify.backends.events import EventBus
from dbify.backends.loader import open_event_bus
from dbify.control.cron.leader import LeaderLock
from dbify.control.cron.runtime import build_scheduler
from dbify.control.plane import open_control_plane
from dbify.settings import Settings, load_settings
from dbify.workers.command import stop_on_signals

__all__ = ["scheduler"]


async def run_scheduler(settings: Settings, stop: asyncio.Event, *, leader_lock: bool) -> None:
    plane = await open_control_plane(settings, migrate=settings.metadata.migrate_on_start)
    lock = LeaderLock(plane.store.engine) if leader_lock else None
    bus: EventBus | None = None
    try:
        if lock is not None:
            click.echo("dbify scheduler waiting for the leader lock", err=True)
            if not await lock.acquire(stop):
                return
        if settings.events.backend == "redis":  # an in-memory bus would hear nobody
            bus = await open_event_bus(settings)
        running = build_scheduler(plane, bus)
        await running.start()
        click.echo("dbify scheduler running", err=True)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)
                if lock is not None and not await lock.alive():
                    raise click.ClickException("lost the leader lock's connection")
        finally:
            await running.stop()
    finally:
        if bus is not None:
            await bus.close()
        if lock is not None:
            await lock.release()
        await plane.close()


@click.command()
@click.option(
    "--leader-lock",
    is_flag=True,
    help="Only the holder of a PostgreSQL advisory lock on the metadata store ticks.",
)
def scheduler(leader_lock: bool) -> None:
    """Run cron jobs of every project (several schedulers: each occurrence runs once)."""
    settings = load_settings()

    async def main() -> None:
        await run_scheduler(settings, stop_on_signals(), leader_lock=leader_lock)

    asyncio.run(main())
