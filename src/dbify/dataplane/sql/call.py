"""SQL for a function call: ``CallPlan`` → one ``ReadStatement`` (as a read's: one row of
``total_count``, ``page_count``, ``body``).

A call whose result has columns is a read whose root is the call (``sql/read.py`` with
``ReadPlan.call``), so ``select``, filters, order, ranges, counts and embeds come for
free. The other shapes are written here::

    scalar:  WITH _call AS (SELECT "_c"."_value" FROM "public"."add_numbers"(...)
                            AS "_c"("_value"))
             SELECT NULL::bigint AS total_count, pg_catalog.count(*) AS page_count,
                    coalesce((json_agg(_t._value)->0)::text, 'null') AS body
             FROM (SELECT * FROM _call) AS _t
    record:  the same with the whole row ``"_c"`` as the value (a JSON object)
    void:    SELECT NULL::bigint, 0::bigint, NULL::text FROM "public"."f"(...) AS "_c"

A set (``SETOF integer``) gives a JSON array and honours the range and ``count=exact``
(counted from the CTE, so the function runs once). This module does not run anything.
"""

from __future__ import annotations

from dbify.dataplane.grammar.types import CountPreference, MediaType
from dbify.dataplane.plan.call import CallPlan
from dbify.dataplane.sql.conditions import BindParams
from dbify.dataplane.sql.invocation import call_source_sql
from dbify.dataplane.sql.read import build_read
from dbify.dataplane.sql.statement import ReadStatement, Statement

_NO_BODY = "NULL::text AS body"
_HEAD = "SELECT {total}::bigint AS total_count, pg_catalog.count(*) AS page_count, "


def build_call(
    plan: CallPlan, *, media_type: MediaType, count: CountPreference | None
) -> ReadStatement:
    """The statement for ``plan``. ``media_type`` is the body to build (see
    ``CallPlan.body_media_type``); ``count`` ``exact`` counts a set's rows."""
    if plan.read is not None:
        return build_read(plan.read, media_type=media_type, count=count)
    params = BindParams()
    if plan.shape == "void":
        source = call_source_sql(plan.call, '"_c"', params)
        sql = (
            f"SELECT NULL::bigint AS total_count, 0::bigint AS page_count, {_NO_BODY} FROM {source}"
        )
        return ReadStatement(Statement(sql, tuple(params.values)))
    if plan.shape == "scalar":
        source = call_source_sql(plan.call, '"_c"("_value")', params)
        value = '"_c"."_value"'
    else:
        source = call_source_sql(plan.call, '"_c"', params)
        value = '"_c"'
    cte = f"WITH _call AS (SELECT {value} AS _value FROM {source}) "
    if not plan.returns_set:
        body = "coalesce((json_agg(_t._value)->0)::text, 'null') AS body"
        sql = f"{cte}{_HEAD.format(total='NULL')}{body} FROM _call AS _t"
        return ReadStatement(Statement(sql, tuple(params.values)))
    total = "(SELECT pg_catalog.count(*) FROM _call)" if count == "exact" else "NULL"
    limit = ""
    if plan.range.limit is not None:
        limit += f" LIMIT {params.add(str(plan.range.limit))}::text::bigint"
    if plan.range.offset:
        limit += f" OFFSET {params.add(str(plan.range.offset))}::text::bigint"
    body = "coalesce(json_agg(_t._value), '[]')::text AS body"
    page = f"(SELECT _value FROM _call{limit}) AS _t"
    sql = f"{cte}{_HEAD.format(total=total)}{body} FROM {page}"
    return ReadStatement(Statement(sql, tuple(params.values)))
