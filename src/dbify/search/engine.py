"""The search runtime: index configs, building and refreshing indexes, ranked candidates.

One ``SearchEngine`` per process holds the configured indexes (the control plane
tells it about changes), the full-text backend, and for semantic search an embedder
and a vector store. It keeps indexes in sync three ways:

- ``rebuild``: a full backfill in key-ordered batches into a new index version,
  swapped in atomically (searches keep using the old version meanwhile);
- ``refresh``: catch-up of rows changed since the last pass (``xmin`` watermark) and
  removal of deleted rows (key-set comparison); the first refresh is a rebuild;
- ``refresh_keys``: re-read just the rows with these keys (writes made through the
  data API, pushed by ``dbify.search.updates``: searchable within a fraction of a second);
- a background loop (``start_sync``) that refreshes every index periodically, which
  covers writes made directly in the database (and anything a push missed).

Ranking only: rows are read back by the search endpoint with the caller's role.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import asyncpg

from dbify.backends.embeddings import Embedder
from dbify.backends.search import Document, SearchBackend, TextHit
from dbify.backends.vectors import VectorHit, VectorStore
from dbify.dataplane.project import ProjectDirectory
from dbify.search.config import BuildProgress, IndexConfig, IndexStatus
from dbify.search.source import (
    all_keys,
    changed_rows,
    row_batches,
    row_count,
    rows_by_keys,
    watermark,
)
from dbify.search.updates import IndexUpdates

__all__ = ["SearchEngine", "SemanticSearchUnavailable", "StatusSink"]

_log = logging.getLogger("dbify.search")
StatusSink = Callable[[IndexStatus], Awaitable[None]]


class SemanticSearchUnavailable(Exception):
    """No embedder is configured (settings.search.embedder = none)."""


def _text(document: Document) -> str:
    return ". ".join(v for v in document.values.values() if v)


class SearchEngine:
    def __init__(
        self,
        text: SearchBackend,
        *,
        vectors: VectorStore | None = None,
        embedder: Embedder | None = None,
        batch_size: int = 1000,
        on_status: StatusSink | None = None,
    ) -> None:
        self.text = text
        self.vectors = vectors
        self.embedder = embedder
        self._batch_size = batch_size
        self._on_status = on_status
        self._configs: dict[tuple[str, str, str], IndexConfig] = {}
        self._watermarks: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Running backfills by index id; kept in memory (the process that builds is the
        # one serving the management API that reports it), gone when the build ends.
        self._progress: dict[str, BuildProgress] = {}
        self._sync: asyncio.Task[None] | None = None
        # Data API writes pushed in (a ChangeSink for app.changes); set by start_sync.
        self.updates: IndexUpdates | None = None

    # -- configuration -----------------------------------------------------------

    def configure(self, config: IndexConfig, watermark: int | None = None) -> None:
        self._configs[(config.project_id, config.schema, config.table)] = config
        if watermark is not None:
            self._watermarks[config.id] = watermark

    async def forget(self, config: IndexConfig) -> None:
        self._configs.pop((config.project_id, config.schema, config.table), None)
        self._watermarks.pop(config.id, None)
        await self.text.drop(config.spec)
        if self.vectors is not None:
            await self.vectors.drop(config.name)

    def find(self, project_id: str, schema: str, table: str) -> IndexConfig | None:
        return self._configs.get((project_id, schema, table))

    def configs(self) -> list[IndexConfig]:
        return list(self._configs.values())

    def progress(self, index_id: str) -> BuildProgress | None:
        """How far the running backfill of this index is; None when none runs."""
        return self._progress.get(index_id)

    @property
    def semantic_available(self) -> bool:
        return self.embedder is not None and self.vectors is not None

    # -- building ----------------------------------------------------------------

    def _lock(self, config: IndexConfig) -> asyncio.Lock:
        return self._locks.setdefault(config.id, asyncio.Lock())

    async def _report(self, status: IndexStatus) -> None:
        if self._on_status is not None:
            try:
                await self._on_status(status)
            except Exception:  # status is informative; a store hiccup must not fail a build
                _log.exception("could not record the status of search index %s", status.index_id)

    async def rebuild(self, pool: asyncpg.Pool, config: IndexConfig) -> IndexStatus:
        """Backfill the whole table into a fresh index version (text, then vectors)."""
        async with self._lock(config):
            await self._report(IndexStatus(config.id, "building", 0))
            try:
                mark = await watermark(pool)
                passes = 2 if config.semantic else 1
                self._progress[config.id] = BuildProgress(0, passes * await row_count(pool, config))
                batches = self._counted(config.id, row_batches(pool, config, self._batch_size))
                count = await self.text.rebuild(config.spec, batches)
                if config.semantic:
                    await self._rebuild_vectors(pool, config)
            except Exception as error:
                status = IndexStatus(config.id, "failed", 0, error=_describe(error))
                await self._report(status)
                return status
            finally:
                self._progress.pop(config.id, None)
            self._watermarks[config.id] = mark
            status = IndexStatus(config.id, "ready", count, watermark=mark)
            await self._report(status)
            return status

    async def _rebuild_vectors(self, pool: asyncpg.Pool, config: IndexConfig) -> None:
        vectors, embedder = self._semantic()

        async def embedded() -> AsyncIterator[list[tuple[str, list[float]]]]:
            batches = self._counted(config.id, row_batches(pool, config, self._batch_size))
            async for batch in batches:
                yield await self._embed(embedder, batch)

        await vectors.rebuild(config.name, embedded())

    async def _counted(
        self, index_id: str, batches: AsyncIterator[list[Document]]
    ) -> AsyncIterator[list[Document]]:
        """``batches`` unchanged, counting each into the build's progress as it is read
        (rows written to a table meanwhile can take it past the total: capped at 100 %)."""
        async for batch in batches:
            yield batch
            progress = self._progress.get(index_id)
            if progress is not None:
                done = min(progress.rows_done + len(batch), progress.rows_total)
                self._progress[index_id] = BuildProgress(done, progress.rows_total)

    def _semantic(self) -> tuple[VectorStore, Embedder]:
        if self.vectors is None or self.embedder is None:
            raise SemanticSearchUnavailable(
                "semantic search needs an embedder: set DBIFY_SEARCH__EMBEDDER"
            )
        return self.vectors, self.embedder

    @staticmethod
    async def _embed(
        embedder: Embedder, documents: Sequence[Document]
    ) -> list[tuple[str, list[float]]]:
        vectors = await embedder.embed([_text(d) for d in documents])
        return [(d.id, v) for d, v in zip(documents, vectors, strict=True)]

    async def refresh(self, pool: asyncpg.Pool, config: IndexConfig) -> IndexStatus:
        """Catch up with changed and deleted rows; the first time, a full rebuild."""
        since = self._watermarks.get(config.id)
        if since is None:
            if self._lock(config).locked():
                # The first backfill is running and will read every row: queueing a
                # second full rebuild behind it would index the table twice.
                return IndexStatus(config.id, "building", 0)
            return await self.rebuild(pool, config)
        async with self._lock(config):
            try:
                mark = await watermark(pool)
                changed = await changed_rows(pool, config, since)
                keys = await all_keys(pool, config)
                gone = sorted((await self.text.ids(config.spec)) - keys)
                await self.text.upsert(config.spec, changed)
                await self.text.delete(config.spec, gone)
                if config.semantic:
                    vectors, embedder = self._semantic()
                    await vectors.upsert(config.name, await self._embed(embedder, changed))
                    await vectors.delete(config.name, gone)
            except Exception as error:
                status = IndexStatus(config.id, "failed", 0, error=_describe(error))
                await self._report(status)
                return status
            self._watermarks[config.id] = mark
            status = IndexStatus(config.id, "ready", len(keys), watermark=mark)
            await self._report(status)
            return status

    async def refresh_keys(self, pool: asyncpg.Pool, config: IndexConfig, keys: list[str]) -> None:
        """Re-index the rows with these keys: upsert those that exist, delete the others.
        Does not move the watermark (the periodic catch-up still re-reads them, harmlessly).
        Before the first build there is nothing to update: the build will read them."""
        if config.id not in self._watermarks or not keys:
            return
        async with self._lock(config):
            found = await rows_by_keys(pool, config, keys)
            gone = sorted(set(keys) - {d.id for d in found})
            if found:
                await self.text.upsert(config.spec, found)
            if gone:
                await self.text.delete(config.spec, gone)
            if config.semantic:
                vectors, embedder = self._semantic()
                if found:
                    await vectors.upsert(config.name, await self._embed(embedder, found))
                await vectors.delete(config.name, gone)

    # -- periodic sync -------------------------------------------------------------

    def start_sync(
        self,
        directory: ProjectDirectory,
        interval_seconds: float,
        *,
        push_debounce_seconds: float = 0.2,
    ) -> None:
        """Refresh every index each ``interval_seconds``, and apply pushed data API
        writes (``self.updates``) ``push_debounce_seconds`` after they arrive."""
        self._sync = asyncio.create_task(self._run_sync(directory, interval_seconds))
        self.updates = IndexUpdates(self, directory, debounce_seconds=push_debounce_seconds)
        self.updates.start()

    async def _run_sync(self, directory: ProjectDirectory, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            for config in self.configs():
                project = directory.get(config.project_id)
                if project is not None:
                    await self.refresh(project.pool, config)

    async def close(self) -> None:
        if self.updates is not None:
            await self.updates.stop()
        if self._sync is not None:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
            self._sync = None
        await self.text.close()
        if self.vectors is not None:
            await self.vectors.close()

    # -- candidates ------------------------------------------------------------------

    async def text_hits(self, config: IndexConfig, query: str, limit: int) -> list[TextHit]:
        return await self.text.search(config.spec, query, limit=limit)

    async def semantic_hits(self, config: IndexConfig, query: str, limit: int) -> list[VectorHit]:
        vectors, embedder = self._semantic()
        [vector] = await embedder.embed([query])
        return await vectors.search(config.name, vector, limit=limit)


def _describe(error: Exception) -> str:
    if isinstance(error, asyncpg.PostgresError):
        return f"database: {error}"
    return f"{type(error).__name__}: {error}"[:500]
