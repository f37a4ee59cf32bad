"""The select parameter: columns, aliases, casts, JSON paths, embeds, spreads."""

from __future__ import annotations

import pytest

from dbify.dataplane.grammar.select import parse_select
from dbify.dataplane.grammar.types import (
    STAR,
    ColumnItem,
    EmbedItem,
    Field,
    JsonStep,
    SelectItem,
)
from dbify.errors import DbifyError


def col(
    name: str, *path: JsonStep, alias: str | None = None, cast: str | None = None
) -> ColumnItem:
    return ColumnItem(Field(name, tuple(path)), alias, cast)


CASES: list[tuple[str, tuple[SelectItem, ...]]] = [
    ("*", STAR),
    ("", STAR),
    ("  ", STAR),
    ("id", (col("id"),)),
    ("id,name", (col("id"), col("name"))),
    (" id , name ", (col("id"), col("name"))),
    ("first-name", (col("first-name"),)),
    ('"my col"', (col("my col"),)),
    ('"a,b":"x(y)"', (col("x(y)", alias="a,b"),)),
    ("total:amount", (col("amount", alias="total"),)),
    ("amount::text", (col("amount", cast="text"),)),
    ("t:amount::text", (col("amount", alias="t", cast="text"),)),
    ("data->a->>b", (col("data", JsonStep("->", "a"), JsonStep("->>", "b")),)),
    ("data->0", (col("data", JsonStep("->", 0)),)),
    ("data->>-1", (col("data", JsonStep("->>", -1)),)),
    ("data->1a", (col("data", JsonStep("->", "1a")),)),
    ('data->"a.b"', (col("data", JsonStep("->", "a.b")),)),
    ("x:data->>k::int", (col("data", JsonStep("->>", "k"), alias="x", cast="int"),)),
    ("rel(*)", (EmbedItem("rel", STAR),)),
    ("rel()", (EmbedItem("rel", ()),)),
    ("a:rel(id)", (EmbedItem("rel", (col("id"),), alias="a"),)),
    ("rel!fk(id)", (EmbedItem("rel", (col("id"),), hint="fk"),)),
    ("rel!inner(id)", (EmbedItem("rel", (col("id"),), join="inner"),)),
    ("rel!left(id)", (EmbedItem("rel", (col("id"),), join="left"),)),
    ("a:rel!fk!inner(id)", (EmbedItem("rel", (col("id"),), "a", "fk", "inner"),)),
    ("rel!inner!fk(id)", (EmbedItem("rel", (col("id"),), None, "fk", "inner"),)),
    ("...pub(name)", (EmbedItem("pub", (col("name"),), spread=True),)),
    ("...pub!fk!inner(name)", (EmbedItem("pub", (col("name"),), None, "fk", "inner", True),)),
    (
        "id,books(title,reviews(stars,user:users(name)))",
        (
            col("id"),
            EmbedItem(
                "books",
                (
                    col("title"),
                    EmbedItem(
                        "reviews", (col("stars"), EmbedItem("users", (col("name"),), "user"))
                    ),
                ),
            ),
        ),
    ),
    (" id , books ( title ) ", (col("id"), EmbedItem("books", (col("title"),)))),
    ("*,rel(*),other(id)", (*STAR, EmbedItem("rel", STAR), EmbedItem("other", (col("id"),)))),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_parse_select(value: str, expected: tuple[SelectItem, ...]) -> None:
    assert parse_select(value) == expected


ERRORS = [
    ("id,clients(name[])", 16),
    ("id,", 4),
    ("name!hint", 10),
    ("*!hint", 2),
    ("name::", 7),
    ("rel(id", 7),
    ("rel(id))", 8),
    ("alias:", 7),
    ("data->>-78xy", 8),
    ("a,,b", 3),
    ("...rel", 7),
]


@pytest.mark.parametrize(("value", "column"), ERRORS)
def test_parse_select_errors(value: str, column: int) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_select(value)
    error = caught.value
    assert error.code == "PGRST100"
    assert error.status == 400
    assert (
        error.message == f'"failed to parse select parameter ({value})" (line 1, column {column})'
    )
    assert isinstance(error.details, str)
    assert error.details.startswith("unexpected")


@pytest.mark.parametrize("value", ["count()", "amount.sum()", "c:count()", "rel(total.avg())"])
def test_aggregates_are_refused(value: str) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_select(value)
    assert caught.value.code == "PGRST123"


def test_nesting_is_bounded() -> None:
    deep = "a(" * 200 + "id" + ")" * 200
    with pytest.raises(DbifyError) as caught:
        parse_select(deep)
    assert caught.value.code == "PGRST100"
