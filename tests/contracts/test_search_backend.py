"""The contract every full-text search backend keeps (tantivy here; Elasticsearch and
OpenSearch where a server is reachable: DBIFY_TEST_ELASTICSEARCH_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from dbify.backends.search import Document, IndexSpec, SearchBackend

pytestmark = pytest.mark.anyio

_BOOKS = [
    Document("1", {"title": "Fixing cars at home", "blurb": "engines and brakes"}),
    Document("2", {"title": "A history of gardens", "blurb": "roses"}),
    Document("3", {"title": "Gardening for beginners", "blurb": "cars are not covered"}),
    Document("4", {"title": "Quantum physics", "blurb": None}),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(
    params=[
        "tantivy",
        pytest.param("elasticsearch", marks=pytest.mark.needs_server("elasticsearch")),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    if request.param == "tantivy":
        from dbify.backends.search.tantivy_index import TantivyBackend

        made: SearchBackend = TantivyBackend(tmp_path / "search")
    else:
        url = os.environ.get("DBIFY_TEST_ELASTICSEARCH_URL")
        if not url:
            pytest.skip("needs an Elasticsearch/OpenSearch server: DBIFY_TEST_ELASTICSEARCH_URL")
        from dbify.backends.search.elasticsearch import ElasticsearchBackend

        made = ElasticsearchBackend(url, prefix=f"dbifytest{uuid.uuid4().hex[:8]}")
    yield made
    await made.close()


def _spec() -> IndexSpec:
    return IndexSpec(f"p_{uuid.uuid4().hex[:10]}", {"title": 2.0, "blurb": 1.0})


async def _batches(documents: Sequence[Document], size: int = 2) -> AsyncIterator[list[Document]]:
    for start in range(0, len(documents), size):
        yield list(documents[start : start + size])


async def test_rebuild_then_search_ranks_weighted_fields_first(backend: SearchBackend) -> None:
    spec = _spec()
    assert await backend.rebuild(spec, _batches(_BOOKS)) == 4
    hits = await backend.search(spec, "cars", limit=10)
    # "cars" in the title (weight 2) beats "cars" in the blurb (weight 1).
    assert [h.id for h in hits][:2] == ["1", "3"]
    assert hits[0].score > hits[1].score
    assert "<b>" in hits[0].highlights["title"].lower()
    await backend.drop(spec)


async def test_typos_still_match(backend: SearchBackend) -> None:
    spec = _spec()
    await backend.rebuild(spec, _batches(_BOOKS))
    assert [h.id for h in await backend.search(spec, "gardnes", limit=5)] == ["2"]
    assert await backend.search(spec, "gardnes", limit=5, fuzzy=False) == []
    await backend.drop(spec)


async def test_upsert_delete_and_ids(backend: SearchBackend) -> None:
    spec = _spec()
    await backend.rebuild(spec, _batches(_BOOKS))
    await backend.upsert(spec, [Document("4", {"title": "Repairing old cars", "blurb": ""})])
    await backend.upsert(spec, [Document("5", {"title": "Cars again", "blurb": None})])
    assert "4" in {h.id for h in await backend.search(spec, "repairing", limit=5)}
    assert await backend.search(spec, "quantum", limit=5) == []
    await backend.delete(spec, ["1", "missing"])
    assert await backend.ids(spec) == {"2", "3", "4", "5"}
    await backend.drop(spec)


async def test_rebuild_replaces_the_previous_version(backend: SearchBackend) -> None:
    spec = _spec()
    await backend.rebuild(spec, _batches(_BOOKS))
    await backend.rebuild(spec, _batches([Document("9", {"title": "Only this", "blurb": ""})]))
    assert await backend.ids(spec) == {"9"}
    assert await backend.search(spec, "cars", limit=5) == []
    await backend.drop(spec)


async def test_unknown_or_dropped_index_has_no_matches(backend: SearchBackend) -> None:
    spec = _spec()
    assert await backend.search(spec, "cars", limit=5) == []
    assert await backend.ids(spec) == set()
    await backend.drop(spec)
    await backend.drop(spec)
    assert await backend.search(spec, "   ", limit=5) == []
