"""SQL for a write: ``MutatePlan`` → one statement, the write in a CTE.

Shape (as PostgREST's ``mutatePlanToQuery`` and ``mainWrite``)::

    WITH _mutated AS (
      INSERT INTO "public"."books" ("title", "author_id")
      SELECT _body."title", _body."author_id"
      FROM json_to_recordset($1::text::json) AS _body("title" text, "author_id" integer)
      ON CONFLICT ("id") DO UPDATE SET "title" = EXCLUDED."title", ...
      RETURNING *, (xmax = 0) AS "_dbify_inserted")
    SELECT (SELECT pg_catalog.count(*) FROM _mutated) AS page_count,
           (SELECT coalesce(json_agg(_t), '[]')::text FROM (<row query over _mutated>) _t)
             AS body,
           <primary keys of the first two rows, for Location> AS location,
           <rows inserted rather than updated> AS inserted

A write of which only the number of rows is read (``Prefer: return=minimal``, the
default, with nothing else to report) runs bare, its count taken from the command tag:
``INSERT INTO "public"."books" (...) SELECT ... FROM json_to_recordset(...) AS _body(...)``.

The body travels as ONE text parameter and PostgreSQL expands it, typed by the
snapshot's column types, so a bulk insert is one statement whatever its size.
``Prefer: missing=default`` merges each column's default expression (from the
catalogue) under every object before expanding (``jsonb_build_object(...) || _e``).
``limit`` on PATCH/DELETE picks rows by primary key (or ``ctid``) in a subquery.
The representation reuses the read builder (``sql/read.build_rows``) with its root
reading from ``_mutated``, so ``select=`` and embeds behave as on GET.

This module does not run anything and does not decide what to write: the plan does.
"""

from __future__ import annotations

from dbify.dataplane.grammar.types import MediaType
from dbify.dataplane.plan.mutate import MutatePlan
from dbify.dataplane.plan.types import Ordering
from dbify.dataplane.sql.conditions import BindParams, field_sql, predicate_sql
from dbify.dataplane.sql.identifiers import quote_ident, quote_qualified
from dbify.dataplane.sql.read import build_rows
from dbify.dataplane.sql.statement import Statement
from dbify.errors import Codes, DbifyError
from dbify.schema.model import Column

_SOURCE = "_mutated"
_INSERTED = '"_dbify_inserted"'
_BODY = "_body"
_EXISTING = '"_dbify_existing"'


def build_mutate(plan: MutatePlan, *, media_type: MediaType) -> Statement:
    """The statement for ``plan``: one row of ``page_count`` (rows written), ``body``
    (text, NULL unless ``plan.returning``), ``location`` (JSON text: the primary key
    values, as text, of at most two written rows) and ``inserted`` (rows inserted, NULL
    when not tracked); or, when only the count is read (``counts_only``), the bare
    write, a ``counted`` statement.

    ``media_type`` ``json`` renders the body as an array, ``object`` as the first row
    (the caller checks there was exactly one). Raises ``DbifyError`` ``PGRST118`` for
    another media type with a representation.
    """
    params = BindParams()
    write = _write_sql(plan, params)
    if counts_only(plan):
        return Statement(write, tuple(params.values), counted=True)
    parts = [f"(SELECT pg_catalog.count(*) FROM {_SOURCE}) AS page_count"]
    parts.append(f"{_body_sql(plan, params, media_type)} AS body")
    parts.append(f"{_location_sql(plan.location_key)} AS location")
    inserted = "NULL"
    if plan.track_inserted and plan.mutation in ("insert", "put"):
        inserted = f"(SELECT pg_catalog.count(*) FILTER (WHERE {_INSERTED}) FROM {_SOURCE})"
    parts.append(f"{inserted}::bigint AS inserted")
    if plan.check:
        # WITH CHECK for an access role's row filter: count the written rows outside
        # it (NULL counts as outside); the caller rolls back when there is any.
        conditions = " AND ".join(predicate_sql(p, _SOURCE, {}, params) for p in plan.check)
        parts.append(
            f"(SELECT pg_catalog.count(*) FROM {_SOURCE}"
            f" WHERE NOT coalesce(({conditions}), false)) AS violations"
        )
    sql = f"WITH {_SOURCE} AS ({write}) SELECT {', '.join(parts)}"
    return Statement(sql, tuple(params.values))


