"""SQL of function calls: the invocation FROM item and the statement of each result shape.

The statements run against PostgreSQL in ``tests/compat/test_rpc.py``; these tests pin
the forms that matter for safety and semantics (values as parameters, named notation,
VARIADIC, a JSON body expanded by PostgreSQL, one call even with a count)."""

from __future__ import annotations

from tests.dataplane.plan.functions import CALL_SNAPSHOT, call_request

from dbify.dataplane.plan.call import CallPlan, plan_call
from dbify.dataplane.sql.call import build_call
from dbify.dataplane.sql.conditions import BindParams
from dbify.dataplane.sql.invocation import call_source_sql
from dbify.dataplane.sql.statement import Statement


def _plan(path: str, method: str = "GET", body: bytes | None = None, **headers: str) -> CallPlan:
    return plan_call(call_request(path, method, body, headers), CALL_SNAPSHOT)


def _source(plan: CallPlan) -> tuple[str, list[object]]:
    params = BindParams()
    return call_source_sql(plan.call, '"_c"', params), list(params.values)


def _main(plan: CallPlan, count: str | None = None) -> Statement:
    media = plan.body_media_type("json")
    return build_call(plan, media_type=media, count=count).main  # type: ignore[arg-type]


def test_query_arguments_are_cast_text_parameters_in_named_notation() -> None:
    sql, params = _source(_plan("add?b=2&a=1"))
    assert sql == '"public"."add"("a" := $1::text::integer, "b" := $2::text::integer) AS "_c"'
    assert params == ["1", "2"]


def test_omitted_arguments_are_left_to_their_defaults() -> None:
    sql, params = _source(_plan("find?q=x"))
    assert sql == '"public"."find"("q" := $1::text::text) AS "_c"'
    assert params == ["x"]


def test_variadic_list() -> None:
    sql, params = _source(_plan("total?numbers=1&numbers=2"))
    assert sql == '"public"."total"(VARIADIC "numbers" := $1::text[]::integer[]) AS "_c"'
    assert params == [["1", "2"]]


def test_json_body_is_one_parameter_expanded_by_postgresql() -> None:
    sql, params = _source(_plan("total", "POST", b'{"numbers": [1, 2]}'))
    assert sql == (
        'json_to_record($1::text::json) AS "_dbify_args"("numbers" integer[]) CROSS JOIN'
        ' LATERAL "public"."total"(VARIADIC "numbers" := "_dbify_args"."numbers") AS "_c"'
    )
    assert params == ['{"numbers": [1, 2]}']


def test_positional_body() -> None:
    sql, params = _source(_plan("echo", "POST", b'{"x": 1}'))
    assert sql == '"public"."echo"($1::text::json) AS "_c"'
    assert params == ['{"x": 1}']


def test_no_arguments() -> None:
    assert _source(_plan("greet"))[0] == '"public"."greet"() AS "_c"'


def test_hostile_values_stay_parameters() -> None:
    sql, params = _source(_plan("greet?name=x')%3Bdrop table books--"))
    assert "drop" not in sql
    assert params == ["x');drop table books--"]


def test_scalar_statement() -> None:
    statement = _main(_plan("add?a=1&b=2"))
    assert statement.sql.startswith(
        'WITH _call AS (SELECT "_c"."_value" AS _value FROM "public"."add"('
    )
    assert "(json_agg(_t._value)->0)" in statement.sql
    assert statement.params == ("1", "2")


def test_scalar_set_pages_and_counts_from_the_cte() -> None:
    statement = _main(_plan("series?n=9&limit=2&offset=3"), count="exact")
    assert "(SELECT pg_catalog.count(*) FROM _call)" in statement.sql
    assert "FROM (SELECT _value FROM _call LIMIT $2::text::bigint OFFSET $3::text::bigint)" in (
        statement.sql
    )
    assert statement.params == ("9", "2", "3")


def test_void_statement_calls_once_and_returns_no_body() -> None:
    statement = _main(_plan("nothing", "POST"))
    assert statement.sql == (
        "SELECT NULL::bigint AS total_count, 0::bigint AS page_count, NULL::text AS body"
        ' FROM "public"."nothing"() AS "_c"'
    )


def test_rows_read_from_the_call_once_even_when_counted() -> None:
    statement = _main(_plan("search?q=a&select=id&id=gt.1"), count="exact")
    assert statement.sql.count('"public"."search"(') == 1
    assert statement.sql.startswith(
        'WITH _call AS (SELECT "_c".* FROM "public"."search"("q" := $1::text::text) AS "_c")'
    )
    assert '(SELECT pg_catalog.count(*) FROM _call AS "books" WHERE' in statement.sql
    assert statement.params[0] == "a"


def test_record_result_is_the_whole_row() -> None:
    statement = _main(_plan("opaque"))
    assert 'SELECT "_c" AS _value FROM "public"."opaque"() AS "_c"' in statement.sql
