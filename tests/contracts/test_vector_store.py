"""The contract every vector store keeps: LanceDB, and pgvector in an embedded PostgreSQL
(the ``pgserver`` package bundles PG 16 + pgvector; Debian has no pgvector package for
PG 15) or the server named by ``DBIFY_TEST_PGVECTOR_URL``."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dbify.backends.vectors import VectorStore
from dbify.backends.vectors.lance import LanceVectorStore
from dbify.backends.vectors.pgvector import PgVectorStore

pytestmark = pytest.mark.anyio

_ITEMS = [("1", [1.0, 0.0, 0.0]), ("2", [0.0, 1.0, 0.0]), ("3", [0.7071, 0.7071, 0.0])]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A PostgreSQL with pgvector, owned by the tests (never a user database)."""
    configured = os.environ.get("DBIFY_TEST_PGVECTOR_URL")
    if configured:
        yield configured
        return
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR as root
        warnings.simplefilter("ignore")
        try:
            from pgserver.postgres_server import get_server
        except ImportError:
            pytest.skip("needs a pgvector server: pgserver or DBIFY_TEST_PGVECTOR_URL")
        data = Path(tempfile.mkdtemp(prefix="dbify-pgvector-"))
        server: Any = get_server(data, cleanup_mode="stop")
    try:
        yield str(server.get_uri("postgres"))
    finally:
        server.cleanup()


@pytest.fixture(params=["lancedb", "pgvector"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    made: VectorStore
    if request.param == "pgvector":
        url = request.getfixturevalue("pgvector_url")
        made = PgVectorStore(url)
        yield made
        await made.drop("books")
    else:
        made = LanceVectorStore(tmp_path / "vectors")
        yield made
    await made.close()


async def _batches(
    items: Sequence[tuple[str, list[float]]],
) -> AsyncIterator[list[tuple[str, list[float]]]]:
    for start in range(0, len(items), 2):
        yield list(items[start : start + 2])


async def test_nearest_first_with_cosine_scores(store: VectorStore) -> None:
    assert await store.rebuild("books", _batches(_ITEMS)) == 3
    hits = await store.search("books", [0.9, 0.1, 0.0], limit=2)
    assert [h.id for h in hits] == ["1", "3"]
    assert 0.9 < hits[0].score <= 1.0


async def test_upsert_delete_rebuild_drop(store: VectorStore) -> None:
    await store.upsert("books", _ITEMS)
    await store.upsert("books", [("2", [1.0, 0.0, 0.0]), ("4", [0.0, 0.0, 1.0])])
    assert {h.id for h in await store.search("books", [1.0, 0.0, 0.0], limit=2)} == {"1", "2"}
    await store.delete("books", ["1", "missing"])
    assert [h.id for h in await store.search("books", [0.0, 0.0, 1.0], limit=1)] == ["4"]
    await store.rebuild("books", _batches([("9", [0.0, 1.0, 0.0])]))
    assert [h.id for h in await store.search("books", [1.0, 0.0, 0.0], limit=5)] == ["9"]
    await store.drop("books")
    await store.drop("books")
    assert await store.search("books", [1.0, 0.0, 0.0], limit=5) == []
