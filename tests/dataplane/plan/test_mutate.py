"""plan_mutate and build_mutate: the plan and the SQL shape of each write, without a
database (the HTTP tests in tests/compat/test_writes.py run them on PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.dataplane.plan.library import SNAPSHOT

from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.payload import Payload, parse_payload
from dbify.dataplane.plan.mutate import MutatePlan, plan_mutate
from dbify.dataplane.sql.mutate import build_mutate
from dbify.errors import DbifyError
from dbify.schema.model import QualifiedName, SchemaSnapshot

WRITABLE = replace(
    SNAPSHOT,
    relations={
        name: replace(r, insertable=True, updatable=True, deletable=r.name.name != "tags")
        for name, r in SNAPSHOT.relations.items()
    },
)


def _plan(
    method: str,
    path: str,
    query: str = "",
    body: bytes | None = None,
    *,
    prefer: str | None = None,
    snapshot: SchemaSnapshot = WRITABLE,
    allow_unfiltered: bool = False,
) -> MutatePlan:
    headers = {"prefer": prefer} if prefer else {}
    request = parse_request(method, path, query, headers, body, exposed_schemas=("public",))
    payload: Payload | None = None
    if method != "DELETE":
        payload = parse_payload(
            body, None, columns=request.columns, allow_mixed_keys=prefer == "missing=default"
        )
    return plan_mutate(request, snapshot, payload, allow_unfiltered=allow_unfiltered)


def test_insert_plan_and_sql() -> None:
    plan = _plan("POST", "/books", body=b'[{"id": 1, "title": "A"}, {"id": 2, "title": "B"}]')
    assert [c.name for c in plan.columns] == ["id", "title"]
    assert plan.returning is None
    statement = build_mutate(plan, media_type="json")
    # Nothing read back but the count (return=minimal): the bare INSERT, counted by its tag.
    assert statement.sql == (
        'INSERT INTO "public"."books" ("id", "title") SELECT _body."id",'
        ' _body."title" FROM json_to_recordset($1::text::json) AS _body("id" integer, "title" text)'
    )
    assert statement.counted
    assert statement.params == ('[{"id": 1, "title": "A"}, {"id": 2, "title": "B"}]',)
    assert "ON CONFLICT" not in statement.sql


def test_unknown_body_key_is_pgrst204() -> None:
    with pytest.raises(DbifyError) as caught:
        _plan("POST", "/books", body=b'{"nope": 1}')
    assert (caught.value.code, caught.value.status) == ("PGRST204", 400)
    assert "'nope' column of 'books'" in caught.value.message


def test_columns_parameter_chooses_the_columns() -> None:
    plan = _plan("POST", "/books", "columns=title", body=b'{"id": 1, "title": "A", "x": 0}')
    assert [c.name for c in plan.columns] == ["title"]


def test_missing_default_merges_defaults_from_the_catalogue() -> None:
    relation = WRITABLE.relations[QualifiedName("public", "authors")]
    bio = replace(relation.columns[2], default="'unknown'::text")
    authors = replace(relation, columns=(*relation.columns[:2], bio))
    snapshot = replace(WRITABLE, relations={**WRITABLE.relations, authors.name: authors})
    plan = _plan(
        "POST",
        "/authors",
        body=b'[{"name": "a", "bio": "b"}, {"name": "c"}]',
        prefer="missing=default",
        snapshot=snapshot,
    )
    sql = build_mutate(plan, media_type="json").sql
    assert "jsonb_build_object($2::text, 'unknown'::text) || _e" in sql
    assert "jsonb_to_recordset(" in sql


def test_upsert_on_conflict_and_resolutions() -> None:
    merge = _plan(
        "POST", "/tags", "on_conflict=name", b'{"name": "x"}', prefer="resolution=merge-duplicates"
    )
    assert [c.name for c in merge.on_conflict] == ["name"]
    sql = build_mutate(merge, media_type="json").sql
    assert 'ON CONFLICT ("name") DO UPDATE SET "name" = EXCLUDED."name"' in sql
    assert "(xmax = 0)" in sql  # tells inserted rows from updated ones (201 or 200)
    ignore = _plan("POST", "/tags", body=b'{"name": "x"}', prefer="resolution=ignore-duplicates")
    assert 'ON CONFLICT ("id") DO NOTHING' in build_mutate(ignore, media_type="json").sql


def test_put_needs_the_whole_key_with_eq() -> None:
    plan = _plan("PUT", "/tags", "id=eq.5", b'{"id": 5, "name": "x"}')
    assert plan.mutation == "put"
    statement = build_mutate(plan, media_type="json")
    assert 'WHERE _body."id" = $2::text::int' in statement.sql
    assert statement.params[1] == "5"
    for query in ("name=eq.x", "id=gt.5", "id=eq.5&name=eq.x", "id=not.eq.5", ""):
        with pytest.raises(DbifyError) as caught:
            _plan("PUT", "/tags", query, b'{"id": 5, "name": "x"}')
        assert (caught.value.code, caught.value.status) == ("PGRST105", 405)


def test_put_body_of_several_rows_is_pgrst115() -> None:
    with pytest.raises(DbifyError) as caught:
        _plan("PUT", "/tags", "id=eq.5", b'[{"id": 5}, {"id": 5}]')
    assert caught.value.code == "PGRST115"


def test_update_sql() -> None:
    plan = _plan("PATCH", "/books", "id=gt.2&title=like.A*", b'{"price": 3}')
    statement = build_mutate(plan, media_type="json")
    assert (
        'UPDATE "public"."books" AS "books" SET "price" = _body."price" FROM (SELECT * FROM'
        ' json_to_recordset($1::text::json) AS _body("price" numeric) LIMIT 1) AS _body'
        ' WHERE "books"."id" > $2::text::int' in statement.sql
    )
    assert statement.params[1:] == ("2", "A%")


@pytest.mark.parametrize(("method", "body"), [("PATCH", b'{"price": 1}'), ("DELETE", None)])
def test_unfiltered_mutation_is_refused(method: str, body: bytes | None) -> None:
    with pytest.raises(DbifyError) as caught:
        _plan(method, "/books", body=body)
    assert (caught.value.code, caught.value.status) == ("DBIFY101", 400)
    assert caught.value.hint
    assert _plan(method, "/books", body=body, allow_unfiltered=True).where == ()


def test_limit_and_order_use_the_key_in_a_subquery() -> None:
    plan = _plan("DELETE", "/books", "order=price.desc&limit=2")
    sql = build_mutate(plan, media_type="json").sql
    assert (
        'DELETE FROM "public"."books" AS "books" WHERE ("books"."id") IN (SELECT'
        ' "_limited"."id" FROM "public"."books" AS "_limited" ORDER BY "_limited"."price"'
        " DESC LIMIT $1::text::bigint)" in sql
    )


def test_representation_reads_the_returned_rows_with_embeds() -> None:
    plan = _plan(
        "POST",
        "/books",
        "select=title,author:authors!books_author_id_fkey(name)",
        b'{"title": "A", "author_id": 1}',
        prefer="return=representation",
    )
    assert plan.returning is not None
    sql = build_mutate(plan, media_type="json").sql
    assert 'FROM _mutated AS "books"' in sql
    assert 'FROM "public"."authors"' in sql
    assert "RETURNING *" in sql


@pytest.mark.parametrize(
    ("method", "query", "body", "prefer"),
    [
        ("POST", "", b'{"title": "A"}', "return=representation"),
        ("POST", "", b'{"title": "A"}', "return=headers-only"),
        ("POST", "", b'{"id": 1, "title": "A"}', "resolution=merge-duplicates"),
        ("PATCH", "id=eq.1", b'{"title": "A"}', "return=representation"),
        ("DELETE", "id=eq.1", None, "return=representation"),
        ("PUT", "id=eq.1", b'{"id": 1, "title": "A"}', None),
    ],
)
def test_writes_reading_their_rows_keep_the_cte(
    method: str, query: str, body: bytes | None, prefer: str | None
) -> None:
    statement = build_mutate(_plan(method, "/books", query, body, prefer=prefer), media_type="json")
    assert statement.sql.startswith("WITH _mutated AS (")
    assert " RETURNING " in statement.sql
    assert not statement.counted


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [("PATCH", "id=eq.1", b'{"title": "A"}'), ("DELETE", "id=eq.1", None)],
)
def test_minimal_update_and_delete_run_bare(method: str, query: str, body: bytes | None) -> None:
    statement = build_mutate(_plan(method, "/books", query, body), media_type="json")
    assert statement.sql.startswith(("UPDATE ", "DELETE "))
    assert "RETURNING" not in statement.sql
    assert statement.counted


def test_headers_only_asks_for_the_key() -> None:
    plan = _plan("POST", "/tags", body=b'{"name": "x"}', prefer="return=headers-only")
    assert [c.name for c in plan.location_key] == ["id"]
    assert "AS location" in build_mutate(plan, media_type="json").sql
    minimal = _plan("POST", "/tags", body=b'{"name": "x"}')
    assert minimal.location_key == ()


def test_relation_that_cannot_be_written_is_405() -> None:
    with pytest.raises(DbifyError) as caught:
        _plan("DELETE", "/tags", "id=eq.1")
    assert (caught.value.code, caught.value.status) == ("PGRST117", 405)
    with pytest.raises(DbifyError) as insert:
        _plan("POST", "/books", body=b"{}", snapshot=SNAPSHOT)
    assert insert.value.status == 405


def test_empty_object_inserts_defaults_and_empty_patch_changes_nothing() -> None:
    insert = build_mutate(_plan("POST", "/books", body=b"{}"), media_type="json").sql
    assert 'INSERT INTO "public"."books" SELECT  FROM json_array_elements(' in insert
    update = build_mutate(_plan("PATCH", "/books", "id=eq.1", b"{}"), media_type="json").sql
    assert "WHERE false" in update
