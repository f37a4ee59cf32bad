"""``dbify demo`` as a newcomer runs it: a subprocess on the local PostgreSQL whose
printed banner is all the test knows. The REST URL answers with the printed key, the
dashboard loads, the printed demo admin can sign in and sees the demo project, and a
second run reuses that project with a fresh key pair and a new password."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.fixtures.database import server_url

_READY = "Press Ctrl+C to stop."


def _start_demo(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    command = [sys.executable, "-m", "dbify", "demo", "--port", "0",
               "--database-server-url", server_url()]  # fmt: skip
    env = {**os.environ, "DBIFY_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=data_dir
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream: IO[bytes]) -> None:  # select() would miss lines already buffered
        for raw in stream:
            lines.put(raw.decode().rstrip())
        lines.put(None)

    threading.Thread(target=read, args=(process.stdout,), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while not seen or seen[-1] != _READY:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            process.kill()
            process.wait()
            raise AssertionError("dbify demo did not start:\n" + "\n".join(seen))
        seen.append(line)
    fields = {}
    for line in seen:
        match = re.match(r"^  ([A-Za-z ]+?)\s{2,}(\S+)", line)
        if match:
            fields[match.group(1).strip()] = match.group(2)
    return process, fields


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dbify-demo-") as directory:
        yield Path(directory)


def test_demo_serves_api_dashboard_and_a_sign_in_then_reuses_the_project(
    data_dir: Path,
) -> None:
    process, first = _start_demo(data_dir)
    try:
        for name in ("Dashboard", "Sign in as", "Password", "REST URL", "API docs", "anon key"):
            assert name in first, first
        with httpx.Client(timeout=30) as client:
            rows = client.get(
                f"{first['REST URL']}/orders?select=id,customer:customers(name)&limit=2",
                headers={"apikey": first["anon key"]},
            )
            assert rows.status_code == 200, rows.text
            assert len(rows.json()) == 2
            page = client.get(first["Dashboard"])
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "dashboard.js" in page.text
            assert client.get(first["API docs"]).status_code == 200

            base = first["Dashboard"].rstrip("/")
            signed = client.post(
                f"{base}/api/v1/auth/sign-in",
                json={"email": first["Sign in as"], "password": first["Password"]},
            )
            assert signed.status_code == 200, signed.text
            assert signed.json()["user"]["is_admin"]
            projects = client.get(
                f"{base}/api/v1/projects",
                headers={"cookie": f"dbify_session={signed.cookies['dbify_session']}"},
            ).json()["items"]
            assert [p["name"] for p in projects] == ["demo"]
    finally:
        _stop(process)

    process, second = _start_demo(data_dir)
    try:
        assert second["REST URL"].split("/p/")[1] == first["REST URL"].split("/p/")[1]
        assert second["anon key"] != first["anon key"]
        assert second["Password"] != first["Password"]
        with httpx.Client(timeout=30) as client:
            for key in (first["anon key"], second["anon key"]):  # old pairs keep working
                got = client.get(f"{second['REST URL']}/products?limit=1", headers={"apikey": key})
                assert got.status_code == 200, got.text
    finally:
        _stop(process)
