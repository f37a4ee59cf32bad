"""PostgREST function-call (``/rpc``) compatibility over HTTP against a real ``dbify serve``.

Each read-only case calls a function of ``tests/sql/fixture.sql`` through the API and
compares the body with the same call made in SQL (the oracle). Calls that change data or
need special settings run on their own database and server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.compat.oracle import rows_of
from tests.fixtures.server import RunningServer, start_server, stop_server


@dataclass(frozen=True)
class Case:
    """``method path`` with an optional JSON body must answer ``status`` with the rows
    of ``sql`` (``shape`` ``rows``), its first row (``row``) or its single value
    (``value``: the column ``v`` of the first row)."""

    method: str
    path: str
    sql: str
    shape: str = "rows"
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


CASES = [
    # scalars, GET and POST, named arguments cast to the parameter types
    Case("GET", "rpc/add_numbers?a=1&b=2", "select add_numbers(1, 2) as v", "value"),
    Case("POST", "rpc/add_numbers", "select add_numbers(40, 2) as v", "value", {"a": 40, "b": 2}),
    Case("POST", "rpc/add_numbers", "select add_numbers(4, 5) as v", "value", {"a": "4", "b": 5}),
    Case("GET", "rpc/count_books", "select count_books() as v", "value"),
    Case("POST", "rpc/count_books", "select count_books() as v", "value"),
    # overloads chosen by the argument names
    Case("GET", "rpc/greet", "select greet() as v", "value"),
    Case("GET", "rpc/greet?name=Ann", "select greet('Ann') as v", "value"),
    Case("POST", "rpc/greet", "select greet('Bo') as v", "value", {"name": "Bo"}),
    # variadic: repeated GET parameters or a JSON array
    Case(
        "GET", "rpc/sum_all?numbers=1&numbers=2&numbers=5", "select sum_all(1, 2, 5) as v", "value"
    ),
    Case("GET", "rpc/sum_all?numbers=7", "select sum_all(7) as v", "value"),
    Case("POST", "rpc/sum_all", "select sum_all(1, 2, 3) as v", "value", {"numbers": [1, 2, 3]}),
    # a set of rows of a table type: select, filters, order, range and embeds apply
    Case(
        "GET",
        "rpc/search_books?query=the&order=id",
        "select * from search_books('the') order by id",
    ),
    Case(
        "GET",
        "rpc/search_books?query=the&max_price=20&select=id,title&order=price.desc,id&limit=4",
        "select id, title from search_books('the', 20) order by price desc, id limit 4",
    ),
    Case(
        "GET",
        "rpc/search_books?query=Book&select=id&pages=gt.300&in_stock=is.true&order=id",
        "select id from search_books('Book') where pages > 300 and in_stock order by id",
    ),
    Case(
        "POST",
        "rpc/search_books?select=id,author:authors(name)&order=id&offset=2&limit=3",
        "select b.id, json_build_object('name', a.name) as author from search_books('machine') b"
        " left join authors a on a.id = b.author_id order by b.id offset 2 limit 3",
        body={"query": "machine"},
    ),
    # a single composite: one object (PostgREST returns it unwrapped)
    Case("GET", "rpc/author_of?book_id=3", "select * from author_of(3)", "row"),
    Case(
        "GET",
        "rpc/author_of?book_id=3&select=name",
        "select name from author_of(3)",
        "row",
    ),
    # RETURNS TABLE and OUT parameters: filters and order on the output columns
    Case(
        "GET",
        "rpc/author_book_counts?order=author_id",
        "select * from author_book_counts() order by author_id",
    ),
    Case(
        "GET",
        "rpc/author_book_counts?min_books=3&book_count=gte.4&order=book_count.desc,author_id",
        "select * from author_book_counts(3) where book_count >= 4"
        " order by book_count desc, author_id",
    ),
    Case("GET", "rpc/book_summary?book_id=5", "select * from book_summary(5)", "row"),
    # a set of scalars, paged
    Case("GET", "rpc/numbers_up_to?n=5", "select numbers_up_to(5) as v", "column"),
    Case(
        "GET",
        "rpc/numbers_up_to?n=9&offset=2&limit=3",
        "select v from numbers_up_to(9) as v offset 2 limit 3",
        "column",
    ),
    # a single unnamed json / text parameter takes the whole body
    Case(
        "POST",
        "rpc/echo_json",
        """select '[1, {"a": 2}]'::json as v""",
        "value",
        [1, {"a": 2}],
    ),
    Case(
        "POST",
        "rpc/payload_keys",
        """select payload_keys('{"z": 1, "a": 2}') as v""",
        "value",
        {"z": 1, "a": 2},
        {"Prefer": "params=single-object"},
    ),
    # another schema
    Case(
        "GET",
        "rpc/note_count",
        "select api2.note_count() as v",
        "value",
        headers={"Accept-Profile": "api2"},
    ),
]


def _expected(url: str, case: Case) -> Any:
    rows = rows_of(url, case.sql)
    if case.shape == "row":
        return rows[0]
    if case.shape == "value":
        return rows[0]["v"]
    if case.shape == "column":
        return [row["v"] for row in rows]
    return rows


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_call_matches_sql(api: httpx.Client, fixture_database_url: str, case: Case) -> None:
    content = None if case.body is None else orjson.dumps(case.body)
    response = api.request(case.method, case.path, content=content, headers=case.headers)
    assert response.status_code == case.status, response.text
    assert response.json() == _expected(fixture_database_url, case)


def test_text_body_for_a_single_unnamed_text_parameter(api: httpx.Client) -> None:
    response = api.post("rpc/echo_text", content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.json() == "got: hello"


def test_count_and_range_on_a_set(api: httpx.Client, fixture_database_url: str) -> None:
    [total] = rows_of(fixture_database_url, "select count(*) as n from search_books('the')")
    response = api.get(
        "rpc/search_books?query=the&select=id&order=id",
        headers={"Prefer": "count=exact", "Range": "0-1"},
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == f"0-1/{total['n']}"
    assert len(response.json()) == 2


def test_head_has_headers_and_no_body(api: httpx.Client) -> None:
    response = api.head("rpc/numbers_up_to?n=4")
    assert response.status_code == 200
    assert response.headers["content-range"] == "0-3/*"
    assert response.content == b""


def test_csv_of_a_set(api: httpx.Client) -> None:
    response = api.get(
        "rpc/author_book_counts?min_books=7&order=author_id", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == "author_id,book_count"


def test_singular_object_of_a_set(api: httpx.Client) -> None:
    accept = {"Accept": "application/vnd.pgrst.object+json"}
    one = api.get("rpc/search_books?query=Book&id=eq.4", headers=accept)
    assert one.status_code == 200
    assert one.json()["id"] == 4
    many = api.get("rpc/search_books?query=Book", headers=accept)
    assert many.status_code == 406
    assert many.json()["code"] == "PGRST116"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "rpc/nope", None, 404, "PGRST202"),
        ("GET", "rpc/greet?nam=x", None, 404, "PGRST202"),
        ("GET", "rpc/add_numbers?a=1", None, 404, "PGRST202"),
        ("POST", "rpc/add_numbers", {"a": 1, "b": 2, "c": 3}, 404, "PGRST202"),
        ("POST", "rpc/add_numbers", {"a": "x", "b": 2}, 400, "22P02"),
        ("GET", "rpc/add_numbers?a=x&b=1", None, 400, "22P02"),
        ("POST", "rpc/require_payment", {"amount": 5}, 402, "PT402"),
        ("GET", "rpc/refuse?reason=no", None, 400, "P0001"),
        ("GET", "rpc/search_books?query=x&nope=eq.1", None, 400, "42703"),
        ("GET", "rpc/add_numbers?a=1&b=2&x=eq.1", None, 400, "42703"),
        ("PATCH", "rpc/add_numbers", {}, 405, "PGRST101"),
    ],
)
def test_errors(
    api: httpx.Client, method: str, path: str, body: Any, status: int, code: str
) -> None:
    content = None if body is None else orjson.dumps(body)
    response = api.request(method, path, content=content)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_error_passes_message_details_and_hint(api: httpx.Client) -> None:
    response = api.post("rpc/require_payment", json={"amount": 7})
    assert response.json() == {
        "code": "PT402",
        "message": "Payment required",
        "details": "amount 7",
        "hint": "Pay first",
    }


def test_function_not_found_hints_a_close_name(api: httpx.Client) -> None:
    body = api.get("rpc/add_numbrs?a=1").json()
    assert body["hint"] == "Perhaps you meant to call the function public.add_numbers"
    assert body["message"] == "Could not find the function public.add_numbrs(a) in the schema cache"
    assert api.get("rpc/greet?nam=x").json()["hint"] == (
        "Perhaps you meant to call the function public.greet(name)"
    )


def test_invalid_json_body(api: httpx.Client) -> None:
    response = api.post(
        "rpc/add_numbers", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"


def test_unknown_content_type(api: httpx.Client) -> None:
    response = api.post("rpc/add_numbers", content=b"a", headers={"Content-Type": "image/png"})
    assert response.status_code == 415


def test_sql_in_argument_names_and_values_is_inert(api: httpx.Client) -> None:
    hostile = api.post("rpc/greet", json={"name": "x'); drop table books; --"})
    assert hostile.status_code == 200
    assert hostile.json() == "Hello, x'); drop table books; --"
    assert api.post("rpc/greet", json={'name" text) --': "x"}).status_code == 404
    assert api.get("rpc/count_books").json() > 0


# --- calls that change data or need their own settings ---------------------------------


@pytest.fixture
def own_server(make_database: Callable[..., str]) -> Iterator[tuple[RunningServer, str]]:
    url = make_database("fixture.sql")
    server = start_server(url)
    yield server, url
    stop_server(server)


def _client(server: RunningServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.rest_url, headers={"apikey": server.service_key}, timeout=30
    )


def test_volatile_function_writes_on_post_and_is_refused_on_get(
    own_server: tuple[RunningServer, str],
) -> None:
    server, url = own_server
    with _client(server) as client:
        before = rows_of(url, "select count(*) as n from tags")[0]["n"]
        refused = client.get("rpc/create_tag?name=via-get")
        assert refused.status_code == 405
        assert refused.json()["code"] == "25006"
        assert rows_of(url, "select count(*) as n from tags")[0]["n"] == before
        created = client.post("rpc/create_tag", json={"name": "via-post"})
        assert created.status_code == 200, created.text
        stored = rows_of(url, "select * from tags where name = 'via-post'")
        assert created.json() == stored[0]
        rolled_back = client.post(
            "rpc/create_tag", json={"name": "dry-run"}, headers={"Prefer": "tx=rollback"}
        )
        assert rolled_back.status_code == 200
        assert rows_of(url, "select * from tags where name = 'dry-run'") == []
        void = client.post("rpc/do_nothing")
        assert void.status_code == 204
        assert void.content == b""
        assert "content-type" not in void.headers


async def _running_sleeps(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count = await conn.fetchval(
            "select count(*) from pg_stat_activity where state = 'active'"
            " and query like '%sleep_for%' and pid <> pg_backend_pid()"
            # Other tests share the cluster; only this test's database counts.
            " and datname = current_database()"
        )
        return int(count)
    finally:
        await conn.close()


def test_statement_timeout_cancels_the_call_on_the_server(
    make_database: Callable[..., str],
) -> None:
    url = make_database("fixture.sql")
    server = start_server(url, env={"DBIFY_DATABASE__STATEMENT_TIMEOUT_MS": "500"})
    try:
        with _client(server) as client:
            started = time.monotonic()
            response = client.post("rpc/sleep_for", json={"seconds": 5})
            elapsed = time.monotonic() - started
            assert response.status_code == 504, response.text
            assert response.json()["code"] == "57014"
            assert "statement timeout" in response.json()["message"]
            assert elapsed < 4
            assert asyncio.run(_running_sleeps(url)) == 0
            assert client.post("rpc/sleep_for", json={"seconds": 0.01}).json() == 1
    finally:
        stop_server(server)


def test_openapi_documents_every_function_called_here(api: httpx.Client) -> None:
    paths = api.get("").json()["paths"]
    called = {case.path.partition("?")[0] for case in CASES if "Accept-Profile" not in case.headers}
    missing = sorted(p for p in called if f"/{p}" not in paths)
    assert missing == []
    assert "post" in paths["/rpc/create_tag"]
    assert "get" not in paths["/rpc/create_tag"]  # volatile: POST only
