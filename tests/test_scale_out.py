"""Several instances: two ``dbify serve`` processes sharing a PostgreSQL metadata store,
Redis (event bus and rate limits) and RabbitMQ (request logs), in front of one project
database, with a standalone ``dbify worker request-log`` and ``dbify scheduler
--leader-lock`` beside them.

- requests spread over both instances are all answered;
- a key created on one works on the other, and a key revoked on one is refused by the
  other, within a second (Redis pub/sub broadcast, no per-request polling);
- a schema change noticed by the instance running the schema watch refreshes both;
- rate limits are shared (one bucket in Redis, whichever instance serves);
- killing one instance (SIGKILL) mid-load loses no acknowledged write.

- both instances publish request logs to one durable RabbitMQ queue (its own name per
  run); the worker writes them to the ClickHouse server, which both instances' stats APIs
  read: every request made appears there exactly once (skipped, with analytics off,
  when no ClickHouse server listens on 127.0.0.1:9000; ``.ci/run`` starts one);
- the scheduler (the instances' own schedulers are off) runs a per-second cron job,
  each occurrence once.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from tests.fixtures.server import RunningServer, start_server, stop_server
from tests.fixtures.services import clickhouse_up
from tests.fixtures.waiting import until

pytestmark = pytest.mark.timing  # revocations within a second, several servers

REDIS_URL = os.environ.get("DBIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("DBIFY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN = ("ops@example.com", "correct horse battery")
RATE_BURST = 100


async def _sql(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        if ";" in sql:
            await conn.execute(sql)
            return []
        return await conn.fetch(sql)
    finally:
        await conn.close()


@dataclass
class Cluster:
    one: RunningServer
    two: RunningServer
    database_url: str
    token: str  # a personal access token of an admin (management API)
    env: dict[str, str]
    clickhouse_database: str | None  # None: analytics off (no ClickHouse server)

    @property
    def project(self) -> str:
        return self.one.id


def _env(metadata_url: str) -> dict[str, str]:
    channel = f"test:events:{secrets.token_hex(4)}"
    return {
        "DBIFY_METADATA__URL": metadata_url,
        "DBIFY_MASTER_KEY": Fernet.generate_key().decode(),
        "DBIFY_EVENTS__BACKEND": "redis",
        "DBIFY_EVENTS__REDIS_URL": REDIS_URL,
        "DBIFY_EVENTS__CHANNEL": channel,
        "DBIFY_AUTH__RATE_LIMIT_PER_KEY": "0.5",
        "DBIFY_AUTH__RATE_LIMIT_BURST": str(RATE_BURST),
        "DBIFY_AUTH__RATE_LIMIT_REDIS_URL": REDIS_URL,
        "DBIFY_ANALYTICS__ENABLED": "false",
        "DBIFY_WEBHOOKS__WORKER_ENABLED": "false",
        "DBIFY_SCHEDULER__ENABLED": "false",
        "DBIFY_SCHEMA_WATCH__POLL_INTERVAL_SECONDS": "0.5",
        "DBIFY_SCHEMA_WATCH__DEBOUNCE_SECONDS": "0.1",
    }


def _analytics_env(database: str) -> dict[str, str]:
    """Request logs the scale-out way: serve publishes to a shared RabbitMQ queue (its own
    name per run), a standalone worker writes ClickHouse, serve reads ClickHouse."""
    return {
        "DBIFY_ANALYTICS__ENABLED": "true",
        "DBIFY_ANALYTICS__QUEUE": "rabbitmq",
        "DBIFY_ANALYTICS__QUEUE_URL": AMQP_URL,
        "DBIFY_ANALYTICS__QUEUE_NAME": f"test.request-log.{database}",
        "DBIFY_ANALYTICS__STORE": "clickhouse",
        "DBIFY_ANALYTICS__CLICKHOUSE_URL": f"clickhouse://127.0.0.1:9000/{database}",
        "DBIFY_ANALYTICS__WORKER_ENABLED": "false",
        "DBIFY_ANALYTICS__FLUSH_SECONDS": "0.2",
    }


def _start_process(env: dict[str, str], args: list[str], ready: bytes) -> subprocess.Popen[bytes]:
    """``dbify <args>`` with its own data dir, once it wrote ``ready`` on stderr."""
    data_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dbify-none")
    process = subprocess.Popen(
        [sys.executable, "-m", "dbify", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, **env, "DBIFY_DATA_DIR": data_dir},
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stderr], [], [], 1)
        line = process.stderr.readline() if readable else b""
        if ready in line:
            return process
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"dbify {' '.join(args)} did not start")


def _stop_process(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
    finally:
        if process.stderr is not None:
            process.stderr.close()


def _admin_token(base_url: str) -> str:
    with httpx.Client(base_url=f"{base_url}/api/v1", timeout=10) as api:
        r = api.post("/auth/sign-in", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        # The session cookie is Secure: send it by hand over the tests' plain HTTP.
        cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
        headers = {"x-csrf-token": csrf, "cookie": cookie}
        r = api.post("/users/me/tokens", json={"name": "ops"}, headers=headers)
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token


@pytest.fixture(scope="module")
def cluster(make_database: Callable[..., str]) -> Iterator[Cluster]:
    database_url = make_database("fixture.sql")
    anyio.run(
        _sql,
        database_url,
        "CREATE TABLE ledger (id serial PRIMARY KEY, note text NOT NULL);"
        " CREATE TABLE ticks (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());",
    )
    env = _env(make_database())
    clickhouse = f"dbify_scale_{secrets.token_hex(4)}" if clickhouse_up() else None
    if clickhouse is not None:
        env.update(_analytics_env(clickhouse))
    subprocess.run(
        [sys.executable, "-m", "dbify", "users", "create-admin", "--email", ADMIN[0]],
        env={**os.environ, **env, "DBIFY_ADMIN_PASSWORD": ADMIN[1],
             "DBIFY_DATA_DIR": os.path.join(os.environ.get("TMPDIR", "/tmp"), "dbify-none")},
        check=True, capture_output=True,
    )  # fmt: skip
    # Only the first instance watches schemas (one watcher per project in the fleet).
    one = start_server(database_url, env={**env, "DBIFY_SCHEMA_WATCH__ENABLED": "true"})
    two = start_server(database_url, env={**env, "DBIFY_SCHEMA_WATCH__ENABLED": "false"})
    helpers = [
        _start_process(
            {**env, "DBIFY_SCHEDULER__ENABLED": "true"},
            ["scheduler", "--leader-lock"],
            b"dbify scheduler running",
        )
    ]
    try:
        if clickhouse is not None:
            helpers.append(_start_process(env, ["worker", "request-log"], b"worker running"))
        assert one.id == two.id  # the same project, from the shared metadata store
        yield Cluster(one, two, database_url, _admin_token(one.base_url), env, clickhouse)
    finally:
        for server in (one, two):
            stop_server(server)  # also closes the pipe of the one killed by a test
        codes = [_stop_process(helper) for helper in helpers]
        if clickhouse is not None:
            _drop_analytics(clickhouse, env["DBIFY_ANALYTICS__QUEUE_NAME"])
        assert codes == [0] * len(helpers)  # both stop gracefully on SIGTERM


def _drop_analytics(database: str, queue: str) -> None:
    from clickhouse_driver import Client

    client = Client("127.0.0.1")
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    client.disconnect()

    async def delete_queue() -> None:
        import aio_pika

        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await connection.close()

    anyio.run(delete_queue)


def _get(server: RunningServer, path: str, key: str) -> httpx.Response:
    return httpx.get(f"{server.rest_url}{path}", headers={"apikey": key}, timeout=10)


def test_requests_spread_over_both_instances_are_answered(cluster: Cluster) -> None:
    for i in range(20):
        server = cluster.one if i % 2 else cluster.two
        key = cluster.one.service_key if i % 3 else cluster.two.service_key
        r = _get(server, "/books?select=title,author:authors(name)&limit=2", key)
        assert r.status_code == 200, r.text
        assert len(r.json()) == 2


def test_readyz_checks_the_shared_dependencies(cluster: Cluster) -> None:
    for server in (cluster.one, cluster.two):
        r = httpx.get(f"{server.base_url}/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["dependencies"] == {"metadata": "ok", "event_bus": "ok"}


def test_key_created_on_one_works_and_revoked_on_one_is_refused_by_the_other(
    cluster: Cluster,
) -> None:
    api = f"{cluster.one.base_url}/api/v1/projects/{cluster.project}/keys"
    auth = {"authorization": f"Bearer {cluster.token}"}
    r = httpx.post(api, json={"name": "mobile", "role": "service"}, headers=auth)
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    created = until(lambda: _get(cluster.two, "/authors?limit=1", key).status_code == 200, 1.0)

    assert _get(cluster.two, "/authors?limit=1", key).status_code == 200
    r = httpx.delete(f"{api}/{key_id}", headers=auth)
    assert r.status_code == 204, r.text
    assert _get(cluster.one, "/authors?limit=1", key).status_code == 401  # at once, locally
    revoked = until(lambda: _get(cluster.two, "/authors?limit=1", key).status_code == 401, 1.0)
    print(f"created key usable on the other instance after {created * 1000:.0f} ms; "
          f"revoked key refused after {revoked * 1000:.0f} ms")  # fmt: skip


def _cli(cluster: Cluster, *args: str) -> str:
    data_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dbify-none")
    done = subprocess.run(
        [sys.executable, "-m", "dbify", *args],
        env={**os.environ, **cluster.env, "DBIFY_DATA_DIR": data_dir},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def test_a_key_revoked_from_the_cli_is_refused_by_every_instance_within_a_second(
    cluster: Cluster,
) -> None:
    import json

    created = json.loads(_cli(cluster, "keys", "create", cluster.project, "--name", "cli",
                              "--role", "service", "--json"))  # fmt: skip
    key = created["key"]
    for server in (cluster.one, cluster.two):  # a CLI-made key is announced too
        until(lambda s=server: _get(s, "/authors?limit=1", key).status_code == 200, 1.0)  # type: ignore[misc]
    _cli(cluster, "keys", "revoke", cluster.project, created["id"])
    for server in (cluster.one, cluster.two):
        took = until(lambda s=server: _get(s, "/authors?limit=1", key).status_code == 401, 1.0)  # type: ignore[misc]
        print(f"CLI revocation applied after {took * 1000:.0f} ms")


def test_project_update_on_one_applies_on_the_other(cluster: Cluster) -> None:
    api = f"{cluster.one.base_url}/api/v1/projects/{cluster.project}"
    auth = {"authorization": f"Bearer {cluster.token}"}
    r = httpx.patch(api, json={"max_rows": 1}, headers=auth)
    assert r.status_code == 200, r.text
    try:
        until(lambda: len(_get(cluster.two, "/books", cluster.two.service_key).json()) == 1, 1.0)
    finally:
        r = httpx.patch(api, json={"max_rows": 1000}, headers=auth)
        assert r.status_code == 200, r.text
    until(lambda: len(_get(cluster.two, "/books", cluster.two.service_key).json()) > 1, 1.0)


def test_a_schema_change_refreshes_both_instances(cluster: Cluster) -> None:
    column = f"c_{secrets.token_hex(3)}"
    anyio.run(_sql, cluster.database_url, f"ALTER TABLE publishers ADD COLUMN {column} text;")
    path = f"/publishers?select=id,{column}&limit=1"
    for server in (cluster.one, cluster.two):
        until(lambda s=server: _get(s, path, s.service_key).status_code == 200, 10.0)  # type: ignore[misc]


def test_rate_limits_are_shared_between_instances(cluster: Cluster) -> None:
    api = f"{cluster.one.base_url}/api/v1/projects/{cluster.project}/keys"
    auth = {"authorization": f"Bearer {cluster.token}"}
    r = httpx.post(api, json={"name": "busy", "role": "service"}, headers=auth)
    key = r.json()["key"]
    until(lambda: _get(cluster.two, "/authors?limit=1", key).status_code == 200, 1.0)
    statuses: dict[str, list[int]] = {"one": [], "two": []}
    with httpx.Client(headers={"apikey": key}, timeout=10) as client:
        for i in range(RATE_BURST + 30):
            name, server = ("one", cluster.one) if i % 2 else ("two", cluster.two)
            statuses[name].append(client.get(f"{server.rest_url}/authors?limit=1").status_code)
    allowed = sum(s == 200 for v in statuses.values() for s in v)
    # One bucket of RATE_BURST (+ a few refilled at 0.5/s) for both instances together;
    # separate buckets would have let every request through.
    assert RATE_BURST - 2 <= allowed <= RATE_BURST + 15, allowed
    assert 429 in statuses["one"]
    assert 429 in statuses["two"]


def test_every_request_appears_once_in_analytics(cluster: Cluster) -> None:
    if cluster.clickhouse_database is None:
        pytest.skip("needs a ClickHouse server on 127.0.0.1:9000")
    from clickhouse_driver import Client

    api = f"{cluster.one.base_url}/api/v1/projects/{cluster.project}/keys"
    auth = {"authorization": f"Bearer {cluster.token}"}
    r = httpx.post(api, json={"name": "logged", "role": "service"}, headers=auth)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    until(lambda: _get(cluster.two, "/authors?limit=1", key).status_code == 200, 1.0)
    marker = f"scale-out-{secrets.token_hex(4)}"
    request_ids: set[str] = set()
    with httpx.Client(headers={"apikey": key, "user-agent": marker}, timeout=10) as client:
        for i in range(40):
            server = cluster.one if i % 2 else cluster.two
            r = client.get(f"{server.rest_url}/authors?limit=1")
            assert r.status_code == 200, r.text
            request_ids.add(r.headers["x-request-id"])
    assert len(request_ids) == 40

    table = f"{cluster.clickhouse_database}.request_log"

    def logged() -> list[tuple[str, int]]:
        rows: list[tuple[str, int]] = clickhouse.execute(
            f"SELECT request_id, count() FROM {table} FINAL"
            " WHERE user_agent = %(marker)s GROUP BY request_id",
            {"marker": marker},
        )
        return rows

    clickhouse = Client("127.0.0.1")
    try:
        took = until(lambda: len(logged()) >= 40, 20.0)
        time.sleep(0.5)  # anything published twice would have arrived by now
        rows = logged()
    finally:
        clickhouse.disconnect()
    assert {request_id for request_id, _ in rows} == request_ids
    assert all(count == 1 for _, count in rows)
    # Both instances answer the stats API from the shared store.
    for server in (cluster.one, cluster.two):
        r = httpx.get(
            f"{server.base_url}/api/v1/projects/{cluster.project}/stats",
            headers=auth, params={"bucket": "minute"}, timeout=30,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["totals"]["requests"] >= 40
    print(f"40 requests on two instances in analytics after {took * 1000:.0f} ms")


def test_the_standalone_scheduler_runs_each_occurrence_once(cluster: Cluster) -> None:
    jobs = f"{cluster.one.base_url}/api/v1/projects/{cluster.project}/cron/jobs"
    auth = {"authorization": f"Bearer {cluster.token}"}
    r = httpx.post(jobs, json={
        "name": "tick", "schedule": "* * * * * *",
        "action": {"kind": "sql", "sql": "INSERT INTO ticks DEFAULT VALUES"},
    }, headers=auth)  # fmt: skip
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    try:

        def ticks() -> int:
            rows = anyio.run(_sql, cluster.database_url, "SELECT count(*) AS n FROM ticks")
            return int(rows[0]["n"])

        until(lambda: ticks() >= 3, 10.0)
        r = httpx.get(f"{jobs}/{job}/runs", headers=auth, params={"limit": 100})
        assert r.status_code == 200, r.text
    finally:
        assert httpx.delete(f"{jobs}/{job}", headers=auth).status_code == 204
    runs = [run for run in r.json()["items"] if run["status"] == "succeeded"]
    occurrences = [run["scheduled_for"] for run in runs]
    # Each occurrence ran once, by the one scheduler (the instances' own are off).
    assert len(runs) >= 3
    assert len(occurrences) == len(set(occurrences)), occurrences


def test_killing_an_instance_loses_no_acknowledged_write(cluster: Cluster) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()

    def write(server: RunningServer) -> None:
        with httpx.Client(headers={"apikey": server.service_key}, timeout=5) as client:
            while not stop.is_set():
                note = secrets.token_hex(6)
                try:
                    r = client.post(f"{server.rest_url}/ledger", json={"note": note})
                except httpx.HTTPError:
                    continue  # the instance died: not acknowledged
                if r.status_code == 201:
                    acknowledged.append(note)

    threads = [threading.Thread(target=write, args=(s,)) for s in (cluster.one, cluster.two)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    cluster.one.process.kill()  # SIGKILL: no graceful shutdown
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    rows = anyio.run(_sql, cluster.database_url, "SELECT note FROM ledger")
    stored = {row["note"] for row in rows}
    assert acknowledged
    assert set(acknowledged) <= stored
    # The survivor still serves (its key's bucket may be empty after the burst: 429).
    assert _get(cluster.two, "/ledger?limit=1", cluster.two.service_key).status_code in (200, 429)
