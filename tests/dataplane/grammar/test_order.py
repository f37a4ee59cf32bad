"""The order parameter."""

from __future__ import annotations

import pytest

from dbify.dataplane.grammar.order import parse_order
from dbify.dataplane.grammar.types import Field, JsonStep, OrderTerm
from dbify.errors import DbifyError

CASES: list[tuple[str, tuple[OrderTerm, ...]]] = [
    ("id", (OrderTerm(Field("id")),)),
    ("id.asc", (OrderTerm(Field("id"), "asc"),)),
    ("id.desc", (OrderTerm(Field("id"), "desc"),)),
    ("id.nullsfirst", (OrderTerm(Field("id"), None, "first"),)),
    ("id.desc.nullslast", (OrderTerm(Field("id"), "desc", "last"),)),
    (
        "a,b.desc, c.asc.nullsfirst",
        (
            OrderTerm(Field("a")),
            OrderTerm(Field("b"), "desc"),
            OrderTerm(Field("c"), "asc", "first"),
        ),
    ),
    ("data->>x.desc", (OrderTerm(Field("data", (JsonStep("->>", "x"),)), "desc"),)),
    ("data->0", (OrderTerm(Field("data", (JsonStep("->", 0),))),)),
    ("author(name).desc", (OrderTerm(Field("name"), "desc", None, "author"),)),
    (
        "clients(data->k).asc.nullslast",
        (OrderTerm(Field("data", (JsonStep("->", "k"),)), "asc", "last", "clients"),),
    ),
    (
        "name,clients(name),id",
        (
            OrderTerm(Field("name")),
            OrderTerm(Field("name"), relation="clients"),
            OrderTerm(Field("id")),
        ),
    ),
    ('"my col".desc', (OrderTerm(Field("my col"), "desc"),)),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_parse_order(value: str, expected: tuple[OrderTerm, ...]) -> None:
    assert parse_order(value) == expected


ERRORS = [
    ("id.ac", 4),
    ("id.descc", 8),
    ("id.nulsfist", 4),
    ("id.asc.nlsfst", 8),
    ("clients(name,id)", 13),
    ("", 1),
    ("id,", 4),
    ("id!x", 3),
]


@pytest.mark.parametrize(("value", "column"), ERRORS)
def test_parse_order_errors(value: str, column: int) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_order(value)
    assert caught.value.code == "PGRST100"
    assert caught.value.message == f'"failed to parse order ({value})" (line 1, column {column})'
