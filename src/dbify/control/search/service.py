"""Rules for search indexes: who may manage them (admins; members may read), what a
valid index is (an existing relation, a single-column primary key, existing columns),
and keeping the search engine and the store in step.

Builds run in the background unless the caller asks to wait; their progress and
errors reach the store through ``record_status`` (the engine's status sink).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from dbify.control.access import Caller
from dbify.control.errors import ControlCodes, control_error
from dbify.control.projects.service import ProjectService
from dbify.control.search.schemas import SearchIndexCreate, SearchIndexOut, SearchIndexProgress
from dbify.control.search.store import SearchIndexRecord, SearchIndexStore
from dbify.dataplane.project import Project, ProjectDirectory
from dbify.search.config import BuildProgress, IndexConfig, IndexStatus
from dbify.search.engine import SearchEngine

__all__ = ["SearchIndexService", "config_of", "load_search_indexes", "status_recorder"]

_background: set[asyncio.Task[Any]] = set()


def config_of(record: SearchIndexRecord) -> IndexConfig:
    return IndexConfig(
        id=record.id,
        project_id=record.project_id,
        schema=record.schema_name,
        table=record.table_name,
        key=record.key_column,
        key_type=record.key_type,
        text_columns=dict(record.text_columns),
        return_columns=tuple(record.return_columns),
        semantic=record.semantic,
    )


def status_recorder(store: SearchIndexStore) -> Any:
    """The engine's status sink: write each build's outcome to the store."""

    async def record(status: IndexStatus) -> None:
        values: dict[str, Any] = {"state": status.state, "last_error": status.error}
        if status.state == "ready":
            values |= {"rows_indexed": status.rows_indexed, "indexed_at": datetime.now(UTC)}
            values["watermark"] = status.watermark
        await store.set_status(status.index_id, values)

    return record


async def load_search_indexes(store: SearchIndexStore, engine: SearchEngine) -> int:
    """Tell the engine about every stored index (at start-up); returns how many."""
    records = await store.all()
    for record in records:
        engine.configure(config_of(record), record.watermark)
    return len(records)


def _out(record: SearchIndexRecord, building: BuildProgress | None) -> SearchIndexOut:
    progress = None
    if building is not None and record.state == "building":
        progress = SearchIndexProgress(
            rows_done=building.rows_done,
            rows_total=building.rows_total,
            percent=round(100 * building.fraction, 1),
        )
    lag = None
    if record.indexed_at is not None:
        lag = (datetime.now(UTC) - record.indexed_at).total_seconds()
    return SearchIndexOut(
        id=record.id,
        project_id=record.project_id,
        schema_name=record.schema_name,
        table=record.table_name,
        key_column=record.key_column,
        text_columns=record.text_columns,
        return_columns=record.return_columns,
        semantic=record.semantic,
        state=record.state,
        rows_indexed=record.rows_indexed,
        last_error=record.last_error,
        created_at=record.created_at,
        indexed_at=record.indexed_at,
        lag_seconds=lag,
        progress=progress,
    )


class SearchIndexService:
    def __init__(
        self,
        store: SearchIndexStore,
        projects: ProjectService,
        engine: SearchEngine,
        directory: ProjectDirectory,
    ) -> None:
        self._store = store
        self._projects = projects
        self._engine = engine
        self._directory = directory

    def _live(self, project_id: str) -> Project:
        project = self._directory.get(project_id)
        if project is None:
            raise control_error(ControlCodes.PROJECT_PAUSED, "The project is not being served")
        return project

    async def create(
        self, caller: Caller, project_id: str, body: SearchIndexCreate, *, wait: bool
    ) -> SearchIndexOut:
        await self._projects.require_role(caller, project_id, "admin")
        project = self._live(project_id)
        relation = project.snapshot.relation(body.schema_name, body.table)
        if relation is None:
            raise control_error(
                ControlCodes.INVALID_REQUEST, f"No table '{body.schema_name}.{body.table}'"
            )
        if len(relation.primary_key) != 1:
            raise control_error(
                ControlCodes.INVALID_REQUEST, "Search needs a table with a one-column primary key"
            )
        returned = body.return_columns or [c.name for c in relation.columns]
        unknown = [c for c in [*body.text_columns, *returned] if relation.column(c) is None]
        if unknown:
            raise control_error(ControlCodes.INVALID_REQUEST, f"Unknown columns: {unknown}")
        if any(w <= 0 for w in body.text_columns.values()):
            raise control_error(ControlCodes.INVALID_REQUEST, "Weights must be positive")
        if body.semantic and not self._engine.semantic_available:
            raise control_error(
                ControlCodes.INVALID_REQUEST,
                "Semantic search needs an embedder",
                hint="Set DBIFY_SEARCH__EMBEDDER=minilm (dbify[semantic]) or openai.",
            )
        if await self._store.find(project_id, body.schema_name, body.table) is not None:
            raise control_error(ControlCodes.CONFLICT, f"'{body.table}' already has an index")
        key = relation.primary_key[0]
        key_column = relation.column(key)
        assert key_column is not None
        record = SearchIndexRecord(
            id=uuid.uuid4().hex[:16],
            project_id=project_id,
            schema_name=body.schema_name,
            table_name=body.table,
            key_column=key,
            key_type=key_column.data_type,
            text_columns=dict(body.text_columns),
            return_columns=list(returned),
            semantic=body.semantic,
            state="building",
            rows_indexed=0,
            last_error=None,
            watermark=None,
            created_at=datetime.now(UTC),
            indexed_at=None,
        )
        await self._store.insert(record)
        self._engine.configure(config_of(record))
        await self._build(project, record, wait=wait, full=True)
        return await self.get(caller, project_id, record.id)

    async def _build(
        self, project: Project, record: SearchIndexRecord, *, wait: bool, full: bool
    ) -> None:
        config = config_of(record)
        run = self._engine.rebuild if full else self._engine.refresh
        if wait:
            await run(project.pool, config)
            return
        task = asyncio.create_task(run(project.pool, config))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _record(self, caller: Caller, project_id: str, index_id: str, role: Any) -> Any:
        await self._projects.require_role(caller, project_id, role)
        record = await self._store.get(project_id, index_id)
        if record is None:
            raise control_error(ControlCodes.NOT_FOUND, f"Search index '{index_id}' not found")
        return record

    async def list(self, caller: Caller, project_id: str) -> list[SearchIndexOut]:
        await self._projects.require_role(caller, project_id, "viewer")
        records = await self._store.of_project(project_id)
        return [_out(r, self._engine.progress(r.id)) for r in records]

    async def get(self, caller: Caller, project_id: str, index_id: str) -> SearchIndexOut:
        record = await self._record(caller, project_id, index_id, "viewer")
        return _out(record, self._engine.progress(record.id))

    async def rebuild(
        self, caller: Caller, project_id: str, index_id: str, *, wait: bool, full: bool
    ) -> SearchIndexOut:
        """``full``: a zero-downtime reindex; otherwise a catch-up refresh."""
        record = await self._record(caller, project_id, index_id, "admin")
        await self._build(self._live(project_id), record, wait=wait, full=full)
        return await self.get(caller, project_id, index_id)

    async def delete(self, caller: Caller, project_id: str, index_id: str) -> None:
        record = await self._record(caller, project_id, index_id, "admin")
        await self._store.delete(record.id)
        await self._engine.forget(config_of(record))
