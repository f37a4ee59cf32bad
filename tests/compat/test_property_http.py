"""A Hypothesis property over the PostgREST grammar at the HTTP level.

Requests are random but grammar-shaped: tables, columns and functions of the fixture
mixed with junk, random operators, values, selects (aliases, casts, JSON paths, embeds),
orders, limits, ranges, media types and preferences, with the methods GET, HEAD, POST,
PATCH, PUT and DELETE and random bodies. Whatever the request:

- the answer is never a 5xx (503 and 504 included);
- an error answer's body is a JSON object with a ``code``;
- the database is unchanged afterwards. Every mutating request carries
  ``Prefer: tx=rollback``, so this holds for a 2xx as much as for a 4xx.

A dedicated database and server are used, so a broken rollback harms no other test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.compat.test_hostile_input import database_checksum
from tests.fixtures.server import RunningServer, start_server, stop_server

COLUMNS: dict[str, list[str]] = {
    "books": ["id", "title", "author_id", "publisher_id", "published_on", "price", "pages",
              "in_stock", "isbn", "keywords", "ratings", "extra", "created_at", "search"],
    "authors": ["id", "name", "email", "birth_date", "country", "metadata", "active"],
    "publishers": ["id", "name", "country"],
    "tags": ["id", "name"],
    "book_tags": ["book_id", "tag_id"],
    "orders": ["id", "user_id", "status", "total", "ordered_at", "delivery_window",
               "quantity_range"],
    "employees": ["id", "name", "manager_id", "salary"],
    "users": ["id", "username", "signed_up_at", "age"],
    "events": ["id", "occurred_on", "kind"],
    "book_summaries": ["id", "title", "writer_id", "price"],
    "publisher_book_counts": ["publisher_id", "name", "book_count"],
    "author_stats": ["author_id", "book_count", "total_pages"],
}  # fmt: skip
EMBEDS = ["authors", "books", "publishers", "tags", "editions", "users", "orders",
          "employees", "profiles", "book_summaries", "nope"]  # fmt: skip
FUNCTIONS = ["rpc/add_numbers", "rpc/search_books", "rpc/create_tag", "rpc/greet",
             "rpc/count_books", "rpc/author_book_counts", "rpc/sum_all", "rpc/author_of",
             "rpc/noop_procedure", "rpc/nope"]  # fmt: skip
ARGUMENTS = ["a", "b", "query", "max_price", "name", "min_books", "numbers", "book_id", "x"]
OPERATORS = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in",
             "is", "isdistinct", "fts", "plfts", "phfts", "wfts", "cs", "cd", "ov", "sl", "sr",
             "nxr", "nxl", "adj", "not.eq", "not.in", "not.is", "eq(any)", "like(all)",
             "fts(english)", "bogus"]  # fmt: skip
CASTS = ["text", "int", "integer", "json", "numeric", "date", "bogus", "int;drop"]
JUNK = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
# header values: printable ASCII without the surrounding spaces HTTP clients refuse to send
ASCII_JUNK = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20).map(
    str.strip
)

# query-string characters the grammar needs raw; everything else is percent-encoded
_RAW = ",.()*:!->{}\"'"


@dataclass(frozen=True)
class Target:
    database_url: str
    server: RunningServer
    client: httpx.Client
    checksum: list[dict[str, str]]


@pytest.fixture(scope="module")
def target(make_database: Callable[..., str]) -> Iterator[Target]:
    url = make_database("fixture.sql")
    checksum = database_checksum(url)
    server = start_server(url, "--schema", "public", "--schema", "api2")
    headers = {"apikey": server.service_key}
    with httpx.Client(base_url=server.rest_url, headers=headers, timeout=60) as client:
        yield Target(url, server, client, checksum)
    stop_server(server)


def _pick(known: list[str], wild: bool) -> st.SearchStrategy[str]:
    """A known name; in a wild request, sometimes junk."""
    if not wild:
        return st.sampled_from(known)
    return st.one_of(st.sampled_from(known), st.sampled_from(known), JUNK)


SENSIBLE_VALUES = st.one_of(
    st.integers(min_value=-5, max_value=250).map(str),
    st.sampled_from(["null", "true", "false", "1.5", "2024-01-01", "(1,2,3)", "{classic}",
                     "Book 001", "*sea*", "fiction", "[1,5)", '{"genre":"poetry"}']),
)  # fmt: skip
WILD_VALUES = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.sampled_from(["null", "true", "false", "1.5", "2024-01-01", "(1,2,3)", "{a,b}", "{}",
                     "[1,5)", '{"genre":"poetry"}', "*sea*", "%winter%", "", "1e400",
                     "99999999999999999999999", "x' or '1'='1", "not_null", "unknown"]),
    JUNK,
)  # fmt: skip


@st.composite
def fields(draw: st.DrawFn, columns: list[str], wild: bool) -> str:
    column = draw(_pick(columns, wild))
    keys = JUNK if wild else st.sampled_from(["genre", "awards", "format", "0"])
    path = draw(st.lists(st.tuples(st.sampled_from(["->", "->>"]), keys), max_size=2))
    if not wild and draw(st.integers(0, 4)) > 0:
        path = []
    return column + "".join(arrow + key for arrow, key in path)


@st.composite
def select_items(draw: st.DrawFn, columns: list[str], wild: bool, depth: int = 0) -> str:
    kinds = ["field", "field", "star", "embed"] + (["count", "junk"] if wild else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "star":
        return "*"
    if kind == "junk":
        return draw(JUNK)
    if kind == "count":
        return "count()"
    if kind == "embed" and depth < 2:
        name = draw(st.sampled_from(EMBEDS))
        hints = ["", "", "!inner", "!left"] + (["!books_author_id_fkey", "!x"] if wild else [])
        hint = draw(st.sampled_from(hints))
        spread = draw(st.sampled_from(["", "", "..."] if wild else [""]))
        inner = draw(
            st.lists(
                select_items(COLUMNS.get(name, ["id"]), wild, depth + 1), min_size=1, max_size=3
            )
        )
        return f"{spread}{name}{hint}({','.join(inner)})"
    item = draw(fields(columns, wild))
    if draw(st.booleans()):
        aliases = ["x", "alias", "a b", ""] if wild else ["x", "alias"]
        item = f"{draw(st.sampled_from(aliases))}:{item}"
    if draw(st.integers(0, 4)) == 0:
        item = f"{item}::{draw(st.sampled_from(CASTS if wild else CASTS[:2]))}"
    return item


@st.composite
def conditions(draw: st.DrawFn, columns: list[str], wild: bool) -> str:
    field, operator, value = draw(filters(columns, wild))
    return f"{field}.{operator}.{value}"


@st.composite
def filters(draw: st.DrawFn, columns: list[str], wild: bool) -> tuple[str, str, str]:
    """(field, operator, value); outside wild requests, integer columns and values."""
    if wild:
        return draw(fields(columns, wild)), draw(_operators(wild)), draw(_values(wild))
    integers = [c for c in columns if c in INTEGER_COLUMNS] or columns[:1]
    operator = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "in", "is"]))
    if operator == "in":
        value = "(" + ",".join(map(str, draw(st.lists(st.integers(0, 60), max_size=4)))) + ")"
    elif operator == "is":
        value = draw(st.sampled_from(["null", "not_null"]))
    else:
        value = str(draw(st.integers(-1, 210)))
    return draw(st.sampled_from(integers)), operator, value


def _operators(wild: bool) -> st.SearchStrategy[str]:
    return _pick(OPERATORS, wild) if wild else st.sampled_from(OPERATORS[:12])


def _values(wild: bool) -> st.SearchStrategy[str]:
    return WILD_VALUES if wild else SENSIBLE_VALUES


@st.composite
def query_params(draw: st.DrawFn, columns: list[str], wild: bool) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if draw(st.booleans()):
        items = draw(st.lists(select_items(columns, wild), min_size=1, max_size=4))
        params.append(("select", ",".join(items)))
    for _ in range(draw(st.integers(0, 3))):
        field, operator, value = draw(filters(columns, wild))
        params.append((field, f"{operator}.{value}"))
    if draw(st.integers(0, 3)) == 0:
        logic = draw(st.sampled_from(["or", "and", "not.or", "books.or"]))
        children = draw(st.lists(conditions(columns, wild), min_size=1, max_size=3))
        params.append((logic, f"({','.join(children)})"))
    if draw(st.booleans()):
        terms = draw(
            st.lists(
                st.tuples(
                    fields(columns, wild),
                    st.sampled_from(["", ".asc", ".desc"] + ([".bogus"] if wild else [])),
                    st.sampled_from(["", ".nullsfirst", ".nullslast"]),
                ),
                min_size=1,
                max_size=3,
            )
        )
        params.append(("order", ",".join(c + d + n for c, d, n in terms)))
    numbers = st.integers(0, 50).map(str)
    if wild:
        numbers = st.one_of(st.integers(-3, 50).map(str), st.just("10" * 15), ASCII_JUNK)
    for name in ("limit", "offset", "books.limit", "on_conflict", "columns"):
        if draw(st.integers(0, 5)) == 0:
            params.append((name, draw(numbers if "on" not in name else _pick(columns, wild))))
    if wild and draw(st.integers(0, 4)) == 0:
        params.append((draw(JUNK), draw(JUNK)))
    return params


INTEGER_COLUMNS = {
    "id",
    "author_id",
    "publisher_id",
    "pages",
    "book_id",
    "tag_id",
    "manager_id",
    "age",
    "writer_id",
    "book_count",
    "a",
    "b",
    "min_books",
}
CELLS = [1, 2, 7, -1, "x", "Book 999", None, True, "2024-01-01", 9.5, ["rare"], {"genre": "x"}]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | JUNK,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(JUNK, children, max_size=3),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn, columns: list[str], wild: bool) -> bytes | None:
    kinds = ["row", "row", "rows"] + (["json", "bytes", "none"] if wild else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    cells = json_values if wild else st.sampled_from(CELLS)
    row = st.dictionaries(_pick(columns + ARGUMENTS, wild), cells, max_size=4)
    value = draw(row) if kind == "row" else draw(st.lists(row, max_size=3))
    return json.dumps(value).encode()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


@st.composite
def requests(draw: st.DrawFn) -> Request:
    wild = draw(st.integers(0, 2)) == 0  # a third of requests mix in junk everywhere
    if draw(st.integers(0, 4)) == 0:
        relation = draw(_pick(FUNCTIONS, wild))
        columns = COLUMNS["books"] + ARGUMENTS
    else:
        relation = draw(_pick(list(COLUMNS), wild))
        columns = COLUMNS.get(relation, ["id", "name"])
    method = draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"]))
    params = draw(query_params(columns, wild))
    query = "&".join(f"{quote(k, safe=_RAW)}={quote(v, safe=_RAW)}" for k, v in params)
    prefer = draw(
        st.lists(
            st.sampled_from(["return=representation", "return=minimal", "return=headers-only",
                             "count=exact", "count=planned", "count=estimated",
                             "resolution=merge-duplicates", "resolution=ignore-duplicates",
                             "missing=default", "handling=strict", "handling=lenient",
                             "max-affected=1", "params=single-object", "bogus=1"]),
            max_size=3,
        )
    )  # fmt: skip
    headers: dict[str, str] = {}
    if method not in ("GET", "HEAD"):
        prefer.append("tx=rollback")  # mutations must leave no trace
        content_type = ["application/json", "text/csv", "application/x-www-form-urlencoded",
                        "text/plain", "application/octet-stream"]  # fmt: skip
        if wild:
            headers["Content-Type"] = draw(st.one_of(st.sampled_from(content_type), ASCII_JUNK))
        else:
            headers["Content-Type"] = "application/json"
    if prefer:
        headers["Prefer"] = ",".join(prefer)
    accept = ["application/json", "text/csv", "application/vnd.pgrst.object+json",
              "application/geo+json", "*/*", "text/plain"]  # fmt: skip
    if wild and draw(st.integers(0, 3)) == 0:
        headers["Accept"] = draw(st.one_of(st.sampled_from(accept), ASCII_JUNK))
    if wild and draw(st.integers(0, 5)) == 0:
        headers["Range"] = draw(st.one_of(st.sampled_from(["0-4", "5-", "3-1", "-1"]), ASCII_JUNK))
    if wild and draw(st.integers(0, 6)) == 0:
        profile = "Accept-Profile" if method in ("GET", "HEAD") else "Content-Profile"
        headers[profile] = draw(
            st.one_of(st.sampled_from(["public", "api2", "pg_catalog"]), ASCII_JUNK)
        )
    body = draw(bodies(columns, wild)) if method not in ("GET", "HEAD") else None
    path = quote(relation, safe="/")
    return Request(method, f"{path}?{query}" if query else path, headers, body)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=requests())
def test_grammar_shaped_requests_never_fail_the_server(target: Target, request: Request) -> None:
    response = target.client.request(
        request.method, request.path, headers=request.headers, content=request.body
    )
    what = (request, response.status_code, response.text[:300])
    event(f"{request.method} {response.status_code}")
    assert response.status_code < 500, what
    if response.status_code >= 400 and request.method != "HEAD":
        assert response.headers.get("content-type", "").startswith("application/json"), what
        error = response.json()
        assert isinstance(error, dict), what
        assert isinstance(error.get("code"), str), what
    assert "Traceback" not in response.text, what
    assert database_checksum(target.database_url) == target.checksum, what
