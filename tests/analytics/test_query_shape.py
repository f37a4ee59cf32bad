"""The logged query shape: filter values removed, grammar kept, whatever the input, raw
or masked by the data plane."""

from __future__ import annotations

from urllib.parse import unquote_plus

from hypothesis import given
from hypothesis import strategies as st

from dbify.analytics.event import entry_columns, entry_rows, shape_of_query
from dbify.dataplane.grammar.raw_shape import masked_query, raw_request_shape

_KEPT = {"select", "order", "limit", "offset", "columns", "on_conflict"}


def _reference(query_string: str) -> str:
    """The rule, written plainly: every pair unquoted, then judged by its name."""
    if not query_string:
        return ""
    parts = []
    for pair in query_string.split("&"):
        name, sep, value = pair.partition("=")
        name = unquote_plus(name)
        if name in _KEPT or not sep:
            parts.append(f"{name}={unquote_plus(value)}" if sep else name)
        elif name in ("or", "and", "not.or", "not.and") or "." not in value:
            parts.append(f"{name}=?")
        elif value.startswith("not."):
            parts.append(f"{name}=not.{value[4:].partition('.')[0]}.?")
        else:
            parts.append(f"{name}={value.partition('.')[0]}.?")
    return "&".join(parts)


@given(st.text(alphabet="ab=&.%+notreqlk0129(),*", max_size=40))
def test_shape_follows_the_rule_for_any_query_string(query_string: str) -> None:
    assert shape_of_query(query_string) == _reference(query_string)


def test_quoted_names_and_kept_values_are_unquoted() -> None:
    shape = shape_of_query("first+name=eq.a%20b&select=id%2Cname&n%61me=not.like.x*")
    assert shape == "first name=eq.?&select=id,name&name=not.like.?"


def test_values_never_survive() -> None:
    shape = shape_of_query("email=eq.bob%40x.io&or=(a.eq.secret,b.gt.2)&age=gte.30&x=secret")
    for value in ("bob", "secret", "30"):
        assert value not in shape
    assert shape == "email=eq.?&or=?&age=gte.?&x=?"


_PAIRS = st.sampled_from(
    ["id=eq.5", "id=not.eq.x_1", "a=gt.2.5", "b=lte.-3", "select=id,name", "limit=5",
     "order=id.desc", "books.limit=2", "c=neq.a:b", "d=gte.0", "or=(a.eq.1)", "x=in.(1,2)",
     "e=like.a*", "f=eq.a%20b", "g", "offset=10"]
)  # fmt: skip


@given(st.lists(_PAIRS, max_size=6))
def test_a_masked_query_logs_the_shape_of_its_raw_query(pairs: list[str]) -> None:
    """The pipeline hands the recorder its masked query when it has one (a str): the
    logged shape is the raw query's, whichever of the two the entry holds."""
    query = "&".join(pairs)
    raw_shape = raw_request_shape("GET", "/books", query, {})
    if raw_shape is None:
        return  # no masked query: the recorder keeps the raw bytes
    masked = masked_query(raw_shape)
    for value in ("5", "x_1", "2.5", "-3", "a:b"):
        assert f".{value}" not in masked
    entries = [_entry(query.encode()), _entry(masked)]
    raw_shape_column, masked_shape_column = (
        [row[6] for row in entry_rows([entry])] for entry in entries
    )
    assert masked_shape_column == raw_shape_column == [shape_of_query(query)]
    assert entry_columns(entries)[7] == [shape_of_query(query)] * 2


def _entry(query: bytes | str) -> tuple[object, ...]:
    return ("e", 1, "p", "r", "GET", "/books", query, 200, "", 1000, 0, 0, b"", 2, "k", "",
            "", "ua")  # fmt: skip