def counts_only(plan: MutatePlan) -> bool:
    """Whether nothing of the written rows is read but their number (no representation,
    Location, inserted-or-updated or row-filter check). Such a write runs bare: no CTE
    and no RETURNING, the count is its command tag's. The CTE with its outer SELECT
    cost PostgreSQL ~30 µs more CPU per one-row INSERT or UPDATE (pgbench -M prepared,
    230 against 198 µs), ~15 % of the statement."""
    return not (
        plan.returning is not None
        or plan.location_key
        or plan.check
        or (plan.track_inserted and plan.mutation in ("insert", "put"))
    )


def _write_sql(plan: MutatePlan, params: BindParams) -> str:
    if plan.mutation == "delete":
        return _delete_sql(plan, params)
    if plan.mutation == "update":
        return _update_sql(plan, params)
    return _insert_sql(plan, params)


def _returning(plan: MutatePlan, alias: str | None = None) -> str:
    if counts_only(plan):
        return ""
    star = f"{alias}.*" if alias else "*"
    if plan.track_inserted and plan.mutation in ("insert", "put"):
        return f" RETURNING {star}, (xmax = 0) AS {_INSERTED}"
    return f" RETURNING {star}"


def _body_source(plan: MutatePlan, params: BindParams) -> str:
    """``FROM``-able rows of the body, typed: ``json_to_recordset(...) AS _body(...)``.
    Without columns (``{}``, ``[{}, {}]``) one empty row per object."""
    body = params.add(plan.body or "[]")
    if not plan.columns:
        return f"json_array_elements({body}::text::json) AS {_BODY}"
    typed = ", ".join(f"{quote_ident(c.name)} {c.data_type}" for c in plan.columns)
    defaults = [c for c in plan.columns if c.default is not None] if plan.apply_defaults else []
    if not defaults:
        return f"json_to_recordset({body}::text::json) AS {_BODY}({typed})"
    pairs = ", ".join(f"{params.add(c.name)}::text, {c.default}" for c in defaults)
    merged = (
        f"(SELECT jsonb_agg(jsonb_build_object({pairs}) || _e) "
        f"FROM jsonb_array_elements({body}::text::jsonb) AS _e)"
    )
    return f"jsonb_to_recordset({merged}) AS {_BODY}({typed})"


def _insert_sql(plan: MutatePlan, params: BindParams) -> str:
    target = quote_qualified(plan.relation.name)
    if plan.conflict_where:
        target += f" AS {_EXISTING}"  # the existing row, for DO UPDATE ... WHERE
    names = ", ".join(quote_ident(c.name) for c in plan.columns)
    into = f"INSERT INTO {target} ({names})" if plan.columns else f"INSERT INTO {target}"
    values = ", ".join(f"{_BODY}.{quote_ident(c.name)}" for c in plan.columns)
    sql = f"{into} SELECT {values} FROM {_body_source(plan, params)}"
    if plan.put_match:
        matches = [predicate_sql(c, _BODY, {}, params) for c in plan.put_match]
        sql += f" WHERE {' AND '.join(matches)}"
    if plan.on_conflict:
        target_columns = ", ".join(quote_ident(c.name) for c in plan.on_conflict)
        sql += f" ON CONFLICT ({target_columns}) "
        if plan.resolution == "ignore-duplicates" or not plan.columns:
            sql += "DO NOTHING"
        else:
            sets = ", ".join(
                f"{quote_ident(c.name)} = EXCLUDED.{quote_ident(c.name)}" for c in plan.columns
            )
            sql += f"DO UPDATE SET {sets}"
            if plan.conflict_where:
                guard = (predicate_sql(p, _EXISTING, {}, params) for p in plan.conflict_where)
                sql += f" WHERE {' AND '.join(guard)}"
    return sql + _returning(plan)


