"""Search inside ``dbify serve``: build the engine from the settings, load the stored
indexes, attach it to the data plane and the management API, start the periodic sync
and the push of data API writes (``engine.updates``; ``dbify serve`` adds it to
``app.changes`` next to the webhooks)."""

from __future__ import annotations

from fastapi import FastAPI

from dbify.app import DbifyApp
from dbify.backends.loader import build_search_backends
from dbify.control.plane import ControlPlane
from dbify.control.search.service import load_search_indexes, status_recorder
from dbify.control.search.store import SearchIndexStore
from dbify.search.engine import SearchEngine

__all__ = ["start_search"]


async def start_search(
    plane: ControlPlane, app: DbifyApp, management: FastAPI
) -> SearchEngine | None:
    """The running engine (the caller closes it), or None when search is turned off."""
    settings = plane.settings
    if not settings.search.enabled or plane.directory is None:
        return None
    text, vectors, embedder = build_search_backends(settings)
    store = SearchIndexStore(plane.store.engine)
    engine = SearchEngine(
        text,
        vectors=vectors,
        embedder=embedder,
        batch_size=settings.search.batch_size,
        on_status=status_recorder(store),
    )
    await load_search_indexes(store, engine)
    app.search = engine
    app.search_max_candidates = settings.search.max_candidates
    management.state.search_engine = engine
    engine.start_sync(
        plane.directory,
        settings.search.sync_interval_seconds,
        push_debounce_seconds=settings.search.push_debounce_seconds,
    )
    return engine
