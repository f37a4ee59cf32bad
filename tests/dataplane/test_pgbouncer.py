"""The data API through a real PgBouncer in transaction mode, under concurrency.

``dbify serve`` runs with ``DBIFY_DATABASE__PGBOUNCER=true`` against a database reached
through PgBouncer (20 server connections for 50 concurrent clients and a 30-connection
Dbify pool, so server connections are constantly shared between requests). A mixed
workload of reads with embeds, RPC, writes and JWT requests (role and claims set with
``set_config(..., true)``, RLS) must finish without a single error, and every JWT
request must see only its own user's rows: nothing may leak between transactions that
share a server connection.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio
import asyncpg
import httpx
import jwt
import pytest
from tests.auth.jwks_server import claims
from tests.fixtures.database import server_url
from tests.fixtures.pgbouncer import RunningPgBouncer
from tests.fixtures.server import RunningServer, start_server, stop_server

SECRET = "pgbouncer-test-secret-long-enough-for-hs256-0123456789"
CLIENTS = 50
REQUESTS = 1000


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
class Setup:
    server: RunningServer
    bouncer: RunningPgBouncer
    database_url: str
    role: str


@pytest.fixture(scope="module")
def setup(make_database: Callable[..., str], pgbouncer: RunningPgBouncer) -> Iterator[Setup]:
    role = f"web_{secrets.token_hex(4)}"
    url = make_database("fixture.sql")
    anyio.run(
        _sql,
        url,
        f"""
        CREATE ROLE {role} NOLOGIN;
        CREATE TABLE private_notes (id serial PRIMARY KEY, owner text NOT NULL, body text);
        INSERT INTO private_notes (owner, body)
          SELECT 'user' || (i % 10), 'note ' || i FROM generate_series(1, 100) i;
        ALTER TABLE private_notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON private_notes USING (
          owner = nullif(current_setting('request.jwt.claims', true), '')::json->>'sub');
        CREATE TABLE hits (id serial PRIMARY KEY, client int NOT NULL, n int NOT NULL);
        GRANT USAGE ON SCHEMA public TO {role};
        GRANT SELECT ON private_notes TO {role};
        CREATE FUNCTION whoami() RETURNS json LANGUAGE sql STABLE AS $$
          SELECT json_build_object('user', current_user,
            'sub', nullif(current_setting('request.jwt.claims', true), '')::json->>'sub') $$;
        GRANT EXECUTE ON FUNCTION whoami() TO {role};
        CREATE FUNCTION nap(seconds float) RETURNS int LANGUAGE sql VOLATILE AS $$
          SELECT 1 FROM pg_sleep(seconds) $$;
        """,
    )
    server = start_server(
        pgbouncer.url_for(url),
        env={
            "DBIFY_DATABASE__PGBOUNCER": "true",
            "DBIFY_DATABASE__POOL_SIZE": "30",
            "DBIFY_AUTH__JWT_SECRET": SECRET,
            "DBIFY_ANALYTICS__ENABLED": "false",
        },
    )
    try:
        yield Setup(server, pgbouncer, url, role)
    finally:
        stop_server(server)
        anyio.run(
            _sql, server_url(), f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)'
        )
        anyio.run(_sql, server_url(), f"DROP ROLE IF EXISTS {role}")


def _token(role: str, sub: str) -> str:
    return jwt.encode(claims(role=role, sub=sub), SECRET, algorithm="HS256")


async def _one(client: httpx.AsyncClient, setup: Setup, number: int) -> str | None:
    """One request of the mix; returns a description of what went wrong, or None."""
    kind = number % 6
    service = {"apikey": setup.server.service_key}
    if kind == 0:
        r = await client.get(
            "/books?select=title,author:authors(name),publisher:publishers(name)&order=id",
            headers=service,
        )
        ok = r.status_code == 200 and all("author" in b for b in r.json())
    elif kind == 1:
        a, b = random.randint(1, 1000), random.randint(1, 1000)
        r = await client.get(f"/rpc/add_numbers?a={a}&b={b}", headers=service)
        ok = r.status_code == 200 and r.json() == a + b
    elif kind == 2:
        r = await client.post(
            "/hits",
            json={"client": number, "n": number * 2},
            headers={**service, "prefer": "return=representation"},
        )
        ok = r.status_code == 201 and r.json()[0]["n"] == number * 2
    elif kind == 3:
        r = await client.patch(f"/hits?client=eq.{number - 1}", json={"n": -1}, headers=service)
        ok = r.status_code == 204
    elif kind == 4:
        sub = f"user{number % 10}"
        r = await client.get(
            "/private_notes?select=owner",
            headers={"authorization": f"Bearer {_token(setup.role, sub)}"},
        )
        owners = {row["owner"] for row in r.json()} if r.status_code == 200 else set()
        ok = r.status_code == 200 and owners == {sub} and len(r.json()) == 10
    else:
        sub = f"user{number % 7}"
        r = await client.post(
            "/rpc/whoami",
            json={},
            headers={"authorization": f"Bearer {_token(setup.role, sub)}"},
        )
        ok = r.status_code == 200 and r.json() == {"user": setup.role, "sub": sub}
    return None if ok else f"#{number} kind {kind}: {r.status_code} {r.text[:200]}"


async def _run_mix(setup: Setup) -> list[str]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(REQUESTS):
        queue.put_nowait(number)
    failures: list[str] = []

    async with httpx.AsyncClient(
        base_url=setup.server.rest_url, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            while not queue.empty():
                number = queue.get_nowait()
                try:
                    problem = await _one(client, setup, number)
                except httpx.HTTPError as error:
                    problem = f"#{number}: {type(error).__name__} {error}"
                if problem is not None:
                    failures.append(problem)

        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return failures


def test_mixed_workload_with_50_concurrent_clients_has_no_errors(setup: Setup) -> None:
    before = _xact_count(setup.bouncer.admin_url, setup.database_url)
    failures = asyncio.run(_run_mix(setup))
    assert failures == [], failures[:10]
    after = _xact_count(setup.bouncer.admin_url, setup.database_url)
    # Every request really went through PgBouncer (one or more transactions each).
    assert after - before >= REQUESTS
    inserted = anyio.run(_sql, setup.database_url, "SELECT count(*) AS n FROM hits")
    assert inserted[0]["n"] == REQUESTS // 6 + (1 if REQUESTS % 6 > 2 else 0)


def test_claims_do_not_survive_on_shared_server_connections(setup: Setup) -> None:
    """After JWT traffic, a plain service request sees no claims and no role: every
    setting was transaction-local, although PgBouncer reuses server connections."""
    for _ in range(20):
        r = httpx.post(
            f"{setup.server.rest_url}/rpc/whoami",
            json={},
            headers={"apikey": setup.server.service_key},
        )
        assert r.status_code == 200, r.text
        assert r.json()["sub"] is None
        assert r.json()["user"] != setup.role


def _xact_count(admin_url: str, database_url: str) -> int:
    """Transactions PgBouncer has run for the database (its admin console speaks only
    the simple query protocol, so ``psql``)."""
    name = database_url.rpartition("/")[2]
    out = subprocess.run(
        ["psql", "--csv", admin_url, "-c", "SHOW STATS"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = csv.DictReader(io.StringIO(out))
    return sum(int(row["total_xact_count"]) for row in rows if row["database"] == name)


def test_statement_timeout_is_not_sent_as_a_startup_parameter(setup: Setup) -> None:
    """PgBouncer 1.18 refuses unknown startup parameters: the project still works."""
    r = httpx.get(
        f"{setup.server.rest_url}/authors?select=id&limit=1",
        headers={"apikey": setup.server.service_key},
    )
    assert r.status_code == 200, r.text
    assert json.loads(r.text)


def test_project_statement_timeout_is_applied_per_transaction(setup: Setup) -> None:
    """Behind PgBouncer the timeout cannot be a startup parameter: the executor sets
    it per transaction, so a slow RPC is cancelled by PostgreSQL after 300 ms (504,
    57014) and leaves nothing running; ordinary requests are unaffected."""
    timed = start_server(
        setup.bouncer.url_for(setup.database_url),
        env={
            "DBIFY_DATABASE__PGBOUNCER": "true",
            "DBIFY_DATABASE__STATEMENT_TIMEOUT_MS": "300",
            "DBIFY_ANALYTICS__ENABLED": "false",
        },
    )
    try:
        key = {"apikey": timed.service_key}
        started = time.monotonic()
        r = httpx.post(f"{timed.rest_url}/rpc/nap", json={"seconds": 3}, headers=key, timeout=10)
        elapsed = time.monotonic() - started
        assert r.status_code == 504, r.text
        assert r.json()["code"] == "57014"
        assert elapsed < 2, elapsed
        running = anyio.run(
            _sql,
            setup.database_url,
            "SELECT count(*) AS n FROM pg_stat_activity"
            " WHERE query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()"
            # The cluster is shared with the tests running in parallel; some sleep too.
            " AND datname = current_database()",
        )
        assert running[0]["n"] == 0
        # A short call and a plain read (the autocommit path, now in a timed
        # transaction) still work.
        r = httpx.post(f"{timed.rest_url}/rpc/nap", json={"seconds": 0.05}, headers=key)
        assert r.status_code == 200, r.text
        r = httpx.get(f"{timed.rest_url}/authors?select=id&limit=1", headers=key)
        assert r.status_code == 200, r.text
        assert r.json()
    finally:
        stop_server(timed)
