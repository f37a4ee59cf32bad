"""Hostile input: SQL fragments in every place the grammar takes a name or a value, huge
and deeply nested queries, invalid bytes, wrong content types, absurd ranges.

Each request must get a 4xx whose body is the JSON error shape
``{code, message, details, hint}`` (never a 5xx, a traceback or a server path), and the
database must be byte-for-byte unchanged afterwards (a checksum of every relation's rows,
of the relation list and of the functions, computed by SQL). The server runs on a
dedicated database because some requests are writes.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.compat.oracle import rows_of
from tests.fixtures.server import RunningServer, start_server, stop_server

_LEAKS = ("Traceback", 'File "', "site-packages", "/src/dbify", "asyncpg.", "dbify.")
_ERROR_KEYS = {"code", "message", "details", "hint"}


@dataclass(frozen=True)
class Hostile:
    """One hostile request; ``path`` is relative to the REST root and sent as is."""

    name: str
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Target:
    database_url: str
    server: RunningServer
    client: httpx.Client
    checksum: list[dict[str, str]]  # taken before the server started


def database_checksum(url: str) -> list[dict[str, str]]:
    """One row per relation of schemas public and api2 (md5 of all its rows), plus the
    relation list and the function definitions: any change to data or schema shows."""
    relations = rows_of(
        url,
        "select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname in ('public', 'api2') and c.relkind in ('r', 'm') order by 1",
    )
    parts = [
        f"select '{r['name']}' as item, md5(coalesce(string_agg(x::text, '|' order by x::text), "
        f"'')) as digest from {r['name']} x"
        for r in relations
    ]
    parts.append(
        "select 'relations', md5(string_agg(n.nspname || '.' || c.relname || c.relkind::text, ',' "
        "order by n.nspname, c.relname)) from pg_class c join pg_namespace n "
        "on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema') "
        "and n.nspname not like 'pg_toast%'"
    )
    parts.append(
        "select 'functions', md5(string_agg(p.oid::regprocedure::text || p.prosrc, ',' "
        "order by p.oid::regprocedure::text)) from pg_proc p join pg_namespace n "
        "on n.oid = p.pronamespace where n.nspname in ('public', 'api2')"
    )
    checksum: list[dict[str, str]] = rows_of(url, " union all ".join(parts))
    assert len(checksum) > 20
    return checksum


@pytest.fixture(scope="module")
def target(make_database: Callable[..., str]) -> Iterator[Target]:
    url = make_database("fixture.sql")
    checksum = database_checksum(url)
    server = start_server(url, "--schema", "public", "--schema", "api2")
    headers = {"apikey": server.service_key}
    with httpx.Client(base_url=server.rest_url, headers=headers, timeout=60) as client:
        yield Target(url, server, client, checksum)
    stop_server(server)


def assert_error_body(status: int, content_type: str, body: bytes, what: str) -> None:
    """A 4xx with the JSON error shape and nothing leaked."""
    text = body.decode("utf-8", errors="replace")
    assert 400 <= status < 500, (what, status, text[:500])
    for leak in _LEAKS:
        assert leak not in text, (what, leak, text[:500])
    assert content_type.startswith("application/json"), (what, content_type, text[:200])
    error = json.loads(body)
    assert isinstance(error, dict), (what, text[:200])
    assert set(error) >= _ERROR_KEYS, (what, error)
    assert isinstance(error["code"], str), (what, error)
    assert error["code"], (what, error)
    assert isinstance(error["message"], str), (what, error)
    assert error["message"], (what, error)


def send(target: Target, case: Hostile) -> httpx.Response:
    return target.client.request(case.method, case.path, headers=case.headers, content=case.body)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


JSON = {"Content-Type": "application/json"}
DEEP_OR = "or(" * 999 + "id.eq.1" + ")" * 999
DEEP_AND = "and=(" + "and(" * 999 + "id.eq.1" + ")" * 999 + ")"

# Requests that must be refused with a 4xx.
REFUSED = [
    # SQL in identifiers
    Hostile("column", "books?select=id;drop table books"),
    Hostile("quoted column", 'books?select="id; drop table books"'),
    Hostile("column comment", "books?select=id--&limit=1"),
    Hostile("alias", "books?select=x;drop table books:id"),
    Hostile("alias quote", "books?select=x'y:id&limit=1"),
    Hostile("order term", "books?select=id&order=id;drop table books"),
    Hostile("order direction", "books?select=id&order=id.desc;drop table books"),
    Hostile("order nulls", "books?select=id&order=id.desc.nullsfirst;drop"),
    Hostile("order expression", "books?select=id&order=(select 1)"),
    Hostile("cast", "books?select=id::text;drop table books"),
    Hostile("cast quoted", 'books?select=id::"int; drop table books"'),
    Hostile("cast function", "books?select=id::pg_sleep"),
    Hostile("filter column", 'books?"id; drop table books"=eq.1'),
    Hostile("filter operator", "books?id=eq;drop.1"),
    Hostile("filter integer", "books?select=id&id=eq.1;drop table books"),
    Hostile("filter integer or", "books?select=id&id=eq.1 or 1=1"),
    Hostile("filter in", "books?select=id&id=in.(1,2));drop table books--"),
    Hostile("filter in integer", "books?select=id&id=in.(1,2 or 1=1)"),
    Hostile("filter is", "books?select=id&price=is.null;drop"),
    Hostile("fts config", "books?select=id&search=fts(x y).sea"),
    Hostile("logic tree", "books?select=id&or=(id.eq.1);drop table books"),
    Hostile("logic tree column", "books?select=id&or=(id;drop.eq.1)"),
    Hostile("json path column", "authors?select=metadata;drop->>genre"),
    Hostile("embed name", "books?select=id,authors;drop table books(name)"),
    Hostile("embed hint", "books?select=id,authors!x';drop table books(name)"),
    Hostile("embed hint unknown", "books?select=id,authors!nope(name)"),
    Hostile("embed filter", "authors?select=id,books(id)&books;drop.id=eq.1"),
    Hostile("embed order", "authors?select=id,books(id)&books.order=id;drop"),
    Hostile("table", "books;drop table books?select=id"),
    Hostile("table quote", "books'?select=id"),
    Hostile("schema table", "pg_catalog.pg_roles"),
    Hostile("other schema path", "api2.notes"),
    # profile headers
    Hostile("accept profile", "books?select=id", headers={"Accept-Profile": "public;drop"}),
    Hostile("accept profile quote", "books", headers={"Accept-Profile": 'public"; drop'}),
    Hostile("accept profile catalog", "books", headers={"Accept-Profile": "pg_catalog"}),
    Hostile(
        "content profile",
        "tags",
        "POST",
        {**JSON, "Content-Profile": "api2'; drop table books; --"},
        _json({"name": "x"}),
    ),
    # functions
    Hostile("function name", "rpc/x';drop table books"),
    Hostile("function catalog", "rpc/pg_sleep?seconds=5"),
    Hostile("function catalog post", "rpc/pg_terminate_backend", "POST", JSON, _json({"pid": 1})),
    Hostile("function schema", "rpc/pg_catalog.pg_sleep?seconds=5"),
    Hostile("function argument", "rpc/add_numbers?a=1;drop table books&b=2"),
    Hostile(
        "function argument name",
        "rpc/create_tag",
        "POST",
        JSON,
        _json({"name); drop table books; --": "x"}),
    ),
    # sizes and nesting
    Hostile("deep or", f"books?select=id&or=({DEEP_OR})"),
    Hostile("deep and", f"books?select=id&{DEEP_AND}"),
    Hostile("deep not", "books?select=id&or=(" + "not.or(" * 999 + "id.eq.1" + ")" * 999 + ")"),
    Hostile("deep embed", "books?select=id," + "authors(" * 999 + "id" + ")" * 999),
    Hostile("deep embed spread", "books?select=id," + "...authors(" * 999 + "id" + ")" * 999),
    # bytes
    Hostile("nul value", "books?select=id&title=eq.a%00b"),
    Hostile("nul integer", "books?select=id&id=eq.1%00"),
    Hostile("nul column", "books?select=id%00"),
    Hostile("nul order", "books?select=id&order=id%00"),
    Hostile("nul filter column", "books?select=id&id%00=eq.1"),
    Hostile("nul table", "books%00?select=id"),
    Hostile("invalid utf-8 column", "books?select=%ff%fe"),
    Hostile("invalid utf-8 filter column", "books?%c0%af=eq.1"),
    Hostile("invalid utf-8 table", "bo%ffoks?select=id"),
    Hostile("invalid utf-8 function", "rpc/%ff%fe"),
    Hostile("invalid utf-8 integer", "books?select=id&id=eq.%ff"),
    # ranges and limits
    Hostile("limit negative", "books?select=id&limit=-1"),
    Hostile("limit huge", "books?select=id&limit=1000000000000000000000000000000"),
    Hostile("limit float", "books?select=id&limit=1e30"),
    Hostile("offset negative", "books?select=id&offset=-5"),
    Hostile("offset huge", "books?select=id&offset=1000000000000000000000000000000"),
    Hostile("embed limit huge", "authors?select=id,books(id)&books.limit=99999999999999999999"),
    Hostile("embed offset negative", "authors?select=id,books(id)&books.offset=-1"),
    Hostile(
        "range huge", "books?select=id", headers={"Range": "0-1000000000000000000000000000000"}
    ),
    Hostile("range start huge", "books?select=id", headers={"Range": "99999999999999999999-"}),
    Hostile("range beyond", "books?select=id&offset=100000", headers={"Prefer": "count=exact"}),
    # media types and bodies
    Hostile("accept unknown", "books?select=id", headers={"Accept": "text/xml"}),
    Hostile("post xml", "tags", "POST", {"Content-Type": "text/xml"}, b"<tag name='x'/>"),
    Hostile("post bad json", "tags", "POST", JSON, b'{"name": '),
    Hostile("post deep json", "tags", "POST", JSON, b"[" * 100_000 + b"]" * 100_000),
    Hostile("post invalid utf-8", "tags", "POST", JSON, b'{"name": "\xff\xfe"}'),
    Hostile("post nul in text", "tags", "POST", JSON, b'{"name": "a\\u0000b"}'),
    Hostile("post unknown column", "tags", "POST", JSON, _json({"name; drop table tags": "x"})),
    Hostile(
        "post columns", "tags?columns=name;drop table tags", "POST", JSON, _json({"name": "x"})
    ),
    Hostile("post on_conflict", "tags?on_conflict=name;drop", "POST", JSON, _json({"name": "x"})),
    Hostile(
        "post generated", "books", "POST", JSON, _json({"id": 1, "title": "x", "author_id": 1})
    ),
    Hostile("post to view aggregate", "publisher_book_counts", "POST", JSON, _json({"name": "x"})),
    Hostile(
        "patch unknown column",
        "books?id=eq.1",
        "PATCH",
        JSON,
        _json({"title; drop table books": "x"}),
    ),
    Hostile("patch bad integer", "books?id=eq.1", "PATCH", JSON, _json({"pages": "1; drop"})),
    Hostile("patch form", "books?id=eq.1", "PATCH", {"Content-Type": "text/plain"}, b"title=x"),
    Hostile("patch without filter", "books", "PATCH", JSON, _json({"title": "x"})),
    Hostile("delete without filter", "books", "DELETE"),
    Hostile("delete injected filter", "books?id=eq.1 or 1=1", "DELETE"),
    Hostile("delete injected in", "book_tags?book_id=in.(1) or true", "DELETE"),
    Hostile("put mismatched key", "tags?id=eq.1", "PUT", JSON, _json({"id": 2, "name": "x"})),
    Hostile("put without key", "tags", "PUT", JSON, _json({"id": 1, "name": "x"})),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_refused_with_json_error(target: Target, case: Hostile) -> None:
    response = send(target, case)
    assert_error_body(
        response.status_code, response.headers.get("content-type", ""), response.content, case.name
    )


# Requests that are legitimate in the grammar (values are bound, keys are bound): any
# status below 500 is fine, but an error must be JSON and nothing may change.
HARMLESS = [
    Hostile("text value", "books?select=id&title=eq.x' or '1'='1"),
    Hostile("text value comment", "books?select=id&title=eq.x'; drop table books; --"),
    Hostile("json path key", 'authors?select=metadata->>"a\');drop table authors;--"&limit=1'),
    Hostile("json path filter", "authors?select=id&metadata->>genre=eq.x';drop table authors"),
    Hostile("json path order", 'authors?select=id&order=metadata->>"x\';drop"&limit=1'),
    Hostile("like value", "books?select=id&title=like.%25'; drop table books; --"),
    Hostile("regex value", "books?select=id&title=match.(((a*)*)*)*$"),
    Hostile("array value", 'books?select=id&keywords=cs.{"a\\"}; drop"}'),
    Hostile("fts value", "books?select=id&search=fts.sea'; drop table books"),
    Hostile("fts config quote", "books?select=id&search=fts(english';drop).sea"),
    Hostile("in text values", 'books?select=id&title=in.("x\') or true; --",y)'),
    Hostile("invalid utf-8 value", "books?select=id&title=eq.%ff%fe"),
    Hostile("overlong utf-8 value", "books?select=id&title=eq.%c0%af"),
    Hostile("bad percent escape", "books?select=id&title=eq.%zz"),
    Hostile("range reversed", "books?select=id", headers={"Range": "5-1"}),
    Hostile("range negative", "books?select=id", headers={"Range": "-5--1"}),
    Hostile("range garbage", "books?select=id", headers={"Range": "bytes=0-0;drop"}),
    Hostile("range max", "books?select=id", headers={"Range": "9223372036854775807-"}),
    Hostile("offset max", "books?select=id&limit=1&offset=9223372036854775807"),
    Hostile("prefer garbage", "books?select=id&limit=1", headers={"Prefer": "count=exact;drop"}),
    Hostile("prefer long", "books?select=id&limit=1", headers={"Prefer": "x" * 8000}),
    Hostile("prefer tx", "books?select=id&limit=1", headers={"Prefer": "tx=commit; drop"}),
    Hostile("many filters", "books?select=id&" + "&".join(f"id=neq.{i}" for i in range(2000))),
    Hostile("wide in", "books?select=id&id=in.(" + ",".join(map(str, range(10_000))) + ")"),
    Hostile("wide or", "books?select=id&or=(" + ",".join(["id.eq.1"] * 5000) + ")"),
    Hostile("long value", "books?select=id&title=eq." + "a" * 50_000),
    Hostile(
        "patch matching nothing",
        "books?title=eq.x' or '1'='1",
        "PATCH",
        JSON,
        _json({"title": "x'); drop table books; --"}),
    ),
    Hostile("delete matching nothing", "books?title=eq.x' or '1'='1", "DELETE"),
    Hostile("rpc rollback", "rpc/create_tag", "POST", {**JSON, "Prefer": "tx=rollback"}, b"{}"),
    Hostile("options", "books", "OPTIONS"),
    Hostile("trace", "books", "TRACE"),
    Hostile("unknown method", "books", "PROPFIND"),
]


@pytest.mark.parametrize("case", HARMLESS, ids=[c.name for c in HARMLESS])
def test_harmless_is_never_a_server_error(target: Target, case: Hostile) -> None:
    response = send(target, case)
    assert response.status_code < 500, (case.name, response.status_code, response.text[:500])
    for leak in _LEAKS:
        assert leak not in response.text, (case.name, leak, response.text[:500])
    if response.status_code >= 400:
        assert_error_body(
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
            case.name,
        )


def _raw_get(server: RunningServer, target: str) -> tuple[int, str, bytes]:
    """GET with http.client, which (unlike httpx) sends URLs of any length."""
    url = urlsplit(server.rest_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    try:
        connection.request("GET", f"{url.path}/{target}", headers={"apikey": server.service_key})
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


HUGE_QUERY = "books?select=id&title=eq." + "a" * 100_000


def test_huge_query_string_is_a_4xx(target: Target) -> None:
    status, _, body = _raw_get(target.server, HUGE_QUERY)
    assert 400 <= status < 500, (status, body[:300])
    assert b"Traceback" not in body


def test_huge_query_string_error_is_json(target: Target) -> None:
    """Over 64 KB, httptools cannot represent the URL: a JSON 414, not uvicorn's text."""
    status, content_type, body = _raw_get(target.server, HUGE_QUERY)
    assert_error_body(status, content_type, body, "100 KB query string")
    assert status == 414
    assert json.loads(body)["code"] == "DBIFY414"


