"""The third-party PyPI client ``postgrest`` (postgrest-py, what supabase-py uses)
pointed at a real ``dbify serve``: every answer is checked against the SQL oracle.

Reads run on the session server (fixture database, never modified). Writes and RPC
run on a dedicated database and server of their own, started and stopped here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from postgrest import APIError, CountMethod, SyncPostgrestClient

from tests.compat.oracle import rows_of
from tests.fixtures.server import RunningServer, start_server, stop_server


def _client(server: RunningServer) -> SyncPostgrestClient:
    key = server.service_key
    return SyncPostgrestClient(
        server.rest_url, headers={"apikey": key, "Authorization": f"Bearer {key}"}
    )


@pytest.fixture
def client(dbify_server: RunningServer) -> Iterator[SyncPostgrestClient]:
    with _client(dbify_server) as postgrest:
        yield postgrest


# reads on the session server ----------------------------------------------------------


def test_select_columns(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = client.from_("books").select("id", "title").order("id").limit(5).execute()
    assert response.data == rows_of(
        fixture_database_url, "select id, title from books order by id limit 5"
    )
    assert len(response.data) == 5


FILTERS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("eq", lambda q: q.eq("author_id", 3), "author_id = 3"),
    ("neq", lambda q: q.neq("author_id", 3).lt("id", 20), "author_id <> 3 and id < 20"),
    ("gt", lambda q: q.gt("price", 40), "price > 40"),
    ("gte", lambda q: q.gte("price", 40.99), "price >= 40.99"),
    ("lt", lambda q: q.lt("pages", 130), "pages < 130"),
    ("lte", lambda q: q.lte("pages", 130), "pages <= 130"),
    ("like", lambda q: q.like("title", "%winter%"), "title like '%winter%'"),
    ("ilike", lambda q: q.ilike("title", "%WINTER"), "title ilike '%winter'"),
    ("is_null", lambda q: q.is_("price", None), "price is null"),
    ("is_false", lambda q: q.is_("in_stock", False), "in_stock is false"),
    ("in_", lambda q: q.in_("id", [3, 5, 8]), "id in (3, 5, 8)"),
    ("contains", lambda q: q.contains("keywords", ["rare"]), "keywords @> '{rare}'"),
    (
        "contained_by",
        lambda q: q.contained_by("keywords", ["rare", "new"]),
        "keywords <@ '{rare,new}'",
    ),
    ("overlaps", lambda q: q.overlaps("ratings", [1, 2]), "ratings && '{1,2}'"),
    ("fts", lambda q: q.fts("search", "sea"), "search @@ to_tsquery('sea')"),
    (
        "text_search_plain",
        lambda q: q.text_search("search", "the machine", {"type": "plain", "config": "english"}),
        "search @@ plainto_tsquery('english', 'the machine')",
    ),
    (
        "text_search_websearch",
        lambda q: q.text_search("search", "sea -winter", {"type": "web_search"}),
        "search @@ websearch_to_tsquery('sea -winter')",
    ),
    ("or_", lambda q: q.or_("id.lt.3,id.gt.198"), "id < 3 or id > 198"),
    ("not_", lambda q: q.not_.lt("id", 195), "not (id < 195)"),
    ("not_is", lambda q: q.not_.is_("price", None).lt("id", 25), "price is not null and id < 25"),
    ("match", lambda q: q.match({"author_id": 4, "in_stock": True}), "author_id = 4 and in_stock"),
]


@pytest.mark.parametrize(
    ("apply", "where"), [(f[1], f[2]) for f in FILTERS], ids=[f[0] for f in FILTERS]
)
def test_filter(
    client: SyncPostgrestClient,
    fixture_database_url: str,
    apply: Callable[[Any], Any],
    where: str,
) -> None:
    response = apply(client.from_("books").select("id,title")).order("id").execute()
    expected = rows_of(
        fixture_database_url, f"select id, title from books where {where} order by id"
    )
    assert response.data == expected
    assert expected, "the case should select at least one row"


def test_filter_on_json_and_jsonb(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = (
        client.from_("authors")
        .select("id,name")
        .contains("metadata", {"genre": "poetry"})
        .order("id")
        .execute()
    )
    assert response.data == rows_of(
        fixture_database_url,
        """select id, name from authors where metadata @> '{"genre": "poetry"}' order by id""",
    )


def test_or_on_embedded_table(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = (
        client.from_("authors")
        .select("id,books(id)")
        .or_("id.eq.1,id.eq.31", reference_table="books")
        .lte("id", 3)
        .order("id")
        .execute()
    )
    assert response.data == rows_of(
        fixture_database_url,
        "select a.id, coalesce((select json_agg(json_build_object('id', b.id)) from books b "
        "where b.author_id = a.id and (b.id = 1 or b.id = 31)), '[]') as books "
        "from authors a where a.id <= 3 order by a.id",
    )


def test_order_desc_nullsfirst(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = (
        client.from_("books")
        .select("id,price")
        .order("price", desc=True, nullsfirst=True)
        .order("id")
        .limit(25)
        .execute()
    )
    assert response.data == rows_of(
        fixture_database_url,
        "select id, price from books order by price desc nulls first, id limit 25",
    )
    assert response.data[0]["price"] is None


def test_order_nullslast_ascending(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = (
        client.from_("authors")
        .select("id,birth_date")
        .order("birth_date", nullsfirst=False)
        .order("id", desc=True)
        .execute()
    )
    assert response.data == rows_of(
        fixture_database_url,
        "select id, birth_date from authors order by birth_date asc nulls last, id desc",
    )


def test_limit(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = client.from_("authors").select("id").order("id", desc=True).limit(3).execute()
    assert response.data == rows_of(
        fixture_database_url, "select id from authors order by id desc limit 3"
    )


def test_range(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = client.from_("books").select("id,title").order("id").range(10, 19).execute()
    assert response.data == rows_of(
        fixture_database_url, "select id, title from books order by id offset 10 limit 10"
    )
    assert len(response.data) == 10


def test_embed_many_to_one(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = (
        client.from_("books").select("id,title,authors(name)").lt("id", 8).order("id").execute()
    )
    assert response.data == rows_of(
        fixture_database_url,
        "select b.id, b.title, json_build_object('name', a.name) as authors "
        "from books b join authors a on a.id = b.author_id where b.id < 8 order by b.id",
    )


def test_embed_one_to_many_with_order_and_limit(
    client: SyncPostgrestClient, fixture_database_url: str
) -> None:
    response = (
        client.from_("authors")
        .select("id,books(id,title)")
        .order("id", desc=True, foreign_table="books")
        .limit(2, foreign_table="books")
        .lte("id", 4)
        .order("id")
        .execute()
    )
    assert response.data == rows_of(
        fixture_database_url,
        "select a.id, (select coalesce(json_agg(json_build_object('id', t.id, 'title', t.title)"
        " order by t.id desc), '[]') from (select id, title from books where author_id = a.id "
        "order by id desc limit 2) t) as books from authors a where a.id <= 4 order by a.id",
    )


def test_single(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = client.from_("books").select("id,title,price").eq("id", 7).single().execute()
    assert (
        response.data
        == rows_of(fixture_database_url, "select id, title, price from books where id = 7")[0]
    )


def test_single_with_many_rows_raises(client: SyncPostgrestClient) -> None:
    with pytest.raises(APIError) as raised:
        client.from_("books").select("id").lt("id", 5).single().execute()
    assert raised.value.code == "PGRST116"


def test_maybe_single(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    found = client.from_("authors").select("id,name").eq("id", 2).maybe_single().execute()
    assert found is not None
    assert (
        found.data == rows_of(fixture_database_url, "select id, name from authors where id = 2")[0]
    )
    missing = client.from_("authors").select("id,name").eq("id", -1).maybe_single().execute()
    assert missing is None


def test_count_exact(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = (
        client.from_("books")
        .select("id", count=CountMethod.exact)
        .gt("price", 30)
        .order("id")
        .limit(5)
        .execute()
    )
    total = rows_of(fixture_database_url, "select count(*) as n from books where price > 30")[0][
        "n"
    ]
    assert response.count == total
    assert total > 5
    assert response.data == rows_of(
        fixture_database_url, "select id from books where price > 30 order by id limit 5"
    )


def test_head_count(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = client.from_("authors").select("*", count=CountMethod.exact, head=True).execute()
    assert (
        response.count == rows_of(fixture_database_url, "select count(*) as n from authors")[0]["n"]
    )


def test_other_schema(client: SyncPostgrestClient, fixture_database_url: str) -> None:
    response = client.schema("api2").from_("notes").select("id,body").order("id").execute()
    assert response.data == rows_of(
        fixture_database_url, "select id, body from api2.notes order by id"
    )


def test_unknown_table_raises_api_error(client: SyncPostgrestClient) -> None:
    with pytest.raises(APIError) as raised:
        client.from_("no_such_table").select("*").execute()
    assert raised.value.code == "PGRST205"


# writes and RPC on a dedicated database and server --------------------------------------


@pytest.fixture(scope="module")
def writable(make_database: Callable[..., str]) -> Iterator[tuple[str, RunningServer]]:
    """A fresh fixture database and a server of its own: (database URL, server)."""
    url = make_database("fixture.sql")
    server = start_server(url, "--schema", "public", "--schema", "api2")
    yield url, server
    stop_server(server)


@pytest.fixture
def writer(writable: tuple[str, RunningServer]) -> Iterator[SyncPostgrestClient]:
    with _client(writable[1]) as postgrest:
        yield postgrest


def test_insert(writer: SyncPostgrestClient, writable: tuple[str, RunningServer]) -> None:
    response = writer.from_("tags").insert({"name": "py-insert"}).execute()
    assert response.data == rows_of(writable[0], "select * from tags where name = 'py-insert'")
    assert len(response.data) == 1


def test_bulk_insert(writer: SyncPostgrestClient, writable: tuple[str, RunningServer]) -> None:
    rows = [{"name": "Bulk A", "country": "FR"}, {"name": "Bulk B"}]
    response = writer.from_("publishers").insert(rows).execute()
    assert response.data == rows_of(
        writable[0], "select * from publishers where name like 'Bulk %' order by id"
    )
    assert [row["country"] for row in response.data] == ["FR", None]


def test_insert_returning_minimal_with_count(
    writer: SyncPostgrestClient, writable: tuple[str, RunningServer]
) -> None:
    response = (
        writer.from_("tags")
        .insert([{"name": "min-1"}, {"name": "min-2"}], returning="minimal", count="exact")
        .execute()
    )
    assert response.data == []
    assert response.count == 2
    assert rows_of(writable[0], "select name from tags where name like 'min-%' order by name") == [
        {"name": "min-1"},
        {"name": "min-2"},
    ]


def test_upsert_on_conflict(
    writer: SyncPostgrestClient, writable: tuple[str, RunningServer]
) -> None:
    rows = [
        {"name": "Publisher 1", "country": "DE"},
        {"name": "Upserted publisher", "country": "IT"},
    ]
    response = writer.from_("publishers").upsert(rows, on_conflict="name").execute()
    assert sorted(r["name"] for r in response.data) == ["Publisher 1", "Upserted publisher"]
    assert rows_of(
        writable[0],
        "select name, country from publishers where name in ('Publisher 1', 'Upserted publisher')"
        " order by name",
    ) == [
        {"name": "Publisher 1", "country": "DE"},
        {"name": "Upserted publisher", "country": "IT"},
    ]


def test_upsert_ignore_duplicates(
    writer: SyncPostgrestClient, writable: tuple[str, RunningServer]
) -> None:
    before = rows_of(writable[0], "select * from tags where name = 'history'")
    response = (
        writer.from_("tags")
        .upsert({"name": "history"}, on_conflict="name", ignore_duplicates=True)
        .execute()
    )
    assert response.data == []
    assert rows_of(writable[0], "select * from tags where name = 'history'") == before


def test_update(writer: SyncPostgrestClient, writable: tuple[str, RunningServer]) -> None:
    response = (
        writer.from_("employees")
        .update({"salary": 99999})
        .eq("manager_id", 2)
        .order("id")
        .execute()
    )
    assert response.data == rows_of(
        writable[0], "select * from employees where manager_id = 2 order by id"
    )
    assert [row["salary"] for row in response.data] == [99999, 99999]


def test_update_with_count(
    writer: SyncPostgrestClient, writable: tuple[str, RunningServer]
) -> None:
    response = (
        writer.from_("films")
        .update({"released": 2001}, count="exact")
        .is_("released", None)
        .execute()
    )
    assert response.count == 1
    assert rows_of(writable[0], "select title from films where released = 2001") == [
        {"title": "Quiet Fields"}
    ]


def test_delete(writer: SyncPostgrestClient, writable: tuple[str, RunningServer]) -> None:
    expected = rows_of(writable[0], "select * from messages where id > 45 order by id")
    response = writer.from_("messages").delete(count="exact").gt("id", 45).order("id").execute()
    assert response.data == expected
    assert response.count == 5
    assert rows_of(writable[0], "select id from messages where id > 45") == []


def test_rpc_scalar(writer: SyncPostgrestClient) -> None:
    assert writer.rpc("add_numbers", {"a": 2, "b": 40}).execute().data == 42


def test_rpc_scalar_get(writer: SyncPostgrestClient) -> None:
    assert writer.rpc("add_numbers", {"a": 20, "b": 22}, get=True).execute().data == 42


def test_rpc_set_with_filters(
    writer: SyncPostgrestClient, writable: tuple[str, RunningServer]
) -> None:
    response = (
        writer.rpc("search_books", {"query": "winter", "max_price": 30})
        .select("id,title")
        .lt("id", 100)
        .order("id")
        .execute()
    )
    assert response.data == rows_of(
        writable[0],
        "select id, title from search_books('winter', 30) where id < 100 order by id",
    )
    assert response.data


def test_rpc_count(writer: SyncPostgrestClient, writable: tuple[str, RunningServer]) -> None:
    response = (
        writer.rpc("search_books", {"query": "sea"}, count=CountMethod.exact).limit(3).execute()
    )
    total = rows_of(writable[0], "select count(*) as n from search_books('sea')")[0]["n"]
    assert response.count == total
    assert len(response.data) == 3


def test_rpc_volatile_writes(
    writer: SyncPostgrestClient, writable: tuple[str, RunningServer]
) -> None:
    response = writer.rpc("create_tag", {"name": "from-rpc"}).execute()
    assert response.data == rows_of(writable[0], "select * from tags where name = 'from-rpc'")[0]


def test_rpc_unknown_function_raises(writer: SyncPostgrestClient) -> None:
    with pytest.raises(APIError) as raised:
        writer.rpc("no_such_function", {}).execute()
    assert raised.value.code == "PGRST202"
