"""The logged query shape: filter values removed, grammar kept, whatever the input."""

from __future__ import annotations

from urllib.parse import unquote_plus

from hypothesis import given
from hypothesis import strategies as st

from dbify.analytics.event import shape_of_query

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
