"""One process owns chDB's data directory: a second one is told who has it, not chDB's
"Error initializing EmbeddedServer" (and, from ``dbify serve``, no traceback)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dbify.backends.analytics import AnalyticsUnavailable
from dbify.backends.analytics.chdb_process import ChdbProcessStore
from tests.fixtures.server import start_server, stop_server

pytestmark = pytest.mark.anyio


async def test_a_second_process_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "analytics"
    first = ChdbProcessStore(path)
    try:
        with pytest.raises(AnalyticsUnavailable) as refused:
            ChdbProcessStore(path)
        message = str(refused.value)
        assert f"{path} is in use by another process (process {first.pid})" in message
        assert "DBIFY_DATA_DIR" in message
        assert await first.select("SELECT count() FROM {db}.request_log") == [(0,)]
    finally:
        await first.close()
    second = ChdbProcessStore(path)  # the lock went with the first owner
    try:
        assert await second.select("SELECT count() FROM {db}.request_log") == [(0,)]
    finally:
        await second.close()


def _rows(data_dir: str, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(Path(data_dir) / "metadata.db")) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_second_server_on_one_data_dir_exits_with_one_line_changing_nothing(
    fixture_database_url: str, command: str
) -> None:
    server = start_server(fixture_database_url)
    try:
        keys = _rows(server.data_dir, "SELECT id FROM api_keys ORDER BY id")
        users = _rows(server.data_dir, "SELECT email FROM users ORDER BY email")
        arguments = ["--database-url", fixture_database_url] if command == "serve" else []
        second = subprocess.run(
            [sys.executable, "-m", "dbify", command, *arguments, "--port", "0", "--json"],
            env={**os.environ, "DBIFY_DATA_DIR": server.data_dir},
            capture_output=True, timeout=120,
        )  # fmt: skip
        errors = second.stderr.decode()
        assert second.returncode == 1, errors
        assert "Error: Request logs cannot start: the analytics data directory" in errors
        assert "is in use by another process" in errors
        assert "Traceback" not in errors
        assert second.stdout == b""  # no banner, no keys for a server that did not start
        # Refused before it issued keys or made (or reset) the demo admin.
        assert _rows(server.data_dir, "SELECT id FROM api_keys ORDER BY id") == keys
        assert _rows(server.data_dir, "SELECT email FROM users ORDER BY email") == users
        health = httpx.get(f"{server.base_url}/healthz", timeout=10)
        assert health.status_code == 200  # the owner serves on
    finally:
        stop_server(server)
