"""build_read: the SQL text and parameters of each construct, without a database."""

from __future__ import annotations

from typing import Any

import pytest
from tests.dataplane.plan.library import SNAPSHOT, request

import dbify.dataplane.sql as sql_package
from dbify.dataplane.grammar.types import (
    ColumnItem,
    CountPreference,
    EmbedItem,
    Field,
    Filter,
    JsonStep,
    LogicTree,
    MediaType,
    OrderTerm,
    Range,
)
from dbify.dataplane.plan import plan_read
from dbify.dataplane.sql import ReadStatement, build_read, quote_ident
from dbify.errors import DbifyError


def _build(
    table: str,
    *,
    media_type: MediaType = "json",
    count: CountPreference | None = None,
    **kwargs: Any,
) -> ReadStatement:
    return build_read(
        plan_read(request(table, **kwargs), SNAPSHOT), media_type=media_type, count=count
    )


def _where(flt: Filter) -> tuple[str, tuple[Any, ...]]:
    main = _build("books", select=(ColumnItem(Field("id")),), filters=(((), flt),)).main
    return main.sql.partition(" WHERE ")[2].rpartition(") AS _t")[0], main.params


def test_public_names_are_exported() -> None:
    assert set(sql_package.__all__) == {
        "Param",
        "ReadStatement",
        "Statement",
        "build_read",
        "quote_ident",
        "quote_qualified",
    }


def test_quote_ident_doubles_quotes() -> None:
    assert quote_ident('a"b') == '"a""b"'


def test_simple_read_shape() -> None:
    main = _build(
        "books", select=(ColumnItem(Field("id")),), filters=(((), Filter(Field("id"), "eq", "5")),)
    ).main
    assert main.sql == (
        "SELECT NULL::bigint AS total_count, pg_catalog.count(*) AS page_count,"
        ' coalesce(json_agg(_t), \'[]\')::text AS body FROM (SELECT "books"."id"'
        ' FROM "public"."books" AS "books" WHERE "books"."id" = $1::text::integer) AS _t'
    )
    assert main.params == ("5",)


@pytest.mark.parametrize(
    ("flt", "where", "params"),
    [
        (Filter(Field("title"), "like", "*a*"), '"books"."title" LIKE $1::text', ("%a%",)),
        (Filter(Field("title"), "imatch", "^a"), '"books"."title" ~* $1::text', ("^a",)),
        (
            Filter(Field("id"), "in", ("1", "2")),
            '"books"."id" = ANY($1::text[]::integer[])',
            (["1", "2"],),
        ),
        (Filter(Field("price"), "is", "null"), '"books"."price" IS NULL', ()),
        (
            Filter(Field("price"), "is", "true", negated=True),
            'NOT ("books"."price" IS TRUE)',
            (),
        ),
        (
            Filter(Field("editor_id"), "isdistinct", "1"),
            '"books"."editor_id" IS DISTINCT FROM $1::text::integer',
            ("1",),
        ),
        (
            Filter(Field("body"), "fts", "a", language="english"),
            'to_tsvector($1::text::regconfig, "books"."body") @@'
            " to_tsquery($1::text::regconfig, $2::text)",
            ("english", "a"),
        ),
        (
            Filter(Field("search"), "wfts", "a"),
            '"books"."search" @@ websearch_to_tsquery($1::text)',
            ("a",),
        ),
        (Filter(Field("tags"), "cs", "{a}"), '"books"."tags" @> $1::text::text[]', ("{a}",)),
        (
            Filter(Field("pages"), "adj", "[1,2)"),
            '"books"."pages" -|- $1::text::int4range',
            ("[1,2)",),
        ),
        (
            Filter(Field("title"), "ilike", ("a*", "b*"), quantifier="all"),
            '"books"."title" ILIKE ALL($1::text[]::text[])',
            (["a%", "b%"],),
        ),
        (
            Filter(Field("data", (JsonStep("->", "a"), JsonStep("->>", 0))), "eq", "x"),
            '"books"."data"->$1::text->>$2::text::integer = $3::text',
            ("a", "0", "x"),
        ),
        (
            Filter(Field("data", (JsonStep("->", "n"),)), "gt", "1"),
            '("books"."data"->$1::text)::jsonb > $2::text::jsonb',
            ("n", "1"),
        ),
    ],
)
def test_filter_sql(flt: Filter, where: str, params: tuple[Any, ...]) -> None:
    assert _where(flt) == (where, params)


