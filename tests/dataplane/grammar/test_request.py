"""Whole requests: target, action, schema, query parameters, ranges, Prefer, Accept."""

from __future__ import annotations

import pytest

from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.types import (
    ApiRequest,
    ColumnItem,
    EmbedItem,
    Field,
    Filter,
    JsonStep,
    LogicTree,
    OrderTerm,
    Range,
    Target,
)
from dbify.errors import DbifyError

SCHEMAS = ("public", "api")


def request(
    method: str = "GET",
    path: str = "/books",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> ApiRequest:
    return parse_request(method, path, query, headers or {}, body, exposed_schemas=SCHEMAS)


def error_of(**kwargs: object) -> DbifyError:
    with pytest.raises(DbifyError) as caught:
        request(**kwargs)  # type: ignore[arg-type]
    return caught.value


# --- target and action -------------------------------------------------------------

ACTIONS = [
    ("GET", "/books", {}, "read", Target("relation", "books")),
    ("HEAD", "/books", {}, "head", Target("relation", "books")),
    ("POST", "/books", {}, "insert", Target("relation", "books")),
    ("POST", "/books", {"prefer": "resolution=merge-duplicates"}, "upsert", None),
    ("POST", "/books", {"prefer": "resolution=ignore-duplicates"}, "upsert", None),
    ("PATCH", "/books", {}, "update", None),
    ("PUT", "/books", {}, "upsert", None),
    ("DELETE", "/books", {}, "delete", None),
    ("get", "/books", {}, "read", None),
    ("GET", "/rpc/add", {}, "call", Target("function", "add")),
    ("HEAD", "/rpc/add", {}, "call", None),
    ("POST", "/rpc/add", {}, "call", None),
    ("GET", "", {}, "schema", Target("root")),
    ("GET", "/", {}, "schema", Target("root")),
    ("HEAD", "/", {}, "schema", Target("root")),
    ("GET", "/my%20table", {}, "read", Target("relation", "my table")),
    ("GET", "/rpc/my%2Ffn", {}, "call", Target("function", "my/fn")),
    ("GET", "/books/", {}, "read", Target("relation", "books")),
    ("GET", "/rpc", {}, "read", Target("relation", "rpc")),
]


@pytest.mark.parametrize(("method", "path", "headers", "action", "target"), ACTIONS)
def test_action_and_target(
    method: str, path: str, headers: dict[str, str], action: str, target: Target | None
) -> None:
    parsed = request(method, path, headers=headers)
    assert parsed.action == action
    assert parsed.method == method.upper()
    if target is not None:
        assert parsed.target == target


METHOD_ERRORS = [
    ("OPTIONS", "/books", "PGRST117", 405, "Unsupported HTTP method: OPTIONS"),
    ("TRACE", "/books", "PGRST117", 405, "Unsupported HTTP method: TRACE"),
    ("POST", "/", "PGRST117", 405, "Unsupported HTTP method: POST"),
    ("PATCH", "/rpc/f", "PGRST101", 405, "Cannot use the PATCH method on RPC"),
    ("PUT", "/rpc/f", "PGRST101", 405, "Cannot use the PUT method on RPC"),
    ("DELETE", "/rpc/f", "PGRST101", 405, "Cannot use the DELETE method on RPC"),
    ("GET", "/a/b", "PGRST125", 404, "Invalid path specified in request URL"),
    ("GET", "/rpc/f/g", "PGRST125", 404, "Invalid path specified in request URL"),
]


@pytest.mark.parametrize(("method", "path", "code", "status", "message"), METHOD_ERRORS)
def test_method_and_path_errors(
    method: str, path: str, code: str, status: int, message: str
) -> None:
    error = error_of(method=method, path=path)
    assert (error.code, error.status, error.message) == (code, status, message)


def test_body_and_content_type_are_kept() -> None:
    parsed = request("POST", headers={"content-type": "text/csv"}, body=b"a,b\n1,2")
    assert parsed.body == b"a,b\n1,2"
    assert parsed.content_type == "text/csv"


# --- schema ------------------------------------------------------------------------

SCHEMA_CASES = [
    ("GET", {}, "public"),
    ("GET", {"accept-profile": "api"}, "api"),
    ("HEAD", {"accept-profile": "api"}, "api"),
    ("GET", {"content-profile": "nope"}, "public"),
    ("POST", {"content-profile": "api"}, "api"),
    ("PATCH", {"content-profile": "api"}, "api"),
    ("DELETE", {"content-profile": "api", "accept-profile": "nope"}, "api"),
    ("PUT", {"accept-profile": "nope"}, "public"),
]


@pytest.mark.parametrize(("method", "headers", "schema"), SCHEMA_CASES)
def test_schema_from_profile(method: str, headers: dict[str, str], schema: str) -> None:
    assert request(method, headers=headers).schema == schema


@pytest.mark.parametrize(
    ("method", "header"), [("GET", "accept-profile"), ("POST", "content-profile")]
)
def test_schema_not_exposed(method: str, header: str) -> None:
    error = error_of(method=method, headers={header: "secret"})
    assert (error.code, error.status) == ("PGRST106", 406)
    assert error.message == "The schema must be one of the following: public, api"
    assert error.hint == "Only the following schemas are exposed: public, api"


# --- query parameters --------------------------------------------------------------


def test_simple_filter() -> None:
    parsed = request(query="id=eq.5")
    assert parsed.filters == (((), Filter(Field("id"), "eq", "5")),)
    assert parsed.raw_params == (("id", "eq.5"),)
    assert parsed.ranges == (((), Range()),)


def test_everything_at_once() -> None:
    query = (
        "select=id,author:authors(name),books(title)&id=gt.1&books.price=lt.10"
        "&books.reviews.stars=eq.5&data->a->>b=eq.x&or=(a.eq.1,b.eq.2)"
        "&books.not.and=(c.eq.3)&order=id.desc&books.order=title&limit=5&offset=10"
        "&books.limit=2&books.offset=1&columns=a,b&on_conflict=id"
    )
    parsed = request(query=query)
    assert parsed.select == (
        ColumnItem(Field("id")),
        EmbedItem("authors", (ColumnItem(Field("name")),), alias="author"),
        EmbedItem("books", (ColumnItem(Field("title")),)),
    )
    assert parsed.filters == (
        ((), Filter(Field("id"), "gt", "1")),
        (("books",), Filter(Field("price"), "lt", "10")),
        (("books", "reviews"), Filter(Field("stars"), "eq", "5")),
        ((), Filter(Field("data", (JsonStep("->", "a"), JsonStep("->>", "b"))), "eq", "x")),
    )
    assert parsed.filters_at(("books", "reviews")) == (Filter(Field("stars"), "eq", "5"),)
    assert parsed.logic == (
        ((), LogicTree("or", (Filter(Field("a"), "eq", "1"), Filter(Field("b"), "eq", "2")))),
        (("books",), LogicTree("and", (Filter(Field("c"), "eq", "3"),), negated=True)),
    )
    assert parsed.order_at(()) == (OrderTerm(Field("id"), "desc"),)
    assert parsed.order_at(("books",)) == (OrderTerm(Field("title")),)
    assert parsed.range_at(()) == Range(10, 5)
    assert parsed.range_at(("books",)) == Range(1, 2)
    assert parsed.columns == ("a", "b")
    assert parsed.on_conflict == ("id",)
    assert [key for key, _ in parsed.raw_params] == [
        "id",
        "books.price",
        "books.reviews.stars",
        "data->a->>b",
    ]


def test_query_string_decoding() -> None:
    parsed = request(query="name=eq.a+b&title=eq.x%26y%3Dz&flag&%22my%20col%22=is.null")
    assert parsed.filters == (
        ((), Filter(Field("name"), "eq", "a b")),
        ((), Filter(Field("title"), "eq", "x&y=z")),
        ((), Filter(Field("my col"), "is", "null")),
    )
    assert ("flag", "") not in parsed.raw_params


def test_empty_select_is_star() -> None:
    assert request(query="select=").select == request().select


def test_first_select_wins() -> None:
    assert request(query="select=a&select=b").select == (ColumnItem(Field("a")),)


def test_not_or_at_root() -> None:
    parsed = request(query="not.or=(a.eq.1,a.eq.2)")
    assert parsed.logic[0][0] == ()
    assert parsed.logic[0][1].negated


def test_rpc_arguments_are_not_filters() -> None:
    parsed = request(path="/rpc/search", query="q=hello&limit=3&id=eq.1&weird.=x")
    assert parsed.raw_params == (("q", "hello"), ("id", "eq.1"), ("weird.", "x"))
    assert parsed.filters == (((), Filter(Field("id"), "eq", "1")),)
    assert parsed.range_at(()) == Range(0, 3)


QUERY_ERRORS = [
    ("id=val", "PGRST100", 400),
    ("id=", "PGRST100", 400),
    ("a.=eq.1", "PGRST100", 400),
    ("select=a(", "PGRST100", 400),
    ("order=id.sideways", "PGRST100", 400),
    ("or=a.eq.1", "PGRST100", 400),
    ("limit=abc", "PGRST100", 400),
    ("offset=1.5", "PGRST100", 400),
    ("offset=-1", "PGRST100", 400),
    ("books.limit=-1", "PGRST100", 400),
    ("limit=-1", "PGRST103", 416),
    ("columns=a,,b", "PGRST100", 400),
    ("on_conflict=", "PGRST100", 400),
    ("select=count()", "PGRST123", 400),
]


@pytest.mark.parametrize(("query", "code", "status"), QUERY_ERRORS)
def test_query_errors(query: str, code: str, status: int) -> None:
    error = error_of(query=query)
    assert (error.code, error.status) == (code, status)


# --- ranges ------------------------------------------------------------------------

RANGES = [
    ("GET", "", None, Range()),
    ("GET", "", "0-9", Range(0, 10)),
    ("GET", "", " 10-19 ", Range(10, 10)),
    ("GET", "", "5-", Range(5)),
    ("GET", "", "items=0-9", Range()),
    ("GET", "", "-5", Range()),
    ("GET", "limit=3", "0-9", Range(0, 3)),
    ("GET", "limit=30", "0-9", Range(0, 10)),
    ("GET", "offset=2&limit=100", "0-9", Range(2, 8)),
    ("GET", "limit=0", "0-9", Range(0, 0)),
    ("GET", "offset=4&limit=0", None, Range(4, 0)),
    ("GET", "offset=7", None, Range(7)),
    ("HEAD", "", "0-9", Range()),
    ("PATCH", "limit=2", "0-9", Range(0, 2)),
    ("DELETE", "", "5-1", Range()),
]


@pytest.mark.parametrize(("method", "query", "header", "expected"), RANGES)
def test_ranges(method: str, query: str, header: str | None, expected: Range) -> None:
    headers = {"range": header, "range-unit": "items"} if header is not None else {}
    assert request(method, query=query, headers=headers).range_at(()) == expected


@pytest.mark.parametrize(
    ("query", "header", "details"),
    [
        ("", "5-2", "The lower boundary must be lower than or equal to the upper boundary"),
        ("limit=-2", None, "Limit should be greater than or equal to zero."),
        ("limit=5", "10-20", "Limit should be greater than or equal to zero."),
    ],
)
def test_unsatisfiable_ranges(query: str, header: str | None, details: str) -> None:
    error = error_of(query=query, headers={"range": header} if header else {})
    assert (error.code, error.status) == ("PGRST103", 416)
    assert error.message == "Requested range not satisfiable"
    assert isinstance(error.details, str)
    assert error.details.startswith(details)


def test_limit_on_put_is_refused() -> None:
    error = error_of(method="PUT", query="limit=1")
    assert (error.code, error.status) == ("PGRST114", 400)


# --- Prefer ------------------------------------------------------------------------

PREFERENCES = [
    ("count=exact", {"count": "exact"}),
    ("count=planned", {"count": "planned"}),
    ("count=estimated", {"count": "estimated"}),
    ("return=minimal", {"return_": "minimal"}),
    ("return=headers-only", {"return_": "headers-only"}),
    ("return=representation", {"return_": "representation"}),
    ("resolution=merge-duplicates", {"resolution": "merge-duplicates"}),
    ("resolution=ignore-duplicates", {"resolution": "ignore-duplicates"}),
    ("missing=default", {"missing": "default"}),
    ("tx=rollback", {"tx": "rollback"}),
    ("tx=commit", {"tx": "commit"}),
    ("params=single-object", {"params": "single-object"}),
    ("max-affected=10", {"max_affected": 10}),
    ("handling=strict", {"handling": "strict"}),
    ("handling=lenient, bogus", {"handling": "lenient"}),
    ("timezone=America/Los_Angeles", {"timezone": "America/Los_Angeles"}),
    (
        "count=exact,  return=minimal ,tx=rollback",
        {"count": "exact", "return_": "minimal", "tx": "rollback"},
    ),
    ("count=exact, count=planned", {"count": "exact"}),
    ("unknown, count=nope", {}),
    ("max-affected=abc", {}),
]


@pytest.mark.parametrize(("header", "expected"), PREFERENCES)
def test_preferences(header: str, expected: dict[str, object]) -> None:
    preferences = request(headers={"prefer": header}).preferences
    for name in ("count", "return_", "resolution", "missing", "tx", "params", "max_affected",
                 "handling", "timezone"):  # fmt: skip
        assert getattr(preferences, name) == expected.get(name), name


@pytest.mark.parametrize(
    ("header", "invalid"),
    [
        ("handling=strict, foo", "foo"),
        ("count=exact,handling=strict,return=all", "return=all"),
        ("handling=strict, max-affected=-1", "max-affected=-1"),
    ],
)
def test_strict_handling_refuses_invalid_preferences(header: str, invalid: str) -> None:
    error = error_of(headers={"prefer": header})
    assert (error.code, error.status) == ("PGRST122", 400)
    assert error.message == "Invalid preferences given with handling=strict"
    assert error.details == f"Invalid preferences: {invalid}"


# --- Accept ------------------------------------------------------------------------

ACCEPTS = [
    ("/books", None, "json"),
    ("/books", "", "json"),
    ("/books", "application/json", "json"),
    ("/books", "*/*", "json"),
    ("/books", "application/json; charset=utf-8", "json"),
    ("/books", "application/vnd.pgrst.object+json", "object"),
    ("/books", "application/vnd.pgrst.object+json;nulls=stripped", "object"),
    ("/books", "application/vnd.pgrst.object", "object"),
    ("/books", "text/csv", "csv"),
    ("/books", "TEXT/CSV", "csv"),
    ("/books", "application/geo+json", "geojson"),
    ("/books", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "json"),
    ("/books", "text/csv;q=0.5, application/json", "json"),
    ("/books", "application/json;q=0.2, text/csv;q=0.9", "csv"),
    ("/books", "text/csv;q=0, application/json", "json"),
    ("/books", "text/csv;q=abc", "csv"),
    ("/rpc/f", "text/csv", "csv"),
    ("/", None, "openapi"),
    ("/", "application/openapi+json", "openapi"),
    ("/", "application/json", "openapi"),
]


@pytest.mark.parametrize(("path", "accept", "media_type"), ACCEPTS)
def test_accept(path: str, accept: str | None, media_type: str) -> None:
    headers = {"accept": accept} if accept is not None else {}
    assert request(path=path, headers=headers).media_type == media_type


@pytest.mark.parametrize(
    ("path", "accept", "listed"),
    [
        ("/books", "text/html", "text/html"),
        ("/books", "application/xml, text/plain;q=0.5", "application/xml, text/plain"),
        ("/books", "text/csv;q=0", "text/csv"),
        ("/books", "application/openapi+json", "application/openapi+json"),
        ("/", "text/csv", "text/csv"),
    ],
)
def test_unacceptable_media_type(path: str, accept: str, listed: str) -> None:
    error = error_of(path=path, headers={"accept": accept})
    assert (error.code, error.status) == ("PGRST118", 406)
    assert error.message == f"None of these media types are available: {listed}"