def _update_sql(plan: MutatePlan, params: BindParams) -> str:
    alias = quote_ident(plan.relation.name.name)
    target = f"{quote_qualified(plan.relation.name)} AS {alias}"
    if not plan.columns:
        # Nothing to set (a body of {}): no row changes, as PostgREST.
        return f"SELECT {alias}.* FROM {target} WHERE false"
    sets = ", ".join(f"{quote_ident(c.name)} = {_BODY}.{quote_ident(c.name)}" for c in plan.columns)
    source = f"(SELECT * FROM {_body_source(plan, params)} LIMIT 1) AS {_BODY}"
    where = _where_sql(plan, alias, params)
    return f"UPDATE {target} SET {sets} FROM {source}{where}{_returning(plan, alias)}"


def _delete_sql(plan: MutatePlan, params: BindParams) -> str:
    alias = quote_ident(plan.relation.name.name)
    target = f"{quote_qualified(plan.relation.name)} AS {alias}"
    return f"DELETE FROM {target}{_where_sql(plan, alias, params)}{_returning(plan, alias)}"


def _where_sql(plan: MutatePlan, alias: str, params: BindParams) -> str:
    """The filters, or with ``limit`` a key subquery holding them with order and limit."""
    if plan.limit is None and not plan.offset:
        conditions = [predicate_sql(p, alias, {}, params) for p in plan.where]
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""
    inner = quote_ident("_limited")
    keys = [quote_ident(c.name) for c in plan.key] or ["ctid"]
    outer_keys = ", ".join(f"{alias}.{k}" for k in keys)
    inner_keys = ", ".join(f"{inner}.{k}" for k in keys)
    sub = f"SELECT {inner_keys} FROM {quote_qualified(plan.relation.name)} AS {inner}"
    conditions = [predicate_sql(p, inner, {}, params) for p in plan.where]
    if conditions:
        sub += f" WHERE {' AND '.join(conditions)}"
    if plan.order:
        sub += " ORDER BY " + ", ".join(_order_sql(o, inner, params) for o in plan.order)
    if plan.limit is not None:
        sub += f" LIMIT {params.add(str(plan.limit))}::text::bigint"
    if plan.offset:
        sub += f" OFFSET {params.add(str(plan.offset))}::text::bigint"
    return f" WHERE ({outer_keys}) IN ({sub})"


def _order_sql(term: Ordering, alias: str, params: BindParams) -> str:
    sql = field_sql(term.field, alias, params)
    if term.direction is not None:
        sql += " DESC" if term.direction == "desc" else " ASC"
    if term.nulls is not None:
        sql += " NULLS FIRST" if term.nulls == "first" else " NULLS LAST"
    return sql


def _body_sql(plan: MutatePlan, params: BindParams, media_type: MediaType) -> str:
    if plan.returning is None:
        return "NULL::text"
    rows = build_rows(plan.returning, params, source=_SOURCE)
    if media_type == "json":
        return f"(SELECT coalesce(json_agg(_t), '[]')::text FROM ({rows}) AS _t)"
    if media_type == "object":
        return f"(SELECT coalesce((json_agg(_t)->0)::text, 'null') FROM ({rows}) AS _t)"
    raise DbifyError(
        Codes.UNSUPPORTED_MEDIA_TYPE,
        f"None of these media types are available: {media_type}",
        hint="A write's representation is available as application/json or"
        " application/vnd.pgrst.object+json.",
    )


def _location_sql(key: tuple[Column, ...]) -> str:
    if not key:
        return "NULL::text"
    values = ", ".join(f"_l.{quote_ident(c.name)}::text" for c in key)
    return (
        f"(SELECT json_agg(json_build_array({values}))::text"
        f" FROM (SELECT * FROM {_SOURCE} LIMIT 2) AS _l)"
    )
