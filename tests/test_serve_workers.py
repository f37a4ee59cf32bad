"""``dbify serve --workers 2``: two serving processes on one port under a supervisor.

- the supervisor refuses settings whose state lives in one process, naming what to set;
- 32 keep-alive connections land on both workers (SO_REUSEPORT), all answered;
- a key revoked (by the CLI, on the Redis event bus) is refused on every connection,
  whichever worker holds it, within a second;
- with a ClickHouse server (``.ci/run`` starts one), both workers' request logs go
  through one Redis stream to ClickHouse: every request appears exactly once;
- a worker killed with SIGKILL is replaced, and new connections meanwhile are answered;
- SIGTERM stops the whole tree gracefully (exit 0); a supervisor killed with SIGKILL
  takes its workers with it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from dbify.cli import main
from tests.fixtures.server import RunningServer, start_server, stop_server
from tests.fixtures.services import clickhouse_up
from tests.fixtures.waiting import until

pytestmark = pytest.mark.timing  # revocations within a second, several processes

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CONNECTIONS = 32


def _env(metadata_url: str) -> dict[str, str]:
    return {
        "DBIFY_METADATA__URL": metadata_url,
        "DBIFY_MASTER_KEY": Fernet.generate_key().decode(),
        "DBIFY_EVENTS__BACKEND": "redis",
        "DBIFY_EVENTS__REDIS_URL": REDIS_URL,
        "DBIFY_EVENTS__CHANNEL": f"test:events:{secrets.token_hex(4)}",
        "DBIFY_ANALYTICS__ENABLED": "false",
        "DBIFY_SEARCH__ENABLED": "false",
        "DBIFY_WEBHOOKS__WORKER_ENABLED": "false",
    }


def _analytics_env(database: str) -> dict[str, str]:
    """Each worker publishes to one Redis stream and runs a consumer of it (the group
    shares the work) writing the ClickHouse server."""
    return {
        "DBIFY_ANALYTICS__ENABLED": "true",
        "DBIFY_ANALYTICS__QUEUE": "redis",
        "DBIFY_ANALYTICS__QUEUE_URL": REDIS_URL,
        "DBIFY_ANALYTICS__QUEUE_NAME": f"test.request-log.{database}",
        "DBIFY_ANALYTICS__STORE": "clickhouse",
        "DBIFY_ANALYTICS__CLICKHOUSE_URL": f"clickhouse://127.0.0.1:9000/{database}",
        "DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2",
    }


def _workers_of(supervisor: int) -> list[int]:
    """The pids of the supervisor's serving processes (not multiprocessing's tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = []
    for pid in children:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.append(int(pid))
    return sorted(found)