def test_logic_tree_sql() -> None:
    tree = LogicTree(
        "or",
        (
            Filter(Field("id"), "eq", "1"),
            LogicTree("and", (Filter(Field("id"), "gt", "2"), Filter(Field("id"), "lt", "5"))),
        ),
        negated=True,
    )
    main = _build("books", select=(ColumnItem(Field("id")),), logic=(((), tree),)).main
    assert 'WHERE NOT ("books"."id" = $1::text::integer OR ("books"."id" > $2' in main.sql
    assert main.params == ("1", "2", "5")


def test_sql_depends_only_on_the_shape() -> None:
    def shape(value: str, limit: int) -> ReadStatement:
        return _build(
            "books",
            select=(ColumnItem(Field("id")), EmbedItem("reviews", (ColumnItem(Field("id")),))),
            filters=(((), Filter(Field("title"), "eq", value)),),
            ranges=(((), Range(1, limit)), (("reviews",), Range(0, limit))),
        )

    first, second = shape("a", 3), shape("b';--", 7)
    assert first.main.sql == second.main.sql
    assert first.main.params != second.main.params


def test_order_and_range_sql() -> None:
    main = _build(
        "books",
        select=(ColumnItem(Field("id")),),
        order=(((), (OrderTerm(Field("price"), "desc", "last"), OrderTerm(Field("id")))),),
        ranges=(((), Range(10, 5)),),
    ).main
    assert main.sql.endswith(
        'ORDER BY "books"."price" DESC NULLS LAST, "books"."id"'
        " LIMIT $1::text::bigint OFFSET $2::text::bigint) AS _t"
    )
    assert main.params == ("5", "10")


def test_embed_shapes() -> None:
    main = _build(
        "books",
        select=(
            ColumnItem(Field("id")),
            EmbedItem("reviews", (ColumnItem(Field("id")),)),
            EmbedItem("author_id", (ColumnItem(Field("name")),), alias="author"),
            EmbedItem("tags", (ColumnItem(Field("name")),), join="inner"),
        ),
    ).main
    assert 'coalesce("reviews_1"."reviews_1", \'[]\') AS "reviews"' in main.sql
    assert 'LEFT JOIN LATERAL (SELECT json_agg(_e) AS "reviews_1"' in main.sql
    assert '"authors_2"."authors_2" AS "author"' in main.sql
    assert '(SELECT row_to_json(_e) FROM (SELECT "authors_2"."name") AS _e)' in main.sql
    assert (
        'INNER JOIN "public"."book_tags" AS "book_tags_4" ON "book_tags_4"."tag_id" = "tags_3"."id"'
        in main.sql
    )
    assert 'WHERE "tags_3"."tags_3" IS NOT NULL' in main.sql


def test_media_types_and_counts() -> None:
    obj = _build("books", media_type="object").main.sql
    assert "coalesce((json_agg(_t)->0)::text, 'null') AS body" in obj
    csv = _build("books", media_type="csv").main.sql
    assert csv.startswith("WITH _source AS (")
    exact = _build("books", count="exact", filters=(((), Filter(Field("id"), "gt", "1")),))
    assert exact.main.sql.startswith(
        'SELECT (SELECT pg_catalog.count(*) FROM "public"."books" AS "books"'
        ' WHERE "books"."id" > $1::text::integer)::bigint AS total_count'
    )
    planned = _build("books", count="planned", filters=(((), Filter(Field("id"), "gt", "1")),))
    assert planned.count_estimate is not None
    assert planned.count_estimate.sql == (
        'SELECT 1 FROM "public"."books" AS "books" WHERE "books"."id" > $1::text::integer'
    )
    assert planned.count_estimate.params == ("1",)
    with pytest.raises(DbifyError):
        _build("books", media_type="openapi")
