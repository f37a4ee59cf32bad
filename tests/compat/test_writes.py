"""PostgREST write compatibility: POST, PUT, PATCH, DELETE against a real server.

Every test here writes, so the module gets its own throwaway database and its own
``dbify serve`` (the shared session server's data is never touched). Effects are
checked with SQL (the oracle), not by reading back through Dbify. Tests use disjoint
rows so that their order does not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.compat.oracle import rows_of
from tests.fixtures.server import RunningServer, start_server, stop_server


@dataclass(frozen=True)
class WriteServer:
    url: str
    server: RunningServer
    client: httpx.Client

    def rows(self, sql: str) -> list[dict[str, object]]:
        result: list[dict[str, object]] = rows_of(self.url, sql)
        return result


@pytest.fixture(scope="module")
def db(make_database: Callable[..., str]) -> Iterator[WriteServer]:
    url = make_database("fixture.sql")
    server = start_server(url)
    headers = {"apikey": server.service_key}
    with httpx.Client(base_url=server.rest_url, headers=headers, timeout=30) as client:
        yield WriteServer(url, server, client)
    stop_server(server)


@pytest.fixture(scope="module")
def limited(make_database: Callable[..., str]) -> Iterator[WriteServer]:
    """A server with a 5-row payload limit that allows unfiltered writes."""
    url = make_database("fixture.sql")
    env = {"DBIFY_API__MAX_WRITE_ROWS": "5", "DBIFY_API__ALLOW_UNFILTERED_MUTATIONS": "true"}
    server = start_server(url, env=env)
    headers = {"apikey": server.service_key}
    with httpx.Client(base_url=server.rest_url, headers=headers, timeout=30) as client:
        yield WriteServer(url, server, client)
    stop_server(server)


# --- insert ------------------------------------------------------------------------


def test_insert_one_minimal(db: WriteServer) -> None:
    response = db.client.post("/tags", json={"name": "ins-one"})
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["content-range"] == "*/*"
    assert "location" not in response.headers
    assert db.rows("select name from tags where name = 'ins-one'") == [{"name": "ins-one"}]


def test_insert_headers_only_gives_location(db: WriteServer) -> None:
    response = db.client.post(
        "/tags", json={"name": "ins-loc"}, headers={"Prefer": "return=headers-only"}
    )
    assert response.status_code == 201
    (row,) = db.rows("select id from tags where name = 'ins-loc'")
    assert response.headers["location"] == f"/tags?id=eq.{row['id']}"
    assert response.headers["preference-applied"] == "return=headers-only"


def test_repeated_prefer_headers_all_apply(db: WriteServer) -> None:
    # Two Prefer header lines are one list (RFC 9110 5.3), as PostgREST reads them.
    response = db.client.post(
        "/tags",
        json={"name": "ins-two-prefer"},
        headers=[("Prefer", "return=representation"), ("Prefer", "count=exact")],
    )
    assert response.status_code == 201, response.text
    assert [row["name"] for row in response.json()] == ["ins-two-prefer"]
    assert response.headers["content-range"] == "*/1"
    applied = {part.strip() for part in response.headers["preference-applied"].split(",")}
    assert applied == {"return=representation", "count=exact"}


def test_insert_composite_key_location(db: WriteServer) -> None:
    response = db.client.post(
        "/editions",
        json={"book_id": 1, "edition_no": 77},
        headers={"Prefer": "return=headers-only"},
    )
    assert response.status_code == 201
    assert response.headers["location"] == "/editions?book_id=eq.1&edition_no=eq.77"


def test_bulk_insert_with_count_and_representation(db: WriteServer) -> None:
    body = [{"name": f"bulk-{i:03}"} for i in range(300)]
    response = db.client.post(
        "/tags?select=name",
        json=body,
        headers={"Prefer": "return=representation, count=exact"},
    )
    assert response.status_code == 201
    assert response.headers["content-range"] == "*/300"
    assert response.json() == body
    assert db.rows("select count(*) as n from tags where name like 'bulk-%'") == [{"n": 300}]


def test_minimal_writes_count_what_they_wrote(db: WriteServer) -> None:
    """A write answering with no rows runs bare and is counted by its command tag
    (``INSERT 0 n``, ``UPDATE n``, ``DELETE n``): the counts are the rows written."""
    exact = {"Prefer": "return=minimal, count=exact"}
    inserted = db.client.post("/tags", json=[{"name": f"tag-count-{i}"} for i in range(7)],
                              headers=exact)  # fmt: skip
    assert (inserted.status_code, inserted.headers["content-range"]) == (201, "*/7")
    updated = db.client.patch("/authors?id=lte.4", json={"country": "CNT"}, headers=exact)
    assert (updated.status_code, updated.headers["content-range"]) == (204, "0-3/4")
    none = db.client.patch("/tags?name=eq.no-such-tag", json={"name": "x"}, headers=exact)
    assert (none.status_code, none.headers["content-range"]) == (204, "*/0")
    deleted = db.client.delete("/tags?name=like.tag-count-*", headers=exact)
    assert (deleted.status_code, deleted.headers["content-range"]) == (204, "*/7")
    assert db.rows("select count(*) as n from authors where country = 'CNT'") == [{"n": 4}]
    assert db.rows("select count(*) as n from tags where name like 'tag-count%'") == [{"n": 0}]


def test_insert_representation_with_embed(db: WriteServer) -> None:
    response = db.client.post(
        "/books?select=title,author:authors(name),publisher:publishers(name)",
        json={"title": "Embedded", "author_id": 2, "publisher_id": 1},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201
    expected = db.rows(
        "select b.title, json_build_object('name', a.name) as author,"
        " json_build_object('name', p.name) as publisher"
        " from books b join authors a on a.id = b.author_id"
        " join publishers p on p.id = b.publisher_id where b.title = 'Embedded'"
    )
    assert response.json() == expected


def test_insert_csv(db: WriteServer) -> None:
    response = db.client.post(
        "/publishers",
        content=b'name,country\ncsv-one,NULL\n"csv, two",FR\n',
        headers={"Content-Type": "text/csv", "Prefer": "return=representation"},
    )
    assert response.status_code == 201
    assert [r["name"] for r in response.json()] == ["csv-one", "csv, two"]
    assert db.rows("select name, country from publishers where name like 'csv%' order by name") == [
        {"name": "csv, two", "country": "FR"},
        {"name": "csv-one", "country": None},
    ]


def test_insert_columns_ignores_other_keys(db: WriteServer) -> None:
    response = db.client.post(
        "/publishers?columns=name",
        json=[{"name": "cols-a", "country": "XX"}, {"name": "cols-b", "extra": 1}],
    )
    assert response.status_code == 201
    assert db.rows(
        "select name, country from publishers where name like 'cols-%' order by name"
    ) == [{"name": "cols-a", "country": None}, {"name": "cols-b", "country": None}]


def test_insert_missing_default(db: WriteServer) -> None:
    response = db.client.post(
        "/authors?select=name,active",
        json=[{"name": "md-a", "active": False}, {"name": "md-b"}],
        headers={"Prefer": "missing=default, return=representation"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == [{"name": "md-a", "active": False}, {"name": "md-b", "active": True}]
    assert "missing=default" in response.headers["preference-applied"]


def test_mixed_keys_without_missing_default_is_refused(db: WriteServer) -> None:
    response = db.client.post("/authors", json=[{"name": "mk-a", "active": False}, {"name": "b"}])
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"
    assert response.json()["message"] == "All object keys must match"
    assert db.rows("select id from authors where name = 'mk-a'") == []


def test_insert_into_auto_updatable_view(db: WriteServer) -> None:
    response = db.client.post(
        "/book_summaries?select=title,writer_id",
        json={"title": "Through a view", "writer_id": 3},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201
    assert response.json() == [{"title": "Through a view", "writer_id": 3}]
    assert db.rows("select author_id from books where title = 'Through a view'") == [
        {"author_id": 3}
    ]


def test_write_to_non_updatable_view_is_405(db: WriteServer) -> None:
    response = db.client.delete("/publisher_book_counts?publisher_id=eq.1")
    assert response.status_code == 405
    assert response.json()["code"] == "PGRST117"


# --- upsert ------------------------------------------------------------------------


def test_upsert_merge_duplicates(db: WriteServer) -> None:
    response = db.client.post(
        "/employees",
        json=[{"id": 900, "name": "new"}, {"id": 1, "name": "merged"}],
        headers={"Prefer": "resolution=merge-duplicates, return=representation"},
    )
    assert response.status_code == 201
    assert response.headers["preference-applied"].startswith("resolution=merge-duplicates")
    assert db.rows("select id, name from employees where id in (1, 900) order by id") == [
        {"id": 1, "name": "merged"},
        {"id": 900, "name": "new"},
    ]
    only_updates = db.client.post(
        "/employees",
        json={"id": 900, "name": "again"},
        headers={"Prefer": "resolution=merge-duplicates"},
    )
    assert only_updates.status_code == 200


def test_upsert_ignore_duplicates_on_conflict(db: WriteServer) -> None:
    before = db.rows("select id, country from publishers where name = 'Publisher 1'")
    response = db.client.post(
        "/publishers?on_conflict=name",
        json=[{"name": "Publisher 1", "country": "ZZ"}, {"name": "upsert-new", "country": "ZZ"}],
        headers={"Prefer": "resolution=ignore-duplicates, return=representation"},
    )
    assert response.status_code == 201, response.text
    assert [r["name"] for r in response.json()] == ["upsert-new"]
    assert db.rows("select id, country from publishers where name = 'Publisher 1'") == before


def test_upsert_merge_on_conflict_unique_column(db: WriteServer) -> None:
    response = db.client.post(
        "/publishers?on_conflict=name",
        json={"name": "merge-unique", "country": "AA"},
        headers={"Prefer": "resolution=merge-duplicates"},
    )
    assert response.status_code == 201
    again = db.client.post(
        "/publishers?on_conflict=name",
        json={"name": "merge-unique", "country": "BB"},
        headers={"Prefer": "resolution=merge-duplicates"},
    )
    assert again.status_code == 200
    assert db.rows("select country from publishers where name = 'merge-unique'") == [
        {"country": "BB"}
    ]


def test_put_inserts_then_replaces(db: WriteServer) -> None:
    headers = {"Prefer": "return=representation"}
    first = db.client.put("/employees?id=eq.950", json={"id": 950, "name": "p1"}, headers=headers)
    assert first.status_code == 201
    second = db.client.put("/employees?id=eq.950", json={"id": 950, "name": "p2"}, headers=headers)
    assert second.status_code == 200
    assert second.json()[0]["name"] == "p2"
    minimal = db.client.put("/employees?id=eq.950", json={"id": 950, "name": "p3"})
    assert minimal.status_code == 204
    assert db.rows("select name from employees where id = 950") == [{"name": "p3"}]


def test_put_body_must_match_key(db: WriteServer) -> None:
    response = db.client.put("/employees?id=eq.951", json={"id": 952, "name": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST115"
    assert db.rows("select id from employees where id in (951, 952)") == []


@pytest.mark.parametrize(
    "query", ["employees?name=eq.x", "employees?id=gt.1", "employees?id=eq.1&name=eq.x"]
)
def test_put_needs_exactly_the_key(db: WriteServer, query: str) -> None:
    response = db.client.put(f"/{query}", json={"id": 1, "name": "x"})
    assert response.status_code == 405
    assert response.json()["code"] == "PGRST105"


# --- update and delete -------------------------------------------------------------


def test_patch_with_filters(db: WriteServer) -> None:
    response = db.client.patch(
        "/films?id=in.(1,2)&select=id,released",
        json={"released": 1999},
        headers={"Prefer": "return=representation, count=exact"},
    )
    assert response.status_code == 200
    assert response.headers["content-range"] == "0-1/2"
    assert sorted(r["id"] for r in response.json()) == [1, 2]
    assert db.rows("select count(*) as n from films where released = 1999") == [{"n": 2}]


def test_patch_minimal_is_204(db: WriteServer) -> None:
    response = db.client.patch("/films?id=eq.3", json={"title": "Retitled"})
    assert response.status_code == 204
    assert response.headers["content-range"] == "0-0/*"
    assert db.rows("select title from films where id = 3") == [{"title": "Retitled"}]


def test_patch_limit_and_order(db: WriteServer) -> None:
    response = db.client.patch(
        "/actors?order=id.desc&limit=2&select=id",
        json={"name": "limited"},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 200
    top_two = db.rows("select id from actors order by id desc limit 2")
    assert sorted(r["id"] for r in response.json()) == sorted(r["id"] for r in top_two)
    assert db.rows("select count(*) as n from actors where name = 'limited'") == [{"n": 2}]


def test_delete_with_filter(db: WriteServer) -> None:
    db.client.post("/tags", json=[{"name": "del-a"}, {"name": "del-b"}, {"name": "keep-c"}])
    response = db.client.delete(
        "/tags?name=like.del-*", headers={"Prefer": "return=representation, count=exact"}
    )
    assert response.status_code == 200
    assert response.headers["content-range"] == "*/2"
    assert sorted(r["name"] for r in response.json()) == ["del-a", "del-b"]
    assert db.rows("select name from tags where name in ('del-a', 'del-b', 'keep-c')") == [
        {"name": "keep-c"}
    ]


def test_delete_minimal_is_204(db: WriteServer) -> None:
    db.client.post("/tags", json={"name": "del-min"})
    response = db.client.delete("/tags?name=eq.del-min")
    assert response.status_code == 204
    assert response.headers["content-range"] == "*/*"
    assert db.rows("select id from tags where name = 'del-min'") == []


def test_repeated_patch_and_delete_shapes_bind_their_own_values(db: WriteServer) -> None:
    """Writes of one shape after the first are served from the write cache
    (dataplane/write_cache.py): each must change exactly its own rows."""
    db.client.post("/tags", json=[{"name": f"rep-{n}"} for n in range(6)])
    ids = {r["name"]: r["id"] for r in db.rows("select id, name from tags where name like 'rep-%'")}
    for n in (0, 1, 2):
        response = db.client.patch(f"/tags?id=eq.{ids[f'rep-{n}']}", json={"name": f"patched-{n}"})
        assert response.status_code == 204
    for n in (3, 4):
        assert db.client.delete(f"/tags?id=eq.{ids[f'rep-{n}']}").status_code == 204
    left = db.rows("select name from tags where name like 'rep-%' or name like 'patched-%'")
    assert sorted(r["name"] for r in left) == ["patched-0", "patched-1", "patched-2", "rep-5"]
    rows = db.rows("select id, name from tags where name like 'patched-%' order by name")
    assert [r["id"] for r in rows] == [ids["rep-0"], ids["rep-1"], ids["rep-2"]]


def test_memoized_writes_answer_as_parsed_ones(db: WriteServer) -> None:
    """From the second write of a raw shape on, the request is not parsed again
    (write_cache.memoized_request): representations, other body keys, bad bodies and
    read-only keys must still get what a parsed request gets."""
    prefer = {"Prefer": "return=representation"}
    created = [
        db.client.post("/tags?select=id,name", json={"name": f"memo-{n}"}, headers=prefer)
        for n in range(3)
    ]
    assert [r.status_code for r in created] == [201, 201, 201]
    assert [r.json()[0]["name"] for r in created] == ["memo-0", "memo-1", "memo-2"]
    ids = [r.json()[0]["id"] for r in created]
    for n, id_ in enumerate(ids):
        patched = db.client.patch(f"/tags?id=eq.{id_}", json={"name": f"m{n}"}, headers=prefer)
        assert patched.json() == [{"id": id_, "name": f"m{n}"}]
    # The same raw shape with other body keys: another entry, planned afresh.
    other = db.client.patch(
        f"/tags?id=eq.{ids[1]}", json={"id": ids[1], "name": "k"}, headers=prefer
    )
    assert other.json() == [{"id": ids[1], "name": "k"}]
    bad = db.client.patch(f"/tags?id=eq.{ids[1]}", content=b"{not json", headers=prefer)
    assert (bad.status_code, bad.json()["code"]) == (400, "PGRST102"), bad.text
    unknown = db.client.patch(f"/tags?id=eq.{ids[1]}", json={"nope": 1}, headers=prefer)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "PGRST204"), unknown.text
    anon = {"apikey": db.server.anon_key}
    refused = db.client.patch(f"/tags?id=eq.{ids[2]}", json={"name": "x"}, headers=anon)
    assert refused.status_code in (401, 403), refused.text
    names = db.rows(f"select id, name from tags where id in ({ids[0]}, {ids[1]}, {ids[2]})")
    assert sorted((r["id"], r["name"]) for r in names) == [
        (ids[0], "m0"), (ids[1], "k"), (ids[2], "m2")
    ]  # fmt: skip


def test_bare_writes_bind_their_own_bodies_and_answer_as_parsed_ones(db: WriteServer) -> None:
    """From the second one-row write of a shape on, a bare write (no representation, no
    check) runs the remembered statement (pipeline._bare_write): each request's own body
    and operands are written, the answers equal the first's, and any body that does not
    fit the shape (other keys or order, an array, bad JSON) gets what a parsed request
    gets."""
    posted = [db.client.post("/tags", json={"name": f"bare-{n}"}) for n in range(4)]
    assert {(r.status_code, r.headers["content-range"], r.content) for r in posted} == {
        (201, "*/*", b"")
    }
    ids = {
        r["name"]: r["id"] for r in db.rows("select id, name from tags where name like 'bare-%'")
    }
    assert sorted(ids) == ["bare-0", "bare-1", "bare-2", "bare-3"]
    array = db.client.post("/tags", json=[{"name": "bare-a1"}, {"name": "bare-a2"}])
    assert array.status_code == 201
    swapped = db.client.post("/tags", content=b'{"id": 990001, "name": "bare-k"}')
    assert swapped.status_code == 201
    extra = db.client.post("/tags", json={"name": "bare-x", "nope": 1})
    assert (extra.status_code, extra.json()["code"]) == (400, "PGRST204"), extra.text
    bad = db.client.post("/tags", content=b'{"name": ')
    assert (bad.status_code, bad.json()["code"]) == (400, "PGRST102"), bad.text
    scalar = db.client.post("/tags", content=b"[1]")
    assert (scalar.status_code, scalar.json()["code"]) == (400, "PGRST102"), scalar.text
    patched = [
        db.client.patch(f"/tags?id=eq.{ids[f'bare-{n}']}", json={"name": f"bare-p{n}"})
        for n in range(3)
    ]
    assert [(r.status_code, r.headers["content-range"]) for r in patched] == [(204, "0-0/*")] * 3
    missed = db.client.patch("/tags?id=eq.987654", json={"name": "nobody"})
    assert (missed.status_code, missed.headers["content-range"]) == (204, "*/*")
    deleted = [db.client.delete(f"/tags?id=eq.{ids[f'bare-{n}']}") for n in (0, 1)]
    assert [(r.status_code, r.headers["content-range"]) for r in deleted] == [(204, "*/*")] * 2
    # tx=rollback is never bare: the repeated dry runs keep nothing.
    dry = [
        db.client.delete(f"/tags?id=eq.{ids['bare-3']}", headers={"Prefer": "tx=rollback"})
        for _ in range(3)
    ]
    assert [r.status_code for r in dry] == [204, 204, 204]
    left = {
        r["name"]: r["id"] for r in db.rows("select id, name from tags where name like 'bare-%'")
    }
    assert sorted(left) == ["bare-3", "bare-a1", "bare-a2", "bare-k", "bare-p2"]
    assert (left["bare-p2"], left["bare-3"], left["bare-k"]) == (
        ids["bare-2"],
        ids["bare-3"],
        990001,
    )


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_unfiltered_mutation_is_refused(db: WriteServer, method: str) -> None:
    before = db.rows("select count(*) as n, max(name) as m from tags")
    response = db.client.request(method, "/tags", json={"name": "all"})
    assert response.status_code == 400
    assert response.json()["code"] == "DBIFY101"
    assert response.json()["hint"]
    assert db.rows("select count(*) as n, max(name) as m from tags") == before


def test_unfiltered_mutation_allowed_by_setting(limited: WriteServer) -> None:
    response = limited.client.patch("/actors", json={"name": "everyone"})
    assert response.status_code == 204
    assert limited.rows("select distinct name from actors") == [{"name": "everyone"}]


# --- transactions and limits -------------------------------------------------------


def test_max_affected_rolls_back(db: WriteServer) -> None:
    before = db.rows("select id, country from authors order by id")
    response = db.client.patch(
        "/authors?id=lte.5", json={"country": "MAX"}, headers={"Prefer": "max-affected=3"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST124"
    assert response.json()["details"] == "The query affects 5 rows"
    assert db.rows("select id, country from authors order by id") == before
    within = db.client.patch(
        "/authors?id=lte.2", json={"country": "MAX"}, headers={"Prefer": "max-affected=3"}
    )
    assert within.status_code == 204
    assert db.rows("select count(*) as n from authors where country = 'MAX'") == [{"n": 2}]


def test_tx_rollback_shows_but_does_not_keep(db: WriteServer) -> None:
    response = db.client.post(
        "/tags?select=name",
        json={"name": "dry-run"},
        headers={"Prefer": "tx=rollback, return=representation"},
    )
    assert response.status_code == 201
    assert response.json() == [{"name": "dry-run"}]
    assert "tx=rollback" in response.headers["preference-applied"]
    assert db.rows("select id from tags where name = 'dry-run'") == []
    deleted = db.client.delete("/tags?id=eq.1", headers={"Prefer": "tx=rollback"})
    assert deleted.status_code == 204
    assert db.rows("select id from tags where id = 1") == [{"id": 1}]


def test_too_many_rows_is_413(limited: WriteServer) -> None:
    response = limited.client.post("/tags", json=[{"name": f"big-{i}"} for i in range(6)])
    assert response.status_code == 413
    assert limited.rows("select id from tags where name like 'big-%'") == []
    ok = limited.client.post("/tags", json=[{"name": f"big-{i}"} for i in range(5)])
    assert ok.status_code == 201


def test_read_only_key_cannot_write(db: WriteServer) -> None:
    response = db.client.post(
        "/tags", json={"name": "anon"}, headers={"apikey": db.server.anon_key}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "42501"
    assert db.rows("select id from tags where name = 'anon'") == []


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/publishers", {"name": "Publisher 1"}, 409, "23505"),
        ("/books", {"title": "orphan", "author_id": 99999}, 409, "23503"),
        ("/authors", {"name": None}, 400, "23502"),
        ("/books", {"title": "bad", "author_id": "abc"}, 400, "22P02"),
        ("/reviews", {"user_id": "x"}, 400, "22P02"),
        ("/authors", {"nope": 1}, 400, "PGRST204"),
        ("/authors?columns=name,nope", {"name": "x"}, 400, "PGRST204"),
        ("/no_such_table", {"name": "x"}, 404, "PGRST205"),
    ],
)
def test_database_errors_are_mapped(
    db: WriteServer, path: str, body: object, status: int, code: str
) -> None:
    response = db.client.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_invalid_json_says_where(db: WriteServer) -> None:
    response = db.client.post(
        "/tags",
        content=b'[{"name": "a"},\n {"name": }]',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "PGRST102"
    assert "line 2" in error["details"]


def test_empty_body_is_invalid(db: WriteServer) -> None:
    response = db.client.post("/tags", content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"


def test_invalid_csv_says_where(db: WriteServer) -> None:
    response = db.client.post(
        "/tags", content=b"name\nok\nbad,extra\n", headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"
    assert "Line 3" in response.json()["details"]


def test_wrong_content_type_is_415(db: WriteServer) -> None:
    response = db.client.post(
        "/tags", content=b"<tag/>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "PGRST107"
