"""Filters (``col=op.value``) and logic trees (``or=(...)``)."""

from __future__ import annotations

import pytest

from dbify.dataplane.grammar.filters import parse_logic_tree, parse_operation
from dbify.dataplane.grammar.types import Field, Filter, JsonStep, LogicTree
from dbify.errors import DbifyError

F = Field("c")

OPERATIONS: list[tuple[str, Filter]] = [
    ("eq.5", Filter(F, "eq", "5")),
    ("eq.", Filter(F, "eq", "")),
    ("eq.a.b,c)", Filter(F, "eq", "a.b,c)")),
    ("neq.x", Filter(F, "neq", "x")),
    ("gt.1", Filter(F, "gt", "1")),
    ("gte.1", Filter(F, "gte", "1")),
    ("lt.1", Filter(F, "lt", "1")),
    ("lte.1", Filter(F, "lte", "1")),
    ("not.eq.5", Filter(F, "eq", "5", negated=True)),
    ("like.*ann*", Filter(F, "like", "%ann%")),
    ("ilike.a*", Filter(F, "ilike", "a%")),
    ("not.ilike.*x", Filter(F, "ilike", "%x", negated=True)),
    ("match.^a", Filter(F, "match", "^a")),
    ("imatch.^a", Filter(F, "imatch", "^a")),
    ("eq(any).{1,2}", Filter(F, "eq", ("1", "2"), quantifier="any")),
    ("neq(all).{a}", Filter(F, "neq", ("a",), quantifier="all")),
    ("gt(any).{}", Filter(F, "gt", (), quantifier="any")),
    ('eq(any).{"a,b", c ,"d\\"e"}', Filter(F, "eq", ("a,b", "c", 'd"e'), quantifier="any")),
    ("like(any).{a*,*b}", Filter(F, "like", ("a%", "%b"), quantifier="any")),
    ("not.ilike(all).{a*}", Filter(F, "ilike", ("a%",), True, "all")),
    ("in.(1,2,3)", Filter(F, "in", ("1", "2", "3"))),
    ('in.(a,"b,c",c)', Filter(F, "in", ("a", "b,c", "c"))),
    ('in.("a\\"b","c\\\\d")', Filter(F, "in", ('a"b', "c\\d"))),
    ('in.(a"b)', Filter(F, "in", ('a"b',))),
    ("in.()", Filter(F, "in", ())),
    ('in.("")', Filter(F, "in", ("",))),
    ("in.( 1, 2)", Filter(F, "in", ("1", " 2"))),
    ("not.in.(1)", Filter(F, "in", ("1",), negated=True)),
    ("is.null", Filter(F, "is", "null")),
    ("is.NULL", Filter(F, "is", "null")),
    ("is.not_null", Filter(F, "is", "not_null")),
    ("is.True", Filter(F, "is", "true")),
    ("is.false", Filter(F, "is", "false")),
    ("is.unknown", Filter(F, "is", "unknown")),
    ("not.is.null", Filter(F, "is", "null", negated=True)),
    ("isdistinct.5", Filter(F, "isdistinct", "5")),
    ("fts.cat", Filter(F, "fts", "cat")),
    ("fts(english).cat & dog", Filter(F, "fts", "cat & dog", language="english")),
    ("plfts(simple).a b", Filter(F, "plfts", "a b", language="simple")),
    ("phfts.a", Filter(F, "phfts", "a")),
    ("not.wfts(english).a", Filter(F, "wfts", "a", True, language="english")),
    ("cs.{a,b}", Filter(F, "cs", "{a,b}")),
    ("cd.{1}", Filter(F, "cd", "{1}")),
    ("ov.[1,2]", Filter(F, "ov", "[1,2]")),
    ("sl.(1,10)", Filter(F, "sl", "(1,10)")),
    ("sr.(1,10)", Filter(F, "sr", "(1,10)")),
    ("nxr.(1,10)", Filter(F, "nxr", "(1,10)")),
    ("nxl.(1,10)", Filter(F, "nxl", "(1,10)")),
    ("adj.(1,10)", Filter(F, "adj", "(1,10)")),
]


@pytest.mark.parametrize(("value", "expected"), OPERATIONS)
def test_parse_operation(value: str, expected: Filter) -> None:
    assert parse_operation(F, value) == expected


