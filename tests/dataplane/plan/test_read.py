"""plan_read: resolution against the snapshot and every error it reports."""

from __future__ import annotations

from typing import Any

import pytest
from tests.dataplane.plan.library import SNAPSHOT, request

import dbify.dataplane.plan as plan_package
from dbify.dataplane.grammar.types import (
    ColumnItem,
    EmbedItem,
    Field,
    Filter,
    LogicTree,
    OrderTerm,
    Range,
)
from dbify.dataplane.plan import (
    Condition,
    ConditionTree,
    EmbedPresence,
    plan_read,
)
from dbify.dataplane.plan.casts import validate_cast
from dbify.errors import DbifyError


def _col(name: str, **kwargs: Any) -> ColumnItem:
    return ColumnItem(Field(name), **kwargs)


def _error(table: str, **kwargs: Any) -> DbifyError:
    with pytest.raises(DbifyError) as caught:
        plan_read(request(table, **kwargs), SNAPSHOT)
    return caught.value


def test_public_names_are_exported() -> None:
    assert sorted(plan_package.__all__) == [
        *sorted(
            name for name in dir(plan_package) if not name.startswith("_") and name[0].isupper()
        ),
        "find_relation",
        "plan_read",
    ]


def test_star_expands_to_columns_in_order() -> None:
    plan = plan_read(request("authors"), SNAPSHOT)
    assert [c.name for c in plan.columns] == ["id", "name", "bio"]
    assert plan.columns[0].field.column.data_type == "integer"


def test_unknown_table_is_pgrst205_with_a_close_name() -> None:
    error = _error("bokks")
    assert (error.code, error.status) == ("PGRST205", 404)
    assert error.message == "Could not find the table 'public.bokks' in the schema cache"
    assert error.hint == "Perhaps you meant the table 'public.books'"
    assert _error("zzzzzz").hint is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"select": (_col("nope"),)},
        {"filters": (((), Filter(Field("nope"), "eq", "1")),)},
        {"order": (((), (OrderTerm(Field("nope")),)),)},
        {"logic": (((), LogicTree("or", (Filter(Field("nope"), "eq", "1"),))),)},
    ],
)
def test_unknown_column_is_42703(kwargs: dict[str, Any]) -> None:
    error = _error("books", **kwargs)
    assert (error.code, error.status) == ("42703", 400)
    assert error.message == "column books.nope does not exist"


@pytest.mark.parametrize("cast", ["text; drop table x", "int4 union select", "text)", "a.b.c"])
def test_unsafe_casts_are_rejected(cast: str) -> None:
    error = _error("books", select=(_col("id", cast=cast),))
    assert (error.code, error.status) == ("PGRST100", 400)


def test_safe_casts_are_normalised() -> None:
    assert validate_cast("Character Varying(20)[]") == "character varying(20)[]"
    assert validate_cast("public.mood") == "public.mood"


def test_embed_by_table_constraint_column_and_hint() -> None:
    author = EmbedItem("author_id", (_col("name"),))
    plan = plan_read(request("books", select=(author,)), SNAPSHOT)
    assert plan.embeds[0].relationship.constraint == "books_author_id_fkey"
    by_constraint = EmbedItem("books_editor_id_fkey", (_col("name"),))
    plan = plan_read(request("books", select=(by_constraint,)), SNAPSHOT)
    assert plan.embeds[0].relationship.constraint == "books_editor_id_fkey"
    hinted = EmbedItem("authors", (_col("name"),), hint="editor_id", join="inner")
    plan = plan_read(request("books", select=(hinted,)), SNAPSHOT)
    assert plan.embeds[0].relationship.constraint == "books_editor_id_fkey"
    assert plan.embeds[0].join == "inner"
    tags = EmbedItem("tags", (_col("name"),), hint="book_tags")
    plan = plan_read(request("books", select=(tags,)), SNAPSHOT)
    assert plan.embeds[0].relationship.cardinality == "many_to_many"


