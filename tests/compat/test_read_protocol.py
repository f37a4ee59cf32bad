"""PostgREST read protocol: status codes, headers, media types and errors, checked on a
real ``dbify serve`` over the fixture database."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests.compat.oracle import rows_of
from tests.fixtures.server import RunningServer

OBJECT = "application/vnd.pgrst.object+json"


def test_content_range_without_count(api: httpx.Client) -> None:
    response = api.get("/books?select=id&limit=20&offset=10")
    assert response.status_code == 200
    assert response.headers["content-range"] == "10-29/*"
    assert response.headers["content-type"].startswith("application/json")


def test_exact_count_gives_total_and_206(api: httpx.Client) -> None:
    response = api.get("/books?select=id&limit=20", headers={"Prefer": "count=exact"})
    assert response.status_code == 206
    assert response.headers["content-range"] == "0-19/200"
    assert "count=exact" in response.headers["preference-applied"]


def test_exact_count_of_whole_result_is_200(api: httpx.Client) -> None:
    response = api.get("/books?select=id&id=lt.6", headers={"Prefer": "count=exact"})
    assert response.status_code == 200
    assert response.headers["content-range"] == "0-4/5"


def test_range_header(api: httpx.Client) -> None:
    response = api.get("/books?select=id&order=id", headers={"Range": "5-9", "Range-Unit": "items"})
    assert [r["id"] for r in response.json()] == [6, 7, 8, 9, 10]
    assert response.headers["content-range"] == "5-9/*"


def test_range_beyond_total_is_416(api: httpx.Client) -> None:
    response = api.get("/books?select=id&offset=500", headers={"Prefer": "count=exact"})
    assert response.status_code == 416
    assert response.json()["code"] == "PGRST103"


def test_empty_result_content_range(api: httpx.Client) -> None:
    response = api.get("/books?id=eq.-1", headers={"Prefer": "count=exact"})
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["content-range"] == "*/0"


def test_planned_count_is_an_estimate(api: httpx.Client) -> None:
    response = api.get("/books?select=id&limit=10", headers={"Prefer": "count=planned"})
    assert response.status_code == 206
    total = int(response.headers["content-range"].split("/")[1])
    assert 100 <= total <= 400  # the planner's estimate, close to the real 200


def test_estimated_count_exact_when_page_not_full(api: httpx.Client) -> None:
    response = api.get("/books?select=id&id=lt.8&limit=50", headers={"Prefer": "count=estimated"})
    assert response.headers["content-range"] == "0-6/7"


def test_single_object(api: httpx.Client, fixture_database_url: str) -> None:
    response = api.get("/books?select=id,title&id=eq.7", headers={"Accept": OBJECT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(OBJECT)
    assert (
        response.json()
        == rows_of(fixture_database_url, "select id, title from books where id = 7")[0]
    )


def test_single_object_with_many_rows_is_406(api: httpx.Client) -> None:
    response = api.get("/books?id=lt.3", headers={"Accept": OBJECT})
    assert response.status_code == 406
    body = response.json()
    assert body["code"] == "PGRST116"
    assert body["details"] == "The result contains 2 rows"


def test_single_object_with_no_rows_is_406(api: httpx.Client) -> None:
    response = api.get("/books?id=eq.-5", headers={"Accept": OBJECT})
    assert response.status_code == 406
    assert response.json()["details"] == "The result contains 0 rows"


def test_csv(api: httpx.Client) -> None:
    response = api.get(
        "/authors?select=id,name,country&id=lte.5&order=id", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "name", "country"]
    assert rows[1] == ["1", "Author 01", "UK"]
    assert len(rows) == 6


def test_head_has_headers_and_no_body(api: httpx.Client) -> None:
    response = api.head("/books?select=id&limit=3", headers={"Prefer": "count=exact"})
    assert response.status_code == 206
    assert response.content == b""
    assert response.headers["content-range"] == "0-2/200"


def test_accept_profile_selects_schema(api: httpx.Client) -> None:
    response = api.get("/notes?select=body&order=id", headers={"Accept-Profile": "api2"})
    assert response.status_code == 200
    assert [r["body"] for r in response.json()] == ["First note", "Second note", "Orphan"]


def test_unexposed_schema_is_406(api: httpx.Client) -> None:
    response = api.get("/notes", headers={"Accept-Profile": "pg_catalog"})
    assert response.status_code == 406
    assert response.json()["code"] == "PGRST106"


def test_unknown_table_is_404(api: httpx.Client) -> None:
    response = api.get("/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "PGRST205"


def test_unknown_column_is_400(api: httpx.Client) -> None:
    response = api.get("/books?select=id,nope")
    assert response.status_code == 400
    assert response.json()["code"] == "42703"


def test_bad_filter_syntax_is_400(api: httpx.Client) -> None:
    response = api.get("/books?id=frobnicate.5")
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST100"


def test_bad_value_is_400_from_postgres(api: httpx.Client) -> None:
    response = api.get("/books?id=eq.abc")
    assert response.status_code == 400
    assert response.json()["code"] == "22P02"


def test_unknown_relationship_is_400(api: httpx.Client) -> None:
    response = api.get("/books?select=id,films(title)")
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST200"


def test_ambiguous_embed_is_300_with_candidates(api: httpx.Client) -> None:
    response = api.get("/messages?select=id,users(username)")
    assert response.status_code == 300
    body = response.json()
    assert body["code"] == "PGRST201"
    assert len(body["details"]) == 2
    assert body.get("hint")


def test_sql_in_identifiers_is_refused_without_harm(api: httpx.Client) -> None:
    for query in (
        '/books?select=id,"title; drop table books"',
        "/books?order=id;drop table books",
        "/books?select=id::text;drop table books",
        '/books?"id; drop table books"=eq.1',
    ):
        response = api.get(query)
        assert 400 <= response.status_code < 500, (query, response.text)
    assert api.get("/books?select=id&limit=1").status_code == 200


def test_missing_key_is_401(dbify_server: RunningServer) -> None:
    response = httpx.get(dbify_server.rest_url + "/books")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_key_is_401(dbify_server: RunningServer) -> None:
    response = httpx.get(dbify_server.rest_url + "/books", headers={"apikey": "dbify_anon_nope"})
    assert response.status_code == 401
    assert "nope" not in response.text


def test_bearer_key_and_anon_key_read(dbify_server: RunningServer) -> None:
    response = httpx.get(
        dbify_server.rest_url + "/books?select=id&limit=1",
        headers={"Authorization": f"Bearer {dbify_server.anon_key}"},
    )
    assert response.status_code == 200


def test_unknown_project_is_404(dbify_server: RunningServer) -> None:
    response = httpx.get(
        f"{dbify_server.base_url}/p/unknown/rest/v1/books",
        headers={"apikey": dbify_server.service_key},
    )
    assert response.status_code == 404


def test_cors_preflight(dbify_server: RunningServer) -> None:
    response = httpx.options(
        dbify_server.rest_url + "/books",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "apikey" in response.headers["access-control-allow-headers"]


def test_openapi_root(api: httpx.Client) -> None:
    from openapi_spec_validator import validate

    response = api.get("/")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert "/books" in document["paths"]
    assert "/rpc/search_books" in document["paths"]


def test_docs_page_serves_local_assets(dbify_server: RunningServer) -> None:
    page = httpx.get(f"{dbify_server.base_url}/p/{dbify_server.id}/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, "the page loads its renderer"
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
    for source in sources:
        assert httpx.get(f"{dbify_server.base_url}{source}").status_code == 200, source
    spec = httpx.get(f"{dbify_server.base_url}/p/{dbify_server.id}/docs/openapi.json")
    assert spec.status_code == 200
    assert "/books" in spec.json()["paths"]


def test_no_server_timing_by_default(api: httpx.Client) -> None:
    response = api.get("/books?id=eq.5")
    assert response.status_code == 200
    assert "server-timing" not in response.headers


def test_cors_headers_only_for_cross_origin_requests(api: httpx.Client) -> None:
    same_origin = api.get("/books?id=eq.5")
    assert "access-control-allow-origin" not in same_origin.headers
    cross = api.get("/books?id=eq.5", headers={"Origin": "http://example.com"})
    assert cross.headers["access-control-allow-origin"] == "*"
    assert "Content-Range" in cross.headers["access-control-expose-headers"]
