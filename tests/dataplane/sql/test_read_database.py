"""Built read statements run on a real PostgreSQL and return the JSON PostgREST would."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import asyncpg
import pytest
from tests.dataplane.plan.library import DDL, SNAPSHOT, request

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
from dbify.dataplane.sql import ReadStatement, Statement, build_read


@pytest.fixture(scope="module")
def url(make_database: Callable[..., str]) -> str:
    database = make_database()

    async def load() -> None:
        conn = await asyncpg.connect(database)
        try:
            await conn.execute(DDL)
        finally:
            await conn.close()

    anyio.run(load)
    return database


async def _fetch(url: str, statement: Statement) -> asyncpg.Record:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchrow(statement.sql, *statement.params)
    finally:
        await conn.close()


def _statement(
    table: str,
    *,
    media_type: MediaType = "json",
    count: CountPreference | None = None,
    max_rows: int | None = None,
    **kwargs: Any,
) -> ReadStatement:
    plan = plan_read(request(table, **kwargs), SNAPSHOT, max_rows=max_rows)
    return build_read(plan, media_type=media_type, count=count)


def _run(url: str, table: str, **kwargs: Any) -> asyncpg.Record:
    return anyio.run(_fetch, url, _statement(table, **kwargs).main)


def _json(url: str, table: str, **kwargs: Any) -> Any:
    return json.loads(_run(url, table, **kwargs)["body"])


def col(
    name: str, *path: tuple[str, str | int], alias: str | None = None, cast: str | None = None
) -> ColumnItem:
    steps = tuple(JsonStep(a, k) for a, k in path)  # type: ignore[arg-type]
    return ColumnItem(Field(name, steps), alias, cast)


def ids(url: str, *filters: Filter, logic: tuple[LogicTree, ...] = ()) -> list[int]:
    body = _json(
        url,
        "books",
        select=(col("id"),),
        filters=tuple(((), f) for f in filters),
        logic=tuple(((), t) for t in logic),
        order=(((), (OrderTerm(Field("id")),)),),
    )
    return [row["id"] for row in body]


def f(name: str, op: str, value: str | tuple[str, ...], **kwargs: Any) -> Filter:
    return Filter(Field(name), op, value, **kwargs)  # type: ignore[arg-type]


# --- filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("id", "eq", "2"), [2]),
        (f("id", "neq", "2"), [1, 3, 4]),
        (f("price", "gt", "10"), [1, 2]),
        (f("price", "gte", "10.5"), [1, 2]),
        (f("price", "lt", "10.5"), [4]),
        (f("price", "lte", "10.5"), [1, 4]),
        (f("title", "like", "*lt*"), [4]),
        (f("title", "ilike", "a*"), [1]),
        (f("title", "match", "^[AB]"), [1, 2]),
        (f("title", "imatch", "^g"), [3]),
        (f("id", "in", ("1", "3")), [1, 3]),
        (f("price", "is", "null"), [3]),
        (f("price", "is", "not_null"), [1, 2, 4]),
        (f("price", "is", "null", negated=True), [1, 2, 4]),
        (f("editor_id", "isdistinct", "2"), [2, 3, 4]),
        (f("body", "fts", "fox & quick", language="english"), [1]),
        (f("body", "plfts", "fox"), [1, 4]),
        (f("body", "phfts", "quick brown", language="english"), [1]),
        (f("search", "wfts", "fox -quick", language="english"), [4]),
        (f("tags", "cs", "{b}"), [1, 2]),
        (f("tags", "cd", "{a,b,c}"), [1, 2, 3]),
        (f("tags", "ov", "{a,c}"), [1, 2]),
        (f("pages", "cs", "5"), [1, 2]),
        (f("pages", "cs", "[2,6]"), [1]),
        (f("pages", "sl", "[20,30)"), [1, 2]),
        (f("pages", "sr", "[20,30)"), [4]),
        (f("pages", "nxr", "[10,20)"), [1, 2]),
        (f("pages", "nxl", "[5,6)"), [2, 4]),
        (f("pages", "adj", "[10,12)"), [1]),
        (f("id", "eq", "2", negated=True), [1, 3, 4]),
        (f("title", "like", ("A*", "B*"), quantifier="any"), [1, 2]),
        (f("title", "like", ("*a", "*e*"), quantifier="all"), [2, 4]),
        (f("id", "gt", ("1", "2"), quantifier="all"), [3, 4]),
        (f("id", "eq", ("1", "4"), quantifier="any"), [1, 4]),
    ],
)
def test_every_operator_filters_rows(url: str, flt: Filter, expected: list[int]) -> None:
    assert ids(url, flt) == expected


def test_json_path_filters_compare_text_and_jsonb(url: str) -> None:
    text_path = Filter(Field("data", (JsonStep("->", "a"), JsonStep("->>", "b"))), "eq", "y")
    json_path = Filter(Field("data", (JsonStep("->", "n"),)), "gt", "1")
    assert ids(url, text_path) == [2]
    assert ids(url, json_path) == [2, 4]


def test_or_and_trees_nest_and_negate(url: str) -> None:
    tree = LogicTree(
        "or",
        (f("id", "eq", "1"), LogicTree("and", (f("price", "gt", "1"), f("price", "lt", "6")))),
    )
    assert ids(url, logic=(tree,)) == [1, 4]
    # SQL three-valued logic, as in PostgREST: NULL price makes row 3 neither in nor out.
    assert ids(url, logic=(LogicTree("or", tree.children, negated=True),)) == [2]


@pytest.mark.parametrize("plan_mode", ["force_custom_plan", "force_generic_plan"])
def test_the_id_filter_is_an_index_condition(url: str, plan_mode: str) -> None:
    statement = _statement("books", filters=(((), f("id", "eq", "2")),)).main

    async def explain() -> str:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"SET enable_seqscan = off; SET plan_cache_mode = {plan_mode}")
            rows = await conn.fetch("EXPLAIN " + statement.sql, *statement.params)
            return "\n".join(r[0] for r in rows)
        finally:
            await conn.close()

    plan = anyio.run(explain)
    assert "Index Scan using books_pkey" in plan
    assert "Index Cond: (id = " in plan


# --- order and range ----------------------------------------------------------------


def test_order_with_nulls_and_json_path(url: str) -> None:
    order = (OrderTerm(Field("price"), "desc", "last"), OrderTerm(Field("id")))
    body = _json(url, "books", select=(col("id"),), order=(((), order),))
    assert [r["id"] for r in body] == [2, 1, 4, 3]
    order = (OrderTerm(Field("price"), "asc", "first"),)
    body = _json(url, "books", select=(col("id"),), order=(((), order),))
    assert [r["id"] for r in body] == [3, 4, 1, 2]
    by_json = (OrderTerm(Field("data", (JsonStep("->", "n"),)), "desc", "last"),)
    body = _json(url, "books", select=(col("id"),), order=(((), by_json),))
    assert [r["id"] for r in body] == [4, 2, 1, 3]


def test_limit_offset_and_max_rows(url: str) -> None:
    order = (((), (OrderTerm(Field("id")),)),)
    body = _json(url, "books", select=(col("id"),), order=order, ranges=(((), Range(1, 2)),))
    assert [r["id"] for r in body] == [2, 3]
    body = _json(url, "books", select=(col("id"),), order=order, max_rows=3)
    assert [r["id"] for r in body] == [1, 2, 3]


# --- select -------------------------------------------------------------------------


def test_columns_aliases_casts_and_json_paths(url: str) -> None:
    select = (
        col("id", alias="key"),
        col("price", cast="text"),
        col("data", ("->", "a"), ("->>", "b")),
        col("data", ("->", "n"), alias="n"),
    )
    body = _json(url, "books", select=select, filters=(((), f("id", "eq", "1")),))
    assert body == [{"key": 1, "price": "10.5", "b": "x", "n": 1}]


def test_star_selects_every_column(url: str) -> None:
    body = _json(url, "authors", filters=(((), f("id", "eq", "1")),))
    assert body == [{"id": 1, "name": "Ann", "bio": "poet"}]


# --- embeds -------------------------------------------------------------------------


def _embed(relation: str, *items: Any, **kwargs: Any) -> EmbedItem:
    return EmbedItem(relation, tuple(items), **kwargs)


def _books(url: str, *items: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("order", (((), (OrderTerm(Field("id")),)),))
    return _json(url, "books", select=(col("id"), *items), **kwargs)


def test_many_to_one_by_column_name_and_hint(url: str) -> None:
    body = _books(url, _embed("author_id", col("name"), alias="author"))
    assert [b["author"] for b in body] == [{"name": "Ann"}, {"name": "Ann"}, {"name": "Bob"}, None]
    body = _books(url, _embed("authors", col("name"), hint="books_editor_id_fkey", alias="ed"))
    assert [b["ed"] for b in body] == [{"name": "Bob"}, None, {"name": "Ann"}, None]


def test_one_to_many_with_filters_order_and_limit_inside(url: str) -> None:
    body = _books(
        url,
        _embed("reviews", col("stars")),
        filters=((("reviews",), f("stars", "gt", "1")),),
        order=(
            ((), (OrderTerm(Field("id")),)),
            (("reviews",), (OrderTerm(Field("stars"), "desc"),)),
        ),
        ranges=((("reviews",), Range(0, 1)),),
    )
    assert [b["reviews"] for b in body] == [[{"stars": 5}], [{"stars": 4}], [], []]


def test_one_to_one_and_many_to_many(url: str) -> None:
    body = _books(
        url,
        _embed("book_details", col("isbn")),
        _embed("tags", col("name")),
        order=(((), (OrderTerm(Field("id")),)), (("tags",), (OrderTerm(Field("name")),))),
    )
    assert [b["book_details"] for b in body] == [{"isbn": "111"}, {"isbn": "222"}, None, None]
    assert [b["tags"] for b in body] == [
        [{"name": "classic"}, {"name": "sf"}],
        [{"name": "classic"}],
        [],
        [],
    ]


def test_nested_embeds_and_self_relationships(url: str) -> None:
    body = _json(
        url,
        "authors",
        select=(
            col("name"),
            _embed(
                "books", col("title"), _embed("reviews", col("stars")), hint="books_author_id_fkey"
            ),
        ),
        filters=(((), f("id", "eq", "1")),),
        order=(
            (("books",), (OrderTerm(Field("id")),)),
            (("books", "reviews"), (OrderTerm(Field("id")),)),
        ),
    )
    assert body == [
        {
            "name": "Ann",
            "books": [
                {"title": "Alpha", "reviews": [{"stars": 5}, {"stars": 3}, {"stars": 1}]},
                {"title": "Beta", "reviews": [{"stars": 4}]},
            ],
        }
    ]
    employees = _json(
        url,
        "employees",
        select=(
            col("name"),
            _embed("manager_id", col("name"), alias="manager"),
            _embed("employees", col("name"), alias="reports"),
        ),
        order=(((), (OrderTerm(Field("id")),)),),
    )
    assert employees == [
        {"name": "Boss", "manager": None, "reports": [{"name": "Mid"}]},
        {"name": "Mid", "manager": {"name": "Boss"}, "reports": [{"name": "Low"}]},
        {"name": "Low", "manager": {"name": "Mid"}, "reports": []},
    ]


def test_self_relationship_hint_returns_children(url: str) -> None:
    """PostgREST's convention (EmbedDisambiguationSpec): ``employees!manager_id`` on a
    self-reference is the one-to-many side, the rows whose ``manager_id`` is this id."""
    body = _json(
        url,
        "employees",
        select=(col("name"), _embed("employees", col("name"), alias="reports", hint="manager_id")),
        filters=(((), f("id", "eq", "1")),),
    )
    assert body == [{"name": "Boss", "reports": [{"name": "Mid"}]}]


def test_spread_lifts_keys_and_inner_drops_parents(url: str) -> None:
    body = _books(url, _embed("author_id", col("name", alias="author_name"), spread=True))
    assert body == [
        {"id": 1, "author_name": "Ann"},
        {"id": 2, "author_name": "Ann"},
        {"id": 3, "author_name": "Bob"},
        {"id": 4, "author_name": None},
    ]
    inner = _books(
        url,
        _embed("reviews", col("id"), join="inner"),
        filters=((("reviews",), f("stars", "eq", "4")),),
    )
    assert inner == [{"id": 2, "reviews": [{"id": 3}]}]
    inner_one = _books(
        url,
        _embed("author_id", col("name"), join="inner", spread=True),
        filters=((("author_id",), f("name", "eq", "Bob")),),
    )
    assert inner_one == [{"id": 3, "name": "Bob"}]


def test_null_filtering_on_embeds(url: str) -> None:
    present = _books(
        url, _embed("reviews", col("id")), filters=(((), f("reviews", "is", "null", negated=True)),)
    )
    assert [b["id"] for b in present] == [1, 2]
    absent = _books(
        url, _embed("book_details", col("isbn")), filters=(((), f("book_details", "is", "null")),)
    )
    assert [b["id"] for b in absent] == [3, 4]


def test_order_by_a_to_one_embed_column(url: str) -> None:
    body = _json(
        url,
        "books",
        select=(col("id"), _embed("author_id", col("name"), alias="author")),
        order=(
            (
                (),
                (
                    OrderTerm(Field("name"), "desc", "last", relation="author"),
                    OrderTerm(Field("id")),
                ),
            ),
        ),
    )
    assert [b["id"] for b in body] == [3, 1, 2, 4]


# --- media types and counts ---------------------------------------------------------


def test_object_media_type_counts_the_page(url: str) -> None:
    row = _run(url, "authors", media_type="object", filters=(((), f("id", "eq", "2")),))
    assert (row["page_count"], json.loads(row["body"])) == (
        1,
        {"id": 2, "name": "Bob", "bio": None},
    )
    row = _run(url, "authors", media_type="object", filters=(((), f("id", "eq", "9")),))
    assert (row["page_count"], row["body"]) == (0, "null")


def test_csv_quotes_like_postgrest(url: str) -> None:
    row = _run(url, "authors", media_type="csv", order=(((), (OrderTerm(Field("id")),)),))
    assert row["body"] == 'id,name,bio\n1,Ann,poet\n2,Bob,\n3,"Cy""d, e",'
    empty = _run(url, "authors", media_type="csv", filters=(((), f("id", "eq", "9")),))
    assert (empty["page_count"], empty["body"]) == (0, "\n")


def test_exact_count_ignores_the_range(url: str) -> None:
    row = _run(
        url,
        "books",
        count="exact",
        ranges=(((), Range(0, 1)),),
        filters=(((), f("price", "is", "not_null")),),
    )
    assert (row["total_count"], row["page_count"]) == (3, 1)
    inner = _run(
        url, "books", count="exact", select=(col("id"), _embed("reviews", col("id"), join="inner"))
    )
    assert inner["total_count"] == 2


def test_estimated_count_statement_explains(url: str) -> None:
    statement = _statement(
        "books",
        count="planned",
        select=(
            col("data", ("->>", "n")),
            _embed("reviews", col("id"), join="inner"),
            _embed("author_id", col("name")),
        ),
        filters=(((), f("id", "gt", "1")),),
        ranges=(((), Range(1, 2)),),
    ).count_estimate
    assert statement is not None

    async def explain() -> Any:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval("EXPLAIN (FORMAT JSON) " + statement.sql, *statement.params)
        finally:
            await conn.close()

    plan = json.loads(anyio.run(explain))
    assert plan[0]["Plan"]["Plan Rows"] >= 1


def test_empty_selects_give_empty_objects(url: str) -> None:
    body = _books(url, _embed("author_id", alias="author"), filters=(((), f("id", "lt", "3")),))
    assert body == [{"id": 1, "author": {}}, {"id": 2, "author": {}}]
    assert _json(url, "authors", select=(), filters=(((), f("id", "eq", "1")),)) == [{}]
