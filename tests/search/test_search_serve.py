"""Search in a real ``dbify serve`` process: an index made through the management API
(admin personal access token), searches over HTTP with the project's keys, data API
writes pushed into the index within a second or two while the periodic catch-up is an
hour away, direct database writes left to the catch-up, and hits re-checked with the
caller's role."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import orjson
import psycopg
import pytest
from click.testing import CliRunner

from dbify.cli import main
from tests.fixtures.server import RunningServer, admin_token, start_server, stop_server
from tests.fixtures.waiting import until

_BOOKS = ["Fixing cars at home", "A history of gardens", "Roses for beginners"]


@pytest.fixture
def search_server(make_database: Callable[..., str]) -> Iterator[tuple[RunningServer, str]]:
    url = make_database("fixture.sql")
    with psycopg.connect(url, autocommit=True) as connection:
        author = connection.execute("SELECT id FROM authors ORDER BY id LIMIT 1").fetchone()
        assert author is not None
        connection.execute("TRUNCATE books CASCADE")
        for title in _BOOKS:
            connection.execute(
                "INSERT INTO books (title, author_id) VALUES (%s, %s)", (title, author[0])
            )
    env = {"DBIFY_SEARCH__SYNC_INTERVAL_SECONDS": "3600"}
    server = start_server(url, env=env)
    yield server, url
    stop_server(server)


def _titles(data: httpx.Client, query: str, key: str) -> list[str]:
    found = data.get("/books", params={"q": query}, headers={"apikey": key})
    assert found.status_code == 200, found.text
    return [item["row"]["title"] for item in found.json()["items"]]


def test_index_search_push_and_permissions(search_server: tuple[RunningServer, str]) -> None:
    server, url = search_server
    service = server.service_key
    token = admin_token(server)
    auth = {"authorization": f"Bearer {token}"}
    base = server.base_url
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with (
        httpx.Client(base_url=f"{base}/api/v1/projects/{server.id}", headers=auth) as api,
        httpx.Client(base_url=f"{base}/p/{server.id}/search/v1", timeout=10) as data,
        httpx.Client(base_url=server.rest_url, headers={"apikey": service}) as rest,
        psycopg.connect(url, autocommit=True) as connection,
    ):
        made = api.post(
            "/search-indexes?wait=true",
            json={"table": "books", "text_columns": {"title": 1},
                  "return_columns": ["id", "title"]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        index = made.json()
        assert (index["state"], index["rows_indexed"]) == ("ready", 3)
        assert _titles(data, "cars", service) == ["Fixing cars at home"]

        # Data API writes are pushed: searchable within ~1-2 s, the catch-up is 1 h away.
        author = rest.get("/authors", params={"select": "id", "limit": "1"}).json()[0]["id"]
        posted = rest.post("/books", json={"title": "Tractors and cars", "author_id": author})
        assert posted.status_code == 201, posted.text
        until(lambda: "Tractors and cars" in _titles(data, "cars", service), 2.0)
        patched = rest.patch(
            "/books", params={"title": "eq.Roses for beginners"}, json={"title": "Roses and cars"}
        )
        assert patched.status_code == 204, patched.text
        until(lambda: "Roses and cars" in _titles(data, "cars", service), 2.0)
        deleted = rest.delete("/books", params={"title": "eq.Fixing cars at home"})
        assert deleted.status_code == 204, deleted.text
        until(lambda: "Fixing cars at home" not in _titles(data, "cars", service), 2.0)
        # (a deleted row is never a hit: hits are re-read. A DELETE names no keys, so its
        # push is an xmin catch-up: let it pass before writing behind Dbify's back.)
        time.sleep(1.0)

        # A direct database write waits for the catch-up (here: asked for now).
        connection.execute(
            "INSERT INTO books (title, author_id) VALUES ('Bicycles and cars', %s)", (author,)
        )
        time.sleep(0.5)
        assert "Bicycles and cars" not in _titles(data, "cars", service)
        refreshed = api.post(f"/search-indexes/{index['id']}/refresh?wait=true")
        assert refreshed.status_code == 200, refreshed.text
        assert set(_titles(data, "cars", service)) == {
            "Tractors and cars", "Roses and cars", "Bicycles and cars"}  # fmt: skip

        # Hits are re-read with the caller's role: RLS hides rows from a restricted key.
        try:
            connection.execute(f"CREATE ROLE {role} NOLOGIN")
            connection.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            connection.execute(f"GRANT SELECT ON books TO {role}")
            connection.execute(f"GRANT {role} TO CURRENT_USER")
            connection.execute("ALTER TABLE books ENABLE ROW LEVEL SECURITY")
            connection.execute(
                f"CREATE POLICY only_roses ON books FOR SELECT TO {role} "
                "USING (title LIKE 'Roses%')"
            )
            key = api.post("/keys", json={"name": "reader", "role": role})
            assert key.status_code == 201, key.text
            assert _titles(data, "cars", key.json()["key"]) == ["Roses and cars"]
            anon = data.get("/books", params={"q": "cars"}, headers={"apikey": "wrong"})
            assert anon.status_code == 401
        finally:
            connection.execute("ALTER TABLE books DISABLE ROW LEVEL SECURITY")
            connection.execute("DROP POLICY IF EXISTS only_roses ON books")
            connection.execute(f"DROP OWNED BY {role}")
            connection.execute(f"DROP ROLE IF EXISTS {role}")

        # The CLI drives the same API: list, reindex (followed to the end), delete.
        env = {"DBIFY_API_URL": f"{base}/api/v1", "DBIFY_TOKEN": token}
        runner = CliRunner()
        listed = runner.invoke(main, ["search", "list", server.id], env=env)
        assert listed.exit_code == 0, listed.output
        assert [i["table"] for i in orjson.loads(listed.stdout)] == ["books"]
        rebuilt = runner.invoke(main, ["search", "reindex", server.id, index["id"]], env=env)
        assert rebuilt.exit_code == 0, rebuilt.output
        assert orjson.loads(rebuilt.stdout)["state"] == "ready"
        gone = runner.invoke(main, ["search", "delete", server.id, index["id"]], env=env)
        assert gone.exit_code == 0, gone.output
        again = runner.invoke(main, ["search", "create", server.id, "books", "--text",
                                     "title:2", "--return", "id"], env=env)  # fmt: skip
        assert again.exit_code == 0, again.output
        assert orjson.loads(again.stdout)["rows_indexed"] == 4
        bad = runner.invoke(main, ["search", "create", server.id, "nope", "--text", "x"], env=env)
        assert bad.exit_code == 1
        assert "nope" in bad.output
