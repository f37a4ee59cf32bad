"""Server memory per registered but idle project (issue 11: target < 1 MB each).

Registers ``--projects`` projects in a fresh PostgreSQL metadata store, all pointing at
one real database (registered through ``ProjectService.create``, as the API does, then
never requested), starts ``dbify serve`` on the store twice — with one project, then
with all of them — and compares the resident set size (``VmRSS``) once each server
answers ``/readyz`` and has settled. Nothing is connected to on behalf of an idle
project unless the server opens pools eagerly: that is what this measures.

    python bench/idle_projects.py                      # 1,000 projects
    python bench/idle_projects.py --projects 200 --server-url postgresql://postgres@127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time

import asyncpg
import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr

from dbify.control.access import SYSTEM
from dbify.control.plane import open_control_plane
from dbify.control.projects.schemas import ProjectCreate
from dbify.errors import DbifyError
from dbify.settings import load_settings


async def _create_database(server_url: str, name: str, sql: str = "") -> str:
    conn = await asyncpg.connect(f"{server_url}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = f"{server_url}/{name}"
    if sql:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    return url


async def _register(env: dict[str, str], database_url: str, count: int, start: int) -> None:
    os.environ.update(env)
    plane = await open_control_plane(load_settings())
    try:
        for i in range(start, start + count):
            request = ProjectCreate(name=f"idle-{i}", database_url=SecretStr(database_url))
            for attempt in range(30):  # a shared server may be out of connections a moment
                try:
                    await plane.projects.create(SYSTEM, request)
                    break
                except DbifyError:
                    if attempt == 29:
                        raise
                    await asyncio.sleep(1.0)
    finally:
        await plane.close()


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _serve_rss(env: dict[str, str], settle_seconds: float) -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "dbify", "serve", "--port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("dbify serve did not become ready")
            time.sleep(0.2)
        time.sleep(settle_seconds)
        return _rss_kib(process.pid)
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--settle-seconds", type=float, default=3.0)
    args = parser.parse_args()

    suffix = secrets.token_hex(4)
    metadata = asyncio.run(_create_database(args.server_url, f"bench_meta_{suffix}"))
    database = asyncio.run(
        _create_database(args.server_url, f"bench_idle_{suffix}", "CREATE TABLE t (id int)")
    )
    env = {
        "DBIFY_METADATA__URL": metadata,
        "DBIFY_MASTER_KEY": Fernet.generate_key().decode(),
        "DBIFY_DATA_DIR": tempfile.mkdtemp(prefix="dbify-bench-idle-"),
        "DBIFY_ANALYTICS__ENABLED": "false",
        "DBIFY_SCHEMA_WATCH__ENABLED": "false",
        "DBIFY_SCHEDULER__ENABLED": "false",
        "DBIFY_WEBHOOKS__WORKER_ENABLED": "false",
    }
    asyncio.run(_register(env, database, 1, 0))
    one = _serve_rss(env, args.settle_seconds)
    started = time.monotonic()
    asyncio.run(_register(env, database, args.projects - 1, 1))
    registered = time.monotonic() - started
    many = _serve_rss(env, args.settle_seconds)
    per_project = (many - one) / (args.projects - 1)
    result = {
        "projects": args.projects,
        "rss_one_project_mib": round(one / 1024, 1),
        "rss_all_projects_mib": round(many / 1024, 1),
        "per_idle_project_kib": round(per_project, 1),
        "registration_seconds": round(registered, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
