"""Planning calls: overload resolution, argument binding, transaction mode, result shape."""

from __future__ import annotations

import pytest
from tests.dataplane.plan.functions import CALL_SNAPSHOT, call_request

from dbify.dataplane.plan.call import CallPlan, plan_call
from dbify.errors import DbifyError


def _plan(
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_rows: int | None = None,
) -> CallPlan:
    return plan_call(call_request(path, method, body, headers), CALL_SNAPSHOT, max_rows=max_rows)


def _error(path: str, method: str = "GET", body: bytes | None = None) -> DbifyError:
    with pytest.raises(DbifyError) as caught:
        _plan(path, method, body)
    return caught.value


def _bound(plan: CallPlan) -> list[tuple[str, object]]:
    return [(a.parameter.name, a.value) for a in plan.call.arguments]


@pytest.mark.parametrize(
    ("path", "chosen"),
    [
        ("greet", ()),
        ("greet?name=x", ("name",)),
        ("page", ("size", "from")),
        ("page?from=3", ("size", "from")),
        ("find?q=a", ("q", "max")),
        ("find?q=a&max=2", ("q", "max")),
    ],
)
def test_overload_chosen_by_argument_names(path: str, chosen: tuple[str, ...]) -> None:
    function = _plan(path).call.function
    assert tuple(p.name for p in function.input_parameters) == chosen


@pytest.mark.parametrize(
    "path", ["greet?nope=1", "add?a=1", "find?max=2", "page?size=1&other=2", "missing"]
)
def test_no_overload_takes_these_names(path: str) -> None:
    error = _error(path)
    assert (error.code, error.status) == ("PGRST202", 404)


def test_not_found_hints_the_closest_name_or_parameters() -> None:
    assert _error("ad?a=1").hint == "Perhaps you meant to call the function public.add"
    assert _error("add?a=1&c=2").message == (
        "Could not find the function public.add(a, c) in the schema cache"
    )
    assert _error("greet?nam=1").hint == "Perhaps you meant to call the function public.greet(name)"


def test_same_names_different_types_are_ambiguous() -> None:
    error = _error("pick?x=1")
    assert (error.code, error.status) == ("PGRST203", 300)
    assert "public.pick(x => text), public.pick(x => integer)" in error.message


def test_get_arguments_are_plain_keys_that_are_not_filters() -> None:
    plan = _plan("search?q=fox&title=like.*a*&select=id,title")
    assert _bound(plan) == [("q", "fox")]
    assert plan.read is not None
    assert [c.name for c in plan.read.columns] == ["id", "title"]
    assert len(plan.read.where) == 1


def test_last_repeated_value_wins_but_variadic_collects_all() -> None:
    assert _bound(_plan("greet?name=a&name=b")) == [("name", "b")]
    assert _bound(_plan("total?numbers=1&numbers=2")) == [("numbers", ("1", "2"))]
    assert _bound(_plan("total?numbers=1")) == [("numbers", ("1",))]


def test_json_body_arguments_are_read_by_postgresql() -> None:
    plan = _plan("add", "POST", b'{"b": 2, "a": 1}')
    assert _bound(plan) == [("a", None), ("b", None)]
    assert plan.call.body == '{"b": 2, "a": 1}'
    assert not plan.call.positional


def test_form_body_arguments() -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    plan = _plan("add", "POST", b"a=1&b=2", headers)
    assert _bound(plan) == [("a", "1"), ("b", "2")]


def test_single_unnamed_parameters_take_the_body() -> None:
    echo = _plan("echo", "POST", b"[1,2]")
    assert echo.call.positional
    assert _bound(echo) == [("", "[1,2]")]
    shout = _plan("shout", "POST", b"hi", {"content-type": "text/plain"})
    assert _bound(shout) == [("", "hi")]
    with pytest.raises(DbifyError):
        _plan("echo?x=1")  # not by GET


def test_params_single_object_passes_the_body_to_one_json_parameter() -> None:
    plan = _plan("keys", "POST", b'{"a": 1}', {"prefer": "params=single-object"})
    assert plan.call.positional
    assert _bound(plan) == [("payload", '{"a": 1}')]


@pytest.mark.parametrize(
    ("path", "method", "read_only"),
    [
        ("make_tag?name=x", "GET", True),
        ("make_tag", "POST", False),
        ("greet", "POST", True),
        ("greet", "HEAD", True),
    ],
)
def test_transaction_mode(path: str, method: str, read_only: bool) -> None:
    body = b'{"name": "x"}' if path == "make_tag" else None
    assert _plan(path, method, body).read_only is read_only


@pytest.mark.parametrize(
    ("path", "shape", "returns_set"),
    [
        ("greet", "scalar", False),
        ("series?n=3", "scalar", True),
        ("nothing", "void", False),
        ("search?q=a", "rows", True),
        ("author_of?id=1", "rows", False),
        ("counts", "rows", True),
        ("opaque", "record", False),
    ],
)
def test_result_shape(path: str, shape: str, returns_set: bool) -> None:
    plan = _plan(path, "POST" if path == "nothing" else "GET")
    assert (plan.shape, plan.returns_set) == (shape, returns_set)
    assert (plan.read is not None) == (shape == "rows")


def test_table_result_columns_are_filterable() -> None:
    plan = _plan("counts?n=gt.2&order=n.desc&select=author_id")
    assert plan.read is not None
    assert [c.name for c in plan.read.columns] == ["author_id"]
    assert plan.read.call is plan.call
    assert plan.read.order[0].field.column.name == "n"


def test_embeds_from_a_table_typed_result() -> None:
    plan = _plan("search?q=a&select=id,author:authors!books_author_id_fkey(name)")
    assert plan.read is not None
    assert [e.label for e in plan.read.embeds] == ["author"]


def test_unknown_result_column_is_an_error() -> None:
    assert _error("search?q=a&nope=eq.1").code == "42703"
    assert _error("greet?x=eq.1").code == "42703"


def test_max_rows_caps_sets() -> None:
    assert _plan("series?n=9&limit=50", max_rows=5).range.limit == 5
    plan = _plan("search?q=a", max_rows=7)
    assert plan.read is not None
    assert plan.read.range.limit == 7


def test_media_types() -> None:
    single = _plan("author_of?id=1")
    assert single.body_media_type("json") == "object"
    assert single.response_media_type("json") == "json"
    assert _plan("search?q=a").body_media_type("csv") == "csv"
    assert _plan("greet").body_media_type("csv") == "json"
