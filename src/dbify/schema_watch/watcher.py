"""One project's watcher: a dedicated connection that notices schema changes.

Each watcher holds its own direct connection (never a pool's: ``LISTEN`` does not
survive PgBouncer's transaction mode) and runs in one of two modes, chosen at every
(re)connect:

- ``listen``: the event triggers of ``catalog.install_watcher`` are present, so the
  connection ``LISTEN``s on their channel and wakes on every DDL statement;
- ``poll``: no triggers (or not allowed), so the catalog fingerprint is compared every
  ``poll_interval_seconds``.

Listen mode compares the fingerprint on the same interval too, as a safety net for
notifications lost while disconnected. The mode is re-read on that interval as well, and
at once when ``uninstall_watcher`` announces itself on the channel or ``check_mode`` is
called (after an install through the API): the connection then ``UNLISTEN``s (poll) or
``LISTEN``s (listen) without reconnecting. ``recheck`` (a data API request failed on a
name the snapshot lacks) compares the fingerprint at once (not debounced: requests keep
coming) and refreshes only if it moved; rechecks are paced to one per
``debounce_seconds``, so a client repeating a bad request costs one cheap query per window.

A burst of DDL (a migration of 50 statements) becomes one call of ``on_change``:
notifications are coalesced until ``debounce_seconds`` pass without one (at most
``max_debounce_seconds``), and a changed fingerprint is re-read until it holds still.
After each (re)connect ``on_change`` runs once, since anything may have changed while no
one was watching.

What a change does (introspect, diff, swap the snapshot...) is ``refresh.py``'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import asyncpg

from dbify.background import cancel_and_wait
from dbify.schema_watch.catalog import (
    CHANNEL,
    UNINSTALLED,
    read_fingerprint,
    watcher_installed,
)
from dbify.settings import SchemaWatchSettings

__all__ = ["APPLICATION_NAME", "ProjectWatcher", "WatchMode", "WatchTarget"]

_log = logging.getLogger("dbify.schema_watch")
_RECONNECT_MAX_SECONDS = 60.0
# Names the watcher's session in pg_stat_activity (and in PgBouncer's SHOW CLIENTS when
# it polls through it), so operators can tell it from the project's pool ("dbify").
APPLICATION_NAME = "dbify-schema-watch"

WatchMode = Literal["listen", "poll"]


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """What to watch: a project's database (clear-text URL, kept in memory only)."""

    project_id: str
    url: str
    schemas: tuple[str, ...]
    listen: bool = True  # False through PgBouncer's transaction mode: poll only


ChangeHandler = Callable[["ProjectWatcher", asyncpg.Connection, str], Awaitable[None]]


class ProjectWatcher:
    """Watches ``target`` until stopped; calls ``on_change(watcher, connection, mode)``."""

    def __init__(
        self, target: WatchTarget, settings: SchemaWatchSettings, on_change: ChangeHandler
    ) -> None:
        self.target = target
        self.mode: WatchMode | None = None
        self.last_error = ""
        self._settings = settings
        self._on_change = on_change
        self._wake = asyncio.Event()
        # Why the watcher was woken: "notified" (DDL), "recheck" (a request), "mode".
        self._reasons: set[str] = set()
        self._last_look = 0.0  # when a recheck last read the fingerprint (monotonic)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"schema-watch-{self.target.project_id}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def recheck(self) -> None:
        """Look now (e.g. a request failed on a column the snapshot does not know)."""
        self._reasons.add("recheck")
        self._wake.set()

    def check_mode(self) -> None:
        """Re-read now whether the event triggers are installed (listen) or not (poll)."""
        self._reasons.add("mode")
        self._wake.set()

    def health(self) -> dict[str, object]:
        return {
            "project_id": self.target.project_id,
            "running": self._task is not None and not self._task.done(),
            "mode": self.mode,
            "last_error": self.last_error,
        }

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                conn = await asyncpg.connect(
                    self.target.url,
                    timeout=10,
                    statement_cache_size=0,
                    server_settings={"application_name": APPLICATION_NAME},
                )
            except Exception as error:  # any failure to connect: retry with backoff
                self._failed(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
                continue
            try:
                delay = 1.0
                await self._watch(conn)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # lost connection, query failure: reconnect
                self._failed(error)
            finally:
                self.mode = None
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(delay)

    def _failed(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"[:300]
        _log.warning("schema watcher of %s: %s", self.target.project_id, self.last_error)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._reasons.add("mode" if payload == UNINSTALLED else "notified")
        self._wake.set()

    async def _select_mode(self, conn: asyncpg.Connection) -> WatchMode:
        listen = self.target.listen and await watcher_installed(conn)
        mode: WatchMode = "listen" if listen else "poll"
        if mode != self.mode:
            if mode == "listen":
                await conn.add_listener(CHANNEL, self._notified)
            elif self.mode == "listen":
                await conn.remove_listener(CHANNEL, self._notified)  # UNLISTEN
            self.mode = mode
        return mode

    async def _watch(self, conn: asyncpg.Connection) -> None:
        schemas = self.target.schemas
        # Cleared before the first looks, not after: a ``check_mode`` or a notification
        # arriving while they run (an install right after the project was created) must
        # wake the loop, or the watcher polls until the next interval.
        self._wake.clear()
        self._reasons.clear()
        mode = await self._select_mode(conn)
        fingerprint = await read_fingerprint(conn, schemas)
        await self._on_change(self, conn, mode)
        while True:
            woken = await self._sleep(self._settings.poll_interval_seconds)
            if woken and "notified" in self._reasons:
                await self._coalesce_notifications()
            elif woken:  # a request or the API asked: look now, at most once per window
                await self._pace_looks()
            reasons, self._reasons = self._reasons, set()
            if not woken or "mode" in reasons:
                await self._select_mode(conn)
            current = await read_fingerprint(conn, schemas)
            if "notified" in reasons:
                how = "listen"
            elif current == fingerprint:
                continue
            elif "recheck" in reasons:
                how = "recheck"
            else:
                how = "poll"
                current = await self._until_still(conn, current)
            fingerprint = current
            await self._on_change(self, conn, how)

    async def _sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True when woken by a notification or ``recheck``."""
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _pace_looks(self) -> None:
        wait = self._last_look + self._settings.debounce_seconds - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._wake.clear()
        self._last_look = time.monotonic()

    async def _coalesce_notifications(self) -> None:
        deadline = time.monotonic() + self._settings.max_debounce_seconds
        while time.monotonic() < deadline:
            self._wake.clear()
            if not await self._sleep(self._settings.debounce_seconds):
                return

    async def _until_still(self, conn: asyncpg.Connection, current: str) -> str:
        deadline = time.monotonic() + self._settings.max_debounce_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(self._settings.debounce_seconds)
            again = await read_fingerprint(conn, self.target.schemas)
            if again == current:
                break
            current = again
        return current