def _serving(server: RunningServer, count: int) -> list[int]:
    """The workers' pids, once ``count`` of them run."""
    until(lambda: len(_workers_of(server.process.pid)) == count, 10)
    return _workers_of(server.process.pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _established_by_worker(workers: list[int], port: int) -> dict[int, int]:
    """How many established TCP connections on ``port`` each worker holds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    counts = {}
    for pid in workers:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts[pid] = held
    return counts


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dbify", *args],
        env={**os.environ, **env}, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.decode()


@dataclass
class Workers:
    server: RunningServer
    env: dict[str, str]
    clickhouse: str | None

    @property
    def port(self) -> int:
        return int(self.server.base_url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def workers(make_database: Callable[..., str]) -> Iterator[Workers]:
    env = _env(make_database())
    clickhouse = f"dbify_workers_{secrets.token_hex(4)}" if clickhouse_up() else None
    if clickhouse is not None:
        env.update(_analytics_env(clickhouse))
    server = start_server(make_database("fixture.sql"), "--workers", "2", env=env)
    try:
        _serving(server, 2)
        yield Workers(server, env, clickhouse)
    finally:
        stop_server(server)
        if clickhouse is not None:
            _drop(clickhouse, env["DBIFY_ANALYTICS__QUEUE_NAME"])


def _drop(database: str, stream: str) -> None:
    import redis
    from clickhouse_driver import Client

    client = Client("127.0.0.1")
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    client.disconnect()
    redis.Redis.from_url(REDIS_URL).delete(stream)


def _clients(server: RunningServer, key: str) -> list[httpx.Client]:
    return [
        httpx.Client(base_url=server.rest_url, headers={"apikey": key}, timeout=10)
        for _ in range(CONNECTIONS)
    ]


def test_one_process_backends_are_refused_with_what_to_set(tmp_path: Path) -> None:
    runner = CliRunner()
    alone = runner.invoke(
        main, ["serve", "--workers", "2", "--port", "0"], env={"DBIFY_DATA_DIR": str(tmp_path)}
    )
    assert alone.exit_code == 1
    for setting in (
        "DBIFY_METADATA__URL",
        "DBIFY_EVENTS__BACKEND",
        "DBIFY_ANALYTICS__QUEUE",
        "DBIFY_ANALYTICS__STORE",
    ):
        assert setting in alone.output
    assert "Traceback" not in alone.output
    shared = {
        **_env("postgresql://nobody@127.0.0.1:1/none"),
        "DBIFY_DATA_DIR": str(tmp_path),
        "DBIFY_AUTH__RATE_LIMIT_PER_KEY": "5",
    }
    limited = runner.invoke(main, ["serve", "--workers", "2", "--port", "0"], env=shared)
    assert limited.exit_code == 1
    assert "DBIFY_AUTH__RATE_LIMIT_REDIS_URL" in limited.output
    assert "DBIFY_METADATA__URL" not in limited.output
    assert list(tmp_path.iterdir()) == []  # refused before anything was made


def test_connections_spread_over_both_workers(workers: Workers) -> None:
    pids = _workers_of(workers.server.process.pid)
    assert len(pids) == 2
    clients = _clients(workers.server, workers.server.anon_key)
    try:
        for client in clients:
            r = client.get("/books?select=id&limit=1")
            assert r.status_code == 200, r.text
        held = _established_by_worker(pids, workers.port)
        assert sum(held.values()) == CONNECTIONS, held
        assert all(count > 0 for count in held.values()), held
    finally:
        for client in clients:
            client.close()


def test_a_revoked_key_is_refused_by_every_worker_within_a_second(workers: Workers) -> None:
    project = workers.server.id
    created = orjson.loads(_cli(workers.env, "keys", "create", project, "--name", "w", "--json"))
    clients = _clients(workers.server, created["key"])
    try:
        for client in clients:  # cached as valid in whichever worker holds the connection
            assert client.get("/books?select=id&limit=1").status_code == 200
        held = _established_by_worker(_workers_of(workers.server.process.pid), workers.port)
        assert all(count > 0 for count in held.values()), held
        _cli(workers.env, "keys", "revoke", project, created["id"])

        def refused_everywhere() -> bool:
            return all(c.get("/books?select=id&limit=1").status_code == 401 for c in clients)

        assert until(refused_everywhere, 1.0) < 1.0
    finally:
        for client in clients:
            client.close()


def test_every_request_of_both_workers_is_logged_once(workers: Workers) -> None:
    if workers.clickhouse is None:
        pytest.skip("needs a ClickHouse server on 127.0.0.1:9000 (.ci/run starts one)")
    from clickhouse_driver import Client

    agent = f"workers-test-{secrets.token_hex(4)}"
    clients = _clients(workers.server, workers.server.anon_key)
    try:
        for n, client in enumerate(clients * 3):
            r = client.get(f"/books?id=eq.{n}", headers={"user-agent": agent})
            assert r.status_code == 200
    finally:
        for client in clients:
            client.close()
    store = Client("127.0.0.1")
    query = (
        f"SELECT count(), uniqExact(event_id) FROM {workers.clickhouse}.request_log FINAL"
        f" WHERE user_agent = '{agent}'"
    )
    try:
        until(lambda: store.execute(query)[0][0] >= 3 * CONNECTIONS, 20)
        time.sleep(0.5)  # anything written twice would show by now
        assert store.execute(query) == [(3 * CONNECTIONS, 3 * CONNECTIONS)]
    finally:
        store.disconnect()


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(workers: Workers) -> None:
    supervisor = workers.server.process.pid
    victim, survivor = _workers_of(supervisor)
    os.kill(victim, signal.SIGKILL)
    until(lambda: not _alive(victim), 5)
    for n in range(40):  # new connections: only listening workers are chosen
        r = httpx.get(
            f"{workers.server.rest_url}/books?id=eq.{n}",
            headers={"apikey": workers.server.anon_key},
            timeout=10,
        )
        assert r.status_code == 200, r.text
    until(lambda: len(_workers_of(supervisor)) == 2, 30)
    replacement = next(pid for pid in _workers_of(supervisor) if pid != survivor)
    assert replacement != victim

    # Serving: connections spread over the new pair again.
    def both_serving() -> bool:
        clients = _clients(workers.server, workers.server.anon_key)
        try:
            ok = all(c.get("/books?select=id&limit=1").status_code == 200 for c in clients)
            held = _established_by_worker([survivor, replacement], workers.port)
            return ok and all(count > 0 for count in held.values())
        finally:
            for client in clients:
                client.close()

    until(both_serving, 30)


def test_sigterm_stops_every_worker_and_a_killed_supervisor_takes_them_along(
    make_database: Callable[..., str],
) -> None:
    env = _env(make_database())
    database = make_database("fixture.sql")
    for stop in (signal.SIGTERM, signal.SIGKILL):
        server = start_server(database, "--workers", "2", env=env)
        try:
            pids = _serving(server, 2)
            server.process.send_signal(stop)
            code = server.process.wait(30)
            assert code == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
            # Orphans are reparented and reaped by init; alive means still running.
            until(lambda: not any(_alive(pid) for pid in pids), 15)  # noqa: B023
        finally:
            stop_server(server)
