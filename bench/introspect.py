"""Benchmark: introspecting a 2,000-table schema must take well under 2 seconds.

Creates a throwaway database on the test server (``DBIFY_TEST_DATABASE_URL`` or the
local one), fills schema ``public`` with ``--tables`` tables of 8 columns, each with a
foreign key to an earlier table, a unique constraint, a junction table every 10 tables
and a view every 20, times ``introspect()`` ``--runs`` times, prints the figures and
drops the database.

Run: ``python bench/introspect.py [--tables 2000] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time

import asyncpg

from dbify.schema.introspect import introspect

_SERVER = os.environ.get("DBIFY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _schema_sql(tables: int) -> list[str]:
    """The DDL in batches: one batch is one transaction, and PostgreSQL's lock table
    cannot hold thousands of new tables in one."""
    statements = ["CREATE TYPE public.state AS ENUM ('new', 'open', 'closed');"]
    for i in range(tables):
        fk = f", parent_id integer REFERENCES public.t{i - 1} (id)" if i else ""
        statements.append(
            f"CREATE TABLE public.t{i} (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            f" code varchar(20) UNIQUE, name text NOT NULL DEFAULT 'x', amount numeric(10,2),"
            f" tags text[], data jsonb, state public.state, created_at timestamptz{fk});"
            f" COMMENT ON TABLE public.t{i} IS 'table {i}';"
        )
        if i % 10 == 9:
            statements.append(
                f"CREATE TABLE public.j{i} (a_id integer REFERENCES public.t{i - 1} (id),"
                f" b_id integer REFERENCES public.t{i} (id), PRIMARY KEY (a_id, b_id));"
            )
        if i % 20 == 19:
            statements.append(
                f"CREATE VIEW public.v{i} AS SELECT id, name, parent_id FROM public.t{i};"
            )
    for i in range(0, tables, 50):
        statements.append(
            f"CREATE FUNCTION public.f{i}(x integer, y text DEFAULT 'a') RETURNS SETOF public.t{i}"
            f" LANGUAGE sql STABLE AS 'SELECT * FROM public.t{i} WHERE id = x';"
        )
    return ["\n".join(statements[i : i + 200]) for i in range(0, len(statements), 200)]


async def _main(tables: int, runs: int) -> None:
    name = f"dbify_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{_SERVER.rpartition('/')[0]}/{name}"
    try:
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            for batch in _schema_sql(tables):
                await conn.execute(batch)
            print(f"created {tables} tables in {time.perf_counter() - started:.1f} s")
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                snapshot = await introspect(conn, ["public"])
                timings.append(time.perf_counter() - started)
            relationships = sum(len(r) for r in snapshot.relationships.values())
            columns = sum(len(r.columns) for r in snapshot.relations.values())
            print(
                f"relations={len(snapshot.relations)} columns={columns}"
                f" relationships={relationships} functions={len(snapshot.functions)}"
            )
            print(
                f"introspect() over {runs} runs: min {min(timings) * 1000:.0f} ms,"
                f" median {statistics.median(timings) * 1000:.0f} ms,"
                f" max {max(timings) * 1000:.0f} ms"
            )
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.tables, arguments.runs))
