"""The Python client against a running Dbify on the fixture database.

Run through ``tests/sdks/test_sdks.py``, which starts the server and sets
``DBIFY_TEST_REST_URL``, ``DBIFY_TEST_SERVICE_KEY``, ``DBIFY_TEST_API_URL``,
``DBIFY_TEST_TOKEN`` and ``DBIFY_TEST_PROJECT_ID``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from dbify_client import AsyncClient, AsyncManagementClient, Client, DbifyError, ManagementClient

REST = os.environ.get("DBIFY_TEST_REST_URL", "")
KEY = os.environ.get("DBIFY_TEST_SERVICE_KEY", "")
pytestmark = pytest.mark.skipif(not REST, reason="needs DBIFY_TEST_REST_URL (tests/sdks)")


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(REST, KEY) as opened:
        yield opened


def test_select_filters_order_range_count(client: Client) -> None:
    result = (
        client.from_("books").select("id,title,author:authors(name)", count="exact")
        .gte("id", 10).lt("id", 20).order("id", desc=True).range(0, 2).execute()
    )  # fmt: skip
    assert [row["id"] for row in result.data] == [19, 18, 17]
    assert result.data[0]["author"]["name"].startswith("Author")
    assert result.count == 10
    assert client.from_("books").select("id").in_("id", [1, 2, 3]).execute().data == [
        {"id": 1}, {"id": 2}, {"id": 3}]  # fmt: skip
    assert (
        len(client.from_("books").select("id").ilike("title", "*SEA").limit(5).execute().data) == 5
    )
    ors = client.from_("books").select("id").or_("id.eq.1,id.eq.2").order("id").execute()
    assert [r["id"] for r in ors.data] == [1, 2]
    assert client.from_("authors").select("id").is_("birth_date", None).not_(
        "id", "gt", 8
    ).execute().data == [{"id": 4}, {"id": 8}]
    assert client.from_("books").select("id").contains("keywords", ["rare"]).eq(
        "id", 3
    ).execute().data == [{"id": 3}]


def test_single_maybe_single_csv(client: Client) -> None:
    assert client.from_("books").select("id").eq("id", 5).single().execute().data == {"id": 5}
    assert client.from_("books").select("id").eq("id", -1).maybe_single().execute().data is None
    with pytest.raises(DbifyError) as caught:
        client.from_("books").select("id").lt("id", 3).single().execute()
    assert caught.value.code == "PGRST116"
    assert caught.value.status == 406
    text = client.from_("tags").select("id,name").order("id").limit(2).csv().execute().data
    assert text.splitlines()[0] == "id,name"


def test_writes_with_returning(client: Client) -> None:
    inserted = client.from_("tags").insert({"name": "py-sdk"}).execute()
    assert inserted.status == 201
    tag_id = inserted.data[0]["id"]
    updated = client.from_("tags").update({"name": "py-sdk-2"}).eq("id", tag_id).execute()
    assert updated.data == [{"id": tag_id, "name": "py-sdk-2"}]
    upserted = client.from_("tags").upsert({"id": tag_id, "name": "py-sdk-3"}).execute()
    assert upserted.data[0]["name"] == "py-sdk-3"
    minimal = client.from_("tags").insert([{"name": "py-a"}, {"name": "py-b"}],
                                         returning="minimal").execute()  # fmt: skip
    assert minimal.data is None
    deleted = client.from_("tags").delete().in_("name", ["py-sdk-3", "py-a", "py-b"]).execute()
    assert len(deleted.data) == 3
    with pytest.raises(DbifyError) as caught:
        client.from_("tags").insert({"name": "fiction"}).execute()
    assert caught.value.code == "23505"
    assert caught.value.status == 409


def test_rpc_and_typed_errors(client: Client) -> None:
    assert client.rpc("add_numbers", {"a": 2, "b": 3}).execute().data == 5
    assert client.rpc("numbers_up_to", {"n": 4}, get=True).execute().data == [1, 2, 3, 4]
    books = client.rpc("search_books", {"query": "sea"}).select("id").order("id").limit(2).execute()
    assert len(books.data) == 2
    with pytest.raises(DbifyError) as caught:
        client.rpc("refuse", {"reason": "no"}).execute()
    error = caught.value
    assert (error.message, error.details, error.hint) == ("refused: no", "a detail", "a hint")
    with pytest.raises(DbifyError) as missing:
        client.from_("nope").select().execute()
    assert missing.value.status == 404
    assert missing.value.code.startswith("PGRST")


def test_retries_idempotent_calls_only() -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) < 3:
            return httpx.Response(503, json={"message": "busy"})
        return httpx.Response(200, json=[{"id": 1}])

    client = Client("http://x/rest/v1", "k", transport=httpx.MockTransport(flaky), backoff=0)
    assert client.from_("t").select().execute().data == [{"id": 1}]
    assert calls == ["GET", "GET", "GET"]
    calls.clear()
    with pytest.raises(DbifyError) as caught:
        client.from_("t").insert({"a": 1}).execute()
    assert caught.value.status == 503
    assert calls == ["POST"]
    client.close()

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    timing_out = Client("http://x", transport=httpx.MockTransport(slow), retries=1, backoff=0)
    with pytest.raises(DbifyError) as timeout:
        timing_out.from_("t").select().execute()
    assert timeout.value.code == "TIMEOUT"
    timing_out.close()


def test_async_client() -> None:
    async def run() -> None:
        async with AsyncClient(REST, KEY) as client:
            result = await client.from_("books").select("id").eq("id", 7).single().execute()
            assert result.data == {"id": 7}
            calls = (client.rpc("add_numbers", {"a": i, "b": 1}).execute() for i in range(5))
            many = await asyncio.gather(*calls)
            assert [r.data for r in many] == [1, 2, 3, 4, 5]

    asyncio.run(run())


def test_management_client() -> None:
    management = ManagementClient(os.environ["DBIFY_TEST_API_URL"], os.environ["DBIFY_TEST_TOKEN"])
    project_id = os.environ["DBIFY_TEST_PROJECT_ID"]
    assert project_id in [p["id"] for p in management.list_projects()]
    assert management.get_project(project_id)["id"] == project_id
    created = management.create_key(project_id, "py-sdk", "anon")
    assert created["key"]
    assert created["id"] in [k["id"] for k in management.list_keys(project_id)]
    with Client(REST, created["key"]) as anon:
        assert anon.from_("tags").select("id").limit(1).execute().data
    management.revoke_key(project_id, created["id"])
    with pytest.raises(DbifyError) as caught:
        management.get_project("missing")
    assert caught.value.status == 404
    management.close()


def _management() -> ManagementClient:
    return ManagementClient(os.environ["DBIFY_TEST_API_URL"], os.environ["DBIFY_TEST_TOKEN"])


def test_saved_query_with_grammar(client: Client) -> None:
    project_id = os.environ["DBIFY_TEST_PROJECT_ID"]
    with _management() as management:
        management.create_saved_query(
            project_id, "py_books_of_author",
            "SELECT id, title FROM books WHERE author_id = :author ORDER BY id",
            [{"name": "author", "type": "integer"}],
        )  # fmt: skip
        assert "py_books_of_author" in [
            q["name"] for q in management.list_saved_queries(project_id)
        ]
    rows = client.query("py_books_of_author", {"author": 1}).execute().data
    assert rows
    assert all(set(row) == {"id", "title"} for row in rows)
    top = client.query("py_books_of_author", {"author": 1}).select("id").order("id", desc=True)
    assert top.limit(1).execute().data == [{"id": max(row["id"] for row in rows)}]
    with pytest.raises(DbifyError) as caught:
        client.query("no_such_query").execute()
    assert caught.value.status == 404


def test_search_sync_and_async(client: Client) -> None:
    project_id = os.environ["DBIFY_TEST_PROJECT_ID"]
    with _management() as management:
        try:
            management.create_search_index(project_id, "books", {"title": 1.0})
        except DbifyError as error:  # another SDK's suite made it first
            if error.status != 409:
                raise
    title = client.from_("books").select("title").eq("id", 3).single().execute().data["title"]
    word = title.split()[1]  # "Book 003": the number is the rare word
    found = client.search("books", word, limit=5).execute().data
    assert found["mode"] == "text"
    assert any(item["row"]["id"] == 3 for item in found["items"])
    narrowed = client.search("books", word).eq("id", 3).execute().data
    assert [item["row"]["id"] for item in narrowed["items"]] == [3]

    async def run() -> dict[str, object]:
        async with AsyncClient(REST, KEY) as aclient:
            result = await aclient.search("books", word, mode="text").execute()
            data: dict[str, object] = result.data
            return data

    assert asyncio.run(run())["items"]


def test_logs_and_stats_sync_and_async(client: Client) -> None:
    project_id = os.environ["DBIFY_TEST_PROJECT_ID"]
    client.from_("tags").select("id").eq("id", 1).execute()
    with _management() as management:
        deadline = time.monotonic() + 20
        while not management.logs(project_id, table="tags", limit=5)["items"]:
            assert time.monotonic() < deadline, "no request-log event arrived"
            time.sleep(0.3)
        page = management.logs(project_id, table="tags", limit=1)
        event = management.log_event(project_id, page["items"][0]["event_id"])
        assert event["target"] == "tags"
        assert management.stats(project_id, bucket="minute")["totals"]["requests"] >= 1

    async def run() -> tuple[dict[str, object], dict[str, object]]:
        api = AsyncManagementClient(
            os.environ["DBIFY_TEST_API_URL"], os.environ["DBIFY_TEST_TOKEN"]
        )
        async with api:
            stats, logs = await asyncio.gather(
                api.stats(project_id), api.logs(project_id, status_class="2xx", limit=2)
            )
            return stats, logs  # fmt: skip

    stats, logs = asyncio.run(run())
    assert stats["project_id"] == project_id
    assert isinstance(logs["items"], list)
    assert logs["items"]