def test_malformed_request_line_error_is_json(target: Target) -> None:
    """A request the HTTP parser rejects gets the catalogue's JSON 400, then the server
    goes on serving."""
    url = urlsplit(target.server.rest_url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=10) as sock:
        sock.sendall(b"GET /p/x/rest/v1/books HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    content_type = next(
        line.split(b":", 1)[1].strip().decode()
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"content-type:")
    )
    assert_error_body(status, content_type, body, "malformed request line")
    assert (status, json.loads(body)["code"]) == (400, "DBIFY400")
    assert target.client.get("books?select=id&limit=1").status_code == 200


def test_too_many_select_items_is_a_4xx(target: Target) -> None:
    response = target.client.get("books?select=" + ",".join(["id"] * 1700))
    assert_error_body(
        response.status_code, response.headers["content-type"], response.content, "wide select"
    )


@pytest.mark.parametrize("body", [b"42", b'"x"', b"null"], ids=["number", "string", "null"])
def test_post_json_scalar_is_a_4xx(target: Target, body: bytes) -> None:
    response = target.client.post("tags", content=body, headers=JSON)
    assert_error_body(
        response.status_code, response.headers.get("content-type", ""), response.content, "scalar"
    )


JSON_PATH_DEPTHS = [
    "authors?select=x:metadata" + "->a" * 5000 + "&limit=1",
    "authors?select=id&metadata" + "->a" * 5000 + "=eq.1",
    "authors?select=id&order=metadata" + "->a" * 5000,
]


@pytest.mark.parametrize("path", JSON_PATH_DEPTHS, ids=["select", "filter", "order"])
def test_deep_json_path_is_a_4xx(target: Target, path: str) -> None:
    response = target.client.get(path)
    assert_error_body(
        response.status_code, response.headers["content-type"], response.content, "json path"
    )


def test_many_sibling_embeds_is_a_4xx(target: Target) -> None:
    select = ",".join(f"a{i}:authors(id)" for i in range(800))
    response = target.client.get(f"books?select=id,{select}&limit=1")
    assert_error_body(
        response.status_code, response.headers["content-type"], response.content, "embeds"
    )


def test_database_unchanged(target: Target) -> None:
    """Runs last in this module (pytest keeps file order): every request above left the
    data, the relations and the functions exactly as they were."""
    for case in REFUSED + HARMLESS:
        send(target, case)
    assert database_checksum(target.database_url) == target.checksum
    assert target.client.get("books?select=id&limit=1").status_code == 200


def test_checksum_sees_a_change(target: Target) -> None:
    """The checksum is not blind: a direct one-row update changes it."""
    asyncio.run(_execute(target.database_url, "update tags set name = name || '!' where id = 1"))
    assert database_checksum(target.database_url) != target.checksum


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
