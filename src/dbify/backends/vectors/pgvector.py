"""Vectors in PostgreSQL with pgvector: a Dbify-owned database, never a user's.

``DBIFY_SEARCH__PGVECTOR_URL`` names a database Dbify may create objects in (a
dedicated one, or the metadata PostgreSQL); the ``vector`` extension must be available
there. Everything lives in the schema ``dbify_vectors``: one table per collection
version (``id text primary key, embedding vector(n)``) and ``collections``, which maps a
collection name to its current version. ``rebuild`` fills a new version and switches
the mapping in one transaction (searches keep using the old one meanwhile), then
drops the old table. Searches are exact (``ORDER BY embedding <=> $1``, cosine); an
HNSW index can be added to a version table without changing the interface.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg

from dbify.backends.vectors.base import VectorHit, VectorStoreError

__all__ = ["PgVectorStore"]

_Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_SCHEMA = "dbify_vectors"
_SETUP = f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS {_SCHEMA};
CREATE TABLE IF NOT EXISTS {_SCHEMA}.collections (name text PRIMARY KEY, version text NOT NULL);
"""


def _table(version: str) -> str:
    return f'{_SCHEMA}."{version.replace(chr(34), "")}"'


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


class PgVectorStore:
    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        self._url = url
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None

    async def _connect(self) -> asyncpg.Pool:
        if self._pool is None:
            try:
                pool = await asyncpg.create_pool(self._url, min_size=0, max_size=self._max)
                # Concurrent first connections would race on CREATE EXTENSION.
                async with pool.acquire() as conn, conn.transaction():
                    lock = "SELECT pg_advisory_xact_lock(hashtext('dbify_vectors'))"
                    await conn.execute(lock)
                    await conn.execute(_SETUP)
            except (OSError, asyncpg.PostgresError) as error:
                raise VectorStoreError(f"pgvector store unavailable: {error}") from error
            self._pool = pool
        return self._pool

    @staticmethod
    async def _current(conn: _Connection, name: str) -> str | None:
        query = f"SELECT version FROM {_SCHEMA}.collections WHERE name = $1"
        version: str | None = await conn.fetchval(query, name)
        return version

    @staticmethod
    async def _create(conn: _Connection, version: str, dimensions: int) -> None:
        await conn.execute(
            f"CREATE TABLE {_table(version)} "
            f"(id text PRIMARY KEY, embedding vector({int(dimensions)}) NOT NULL)"
        )

    @staticmethod
    async def _write(
        conn: _Connection, version: str, items: Sequence[tuple[str, list[float]]]
    ) -> None:
        await conn.executemany(
            f"INSERT INTO {_table(version)} (id, embedding) VALUES ($1, $2::text::vector) "
            "ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding",
            [(i, _literal(v)) for i, v in items],
        )

    async def _point(self, conn: _Connection, name: str, version: str | None) -> None:
        """Make ``version`` current (None: no collection), dropping the previous table."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", name)
            previous = await self._current(conn, name)
            if version is None:
                await conn.execute(f"DELETE FROM {_SCHEMA}.collections WHERE name = $1", name)
            else:
                await conn.execute(
                    f"INSERT INTO {_SCHEMA}.collections (name, version) VALUES ($1, $2) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    name,
                    version,
                )
            if previous is not None and previous != version:
                await conn.execute(f"DROP TABLE IF EXISTS {_table(previous)}")

    async def rebuild(
        self, name: str, batches: AsyncIterator[Sequence[tuple[str, list[float]]]]
    ) -> int:
        pool = await self._connect()
        version = f"c_{uuid.uuid4().hex}"
        count, created = 0, False
        try:
            async for batch in batches:
                if not batch:
                    continue
                async with pool.acquire() as conn:
                    if not created:
                        await self._create(conn, version, len(batch[0][1]))
                        created = True
                    await self._write(conn, version, batch)
                count += len(batch)
            async with pool.acquire() as conn:
                await self._point(conn, name, version if created else None)
        except (OSError, asyncpg.PostgresError) as error:
            raise VectorStoreError(f"pgvector rebuild of {name} failed: {error}") from error
        return count

    async def upsert(self, name: str, items: Sequence[tuple[str, list[float]]]) -> None:
        if not items:
            return
        pool = await self._connect()
        try:
            async with pool.acquire() as conn:
                version = await self._current(conn, name)
                if version is None:
                    version = f"c_{uuid.uuid4().hex}"
                    await self._create(conn, version, len(items[0][1]))
                    await self._write(conn, version, items)
                    await self._point(conn, name, version)
                    return
                await self._write(conn, version, items)
        except (OSError, asyncpg.PostgresError) as error:
            raise VectorStoreError(f"pgvector upsert into {name} failed: {error}") from error

    async def delete(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        pool = await self._connect()
        try:
            async with pool.acquire() as conn:
                version = await self._current(conn, name)
                if version is not None:
                    query = f"DELETE FROM {_table(version)} WHERE id = ANY($1::text[])"
                    await conn.execute(query, list(ids))
        except (OSError, asyncpg.PostgresError) as error:
            raise VectorStoreError(f"pgvector delete from {name} failed: {error}") from error

    async def search(self, name: str, vector: list[float], *, limit: int) -> list[VectorHit]:
        if limit <= 0:
            return []
        pool = await self._connect()
        try:
            async with pool.acquire() as conn:
                version = await self._current(conn, name)
                if version is None:
                    return []
                rows = await conn.fetch(
                    f"SELECT id, 1 - (embedding <=> $1::text::vector) AS score "
                    f"FROM {_table(version)} ORDER BY embedding <=> $1::text::vector LIMIT $2",
                    _literal(vector),
                    limit,
                )
        except asyncpg.UndefinedTableError:
            return []  # dropped by a concurrent rebuild between the two statements
        except (OSError, asyncpg.PostgresError) as error:
            raise VectorStoreError(f"pgvector search of {name} failed: {error}") from error
        return [VectorHit(str(r["id"]), float(r["score"])) for r in rows]

    async def drop(self, name: str) -> None:
        pool = await self._connect()
        try:
            async with pool.acquire() as conn:
                await self._point(conn, name, None)
        except (OSError, asyncpg.PostgresError) as error:
            raise VectorStoreError(f"pgvector drop of {name} failed: {error}") from error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
