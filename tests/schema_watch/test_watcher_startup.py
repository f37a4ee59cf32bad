"""A watcher asked to re-read its mode while it is still starting keeps the request.

``check_mode`` (the management API, right after installing the event triggers) can
arrive while a freshly connected watcher reads its mode and first fingerprint. The
watcher used to clear its wake-up reasons after those reads, so such a request was lost
and it kept polling until the next interval (the flaky install answer of
``test_pgbouncer_watch``). Here the install and ``check_mode`` are placed exactly in
that window: inside the watcher's first fingerprint read.

Real PostgreSQL: the watcher's own connection and the real event triggers.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from dbify.schema_watch import install_watcher
from dbify.schema_watch import watcher as watcher_module
from dbify.schema_watch.watcher import ProjectWatcher, WatchTarget
from dbify.settings import SchemaWatchSettings
from tests.schema_watch.waiting import is_true, wait_until

pytestmark = pytest.mark.anyio


async def test_check_mode_during_the_first_look_switches_to_listen(
    user_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = user_database
    # 60 s between polls: a switch within seconds came from the kept request.
    settings = SchemaWatchSettings(poll_interval_seconds=60.0, debounce_seconds=0.05)
    changes: list[str] = []

    async def on_change(_watcher: ProjectWatcher, _conn: asyncpg.Connection, how: str) -> None:
        changes.append(how)

    watcher = ProjectWatcher(WatchTarget("p1", url, ("public",)), settings, on_change)
    real_read = watcher_module.read_fingerprint
    installed = asyncio.Event()

    async def read_then_install(conn: asyncpg.Connection, schemas: tuple[str, ...]) -> str:
        fingerprint = await real_read(conn, schemas)
        if not installed.is_set():  # the first look: the mode was read as "poll" just now
            installed.set()
            ddl = await asyncpg.connect(url)
            try:
                await install_watcher(ddl)
            finally:
                await ddl.close()
            watcher.check_mode()
        return fingerprint

    monkeypatch.setattr(watcher_module, "read_fingerprint", read_then_install)
    await watcher.start()
    try:
        await asyncio.wait_for(installed.wait(), 15)
        await wait_until(lambda: is_true(watcher.mode == "listen"), limit=5.0)
        assert changes[:1] == ["poll"]  # the first look ran in poll mode
    finally:
        await watcher.stop()