OPERATION_ERRORS = [
    ("noop.0", 1),
    ("val", 1),
    ("", 1),
    ("eq", 1),
    ("not.", 5),
    ("is.nul", 4),
    ("is.nullx", 4),
    ("is(any).null", 1),
    ("in.1,2", 4),
    ("in.(1,2", 8),
    ("in.(1)x", 7),
    ("eq().5", 1),
    ("eq(some).5", 1),
    ("cs(any).{a}", 1),
    ("fts().x", 1),
    ("eq(any).5", 9),
    ("eq(any).{a", 10),
    ("eq(any).{a}b", 12),
    ("EQ.5", 1),
]


@pytest.mark.parametrize(("value", "column"), OPERATION_ERRORS)
def test_parse_operation_errors(value: str, column: int) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_operation(F, value)
    error = caught.value
    assert (error.code, error.status) == ("PGRST100", 400)
    assert error.message == f'"failed to parse filter ({value})" (line 1, column {column})'
    assert isinstance(error.details, str)
    assert "expecting" in error.details


def a(value: str) -> Filter:
    return Filter(Field("a"), "eq", value)


TREES: list[tuple[str, str, LogicTree]] = [
    ("or", "(a.eq.1,a.eq.2)", LogicTree("or", (a("1"), a("2")))),
    ("and", "(a.eq.1)", LogicTree("and", (a("1"),))),
    # As in PostgREST, a bare value keeps its spaces: only the field is trimmed.
    ("or", "( a.eq.1 , a.eq.2 )", LogicTree("or", (a("1 "), a("2 ")))),
    (
        "or",
        "(a.eq.1,and(a.eq.2,not.or(a.eq.3,a.eq.4)))",
        LogicTree(
            "or",
            (a("1"), LogicTree("and", (a("2"), LogicTree("or", (a("3"), a("4")), True)))),
        ),
    ),
    ("or", '(a.eq."x,y)",a.eq.z)', LogicTree("or", (a("x,y)"), a("z")))),
    ("or", '(a.eq."q\\"",a.eq."")', LogicTree("or", (a('q"'), a("")))),
    ("or", "(a.eq.)", LogicTree("or", (a(""),))),
    (
        "or",
        "(tags.cs.{a,b},id.in.(1,2))",
        LogicTree(
            "or", (Filter(Field("tags"), "cs", "{a,b}"), Filter(Field("id"), "in", ("1", "2")))
        ),
    ),
    (
        "or",
        "(tags.eq(any).{a,b},name.ilike.*x*)",
        LogicTree(
            "or",
            (
                Filter(Field("tags"), "eq", ("a", "b"), quantifier="any"),
                Filter(Field("name"), "ilike", "%x%"),
            ),
        ),
    ),
    (
        "and",
        "(b.not.is.null,data->>k.gt.3,body.fts(english).cat)",
        LogicTree(
            "and",
            (
                Filter(Field("b"), "is", "null", negated=True),
                Filter(Field("data", (JsonStep("->>", "k"),)), "gt", "3"),
                Filter(Field("body"), "fts", "cat", language="english"),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("operator", "value", "expected"), TREES)
def test_parse_logic_tree(operator: str, value: str, expected: LogicTree) -> None:
    assert operator in ("and", "or")
    tree = parse_logic_tree("and" if operator == "and" else "or", value)
    assert tree == expected


def test_negated_logic_tree() -> None:
    tree = parse_logic_tree("and", "(a.eq.1)", negated=True)
    assert tree == LogicTree("and", (a("1"),), negated=True)


TREE_ERRORS = [
    "()",
    "(id.in.1,2,id.eq.3)",
    ")(",
    "a.eq.1",
    "(and(a.eq.1),a.eq.2",
    "(a.eq.1,not.xor(a.eq.2))",
    "(a.noop.1)",
    "(a.eq.1))",
    "(a)",
    "(" * 100 + "a.eq.1" + ")" * 100,
]


@pytest.mark.parametrize("value", TREE_ERRORS)
def test_parse_logic_tree_errors(value: str) -> None:
    with pytest.raises(DbifyError) as caught:
        parse_logic_tree("or", value)
    assert caught.value.code == "PGRST100"
    assert caught.value.message.startswith(f'"failed to parse logic tree ({value})"')