def test_missing_relationship_is_pgrst200() -> None:
    error = _error("books", select=(EmbedItem("tagz", (_col("name"),)),))
    assert (error.code, error.status) == ("PGRST200", 400)
    assert error.message == (
        "Could not find a relationship between 'books' and 'tagz' in the schema cache"
    )
    assert error.details == (
        "Searched for a foreign key relationship between 'books' and 'tagz' in the schema"
        " 'public', but no matches were found."
    )
    assert error.hint == "Perhaps you meant 'tags' instead of 'tagz'."
    hinted = _error("books", select=(EmbedItem("authors", (), hint="nope"),))
    assert hinted.details is not None
    assert "using the hint 'nope'" in hinted.details


def test_ambiguous_relationship_is_pgrst201_with_candidates() -> None:
    error = _error("books", select=(EmbedItem("authors", (_col("name"),)),))
    assert (error.code, error.status) == ("PGRST201", 300)
    assert error.message == (
        "Could not embed because more than one relationship was found for 'books' and 'authors'"
    )
    assert error.details == [
        {
            "cardinality": "many-to-one",
            "embedding": "books with authors",
            "relationship": "books_author_id_fkey using books(author_id) and authors(id)",
        },
        {
            "cardinality": "many-to-one",
            "embedding": "books with authors",
            "relationship": "books_editor_id_fkey using books(editor_id) and authors(id)",
        },
    ]
    assert error.hint == (
        "Try changing 'authors' to one of the following: 'authors!books_author_id_fkey',"
        " 'authors!books_editor_id_fkey'. Find the desired relationship in the 'details' key."
    )


def test_spread_on_to_many_is_rejected() -> None:
    error = _error("books", select=(EmbedItem("reviews", (_col("id"),), spread=True),))
    assert (error.code, error.status) == ("PGRST119", 400)
    assert error.message == "A spread operation on 'reviews' is not possible"


def test_parameters_for_a_path_not_embedded_are_pgrst108() -> None:
    error = _error("books", filters=((("reviews",), Filter(Field("id"), "eq", "1")),))
    assert (error.code, error.status) == ("PGRST108", 400)
    assert error.message == "'reviews' is not an embedded resource in this request"
    assert error.hint == "Verify that 'reviews' is included in the 'select' query parameter."
    assert _error("books", ranges=((("x",), Range(0, 1)),)).code == "PGRST108"


def test_related_order_must_be_to_one() -> None:
    select = (EmbedItem("reviews", (_col("id"),)),)
    order = (((), (OrderTerm(Field("id"), relation="reviews"),)),)
    error = _error("books", select=select, order=order)
    assert (error.code, error.message) == (
        "PGRST118",
        "A related order on 'reviews' is not possible",
    )


def test_filters_attach_to_their_embed_and_null_filters_become_presence() -> None:
    select = (_col("id"), EmbedItem("reviews", (_col("id"),), alias="r"))
    req = request(
        "books",
        select=select,
        filters=(
            (("r",), Filter(Field("stars"), "gt", "3")),
            ((), Filter(Field("r"), "is", "null", negated=True)),
        ),
        logic=(((), LogicTree("or", (Filter(Field("r"), "is", "null"),))),),
    )
    plan = plan_read(req, SNAPSHOT)
    assert plan.where[0] == EmbedPresence("r", present=True)
    assert isinstance(plan.where[1], ConditionTree)
    assert plan.where[1].children == (EmbedPresence("r", present=False),)
    child_filter = plan.embeds[0].plan.where[0]
    assert isinstance(child_filter, Condition)
    assert child_filter.field.column.name == "stars"
    bad = _error("books", select=select, filters=(((), Filter(Field("r"), "eq", "1")),))
    assert (bad.code, bad.message) == ("PGRST104", "Bad operator on the 'r' embedded resource")


def test_max_rows_caps_the_root_limit() -> None:
    plan = plan_read(request("books"), SNAPSHOT, max_rows=10)
    assert plan.range == Range(0, 10)
    req = request("books", ranges=(((), Range(5, 50)),))
    assert plan_read(req, SNAPSHOT, max_rows=10).range == Range(5, 10)
    req = request("books", ranges=(((), Range(0, 3)),))
    assert plan_read(req, SNAPSHOT, max_rows=10).range == Range(0, 3)
