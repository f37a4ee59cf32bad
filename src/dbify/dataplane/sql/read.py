"""SQL for a read: ``ReadPlan`` → one ``ReadStatement`` whose JSON PostgreSQL builds.

Shape (as PostgREST's ``QueryBuilder``)::

    SELECT <total>::bigint AS total_count, pg_catalog.count(*) AS page_count,
           coalesce(json_agg(_t), '[]')::text AS body
    FROM (SELECT "books"."id" AS "id", coalesce("reviews_1"."reviews_1", '[]') AS "reviews",
                 "authors_2"."authors_2" AS "author"
          FROM "public"."books" AS "books"
          LEFT JOIN LATERAL (SELECT json_agg(_e) AS "reviews_1" FROM (<row query>) AS _e)
               AS "reviews_1" ON TRUE
          LEFT JOIN LATERAL (SELECT (SELECT row_to_json(_e) FROM (SELECT <keys>) AS _e)
               AS "authors_2" FROM "public"."authors" AS "authors_2" WHERE <join>)
               AS "authors_2" ON TRUE
          WHERE ... ORDER BY ... LIMIT $n::text::bigint) AS _t

Every node is a *row query* selecting its output keys. A to-many embed aggregates its
row query with ``json_agg`` (NULL when empty, hence ``coalesce``/``IS NOT NULL``); a
to-one embed is one lateral row carrying its object (or, for a spread, its keys) plus
hidden ``_order_n`` columns the parent may order by. Aliases are allocated in tree
order, so the text depends only on the plan's shape; values are parameters (see
``sql/conditions.py``).

This module does not run anything and does not decide what to read: the plan does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbify.dataplane.grammar.types import CountPreference, MediaType
from dbify.dataplane.plan.types import (
    ConditionTree,
    EmbedPlan,
    EmbedPresence,
    FunctionCall,
    Ordering,
    Predicate,
    ReadPlan,
    SelectedColumn,
)
from dbify.dataplane.sql.conditions import BindParams, field_sql, predicate_sql
from dbify.dataplane.sql.identifiers import quote_ident, quote_qualified
from dbify.dataplane.sql.invocation import call_source_sql
from dbify.dataplane.sql.statement import ReadStatement, Statement
from dbify.errors import Codes, DbifyError

_PRESENT = '"_present"'


def build_rows(plan: ReadPlan, params: BindParams, *, source: str) -> str:
    """The row query of ``plan`` with its root rows read from ``source`` (a CTE name
    such as a write's returned rows) instead of the root relation; embeds still join
    their tables. Parameters continue the numbering of ``params``."""
    return _Builder(params, root_source=source).row_query(plan, None).sql


def build_read(
    plan: ReadPlan,
    *,
    media_type: MediaType,
    count: CountPreference | None,
    root_rows: Statement | None = None,
) -> ReadStatement:
    """The statement for ``plan``: one row of ``total_count``, ``page_count``, ``body``.

    ``media_type`` ``json`` gives a JSON array, ``object`` the first row's object (or
    ``null``; the executor checks ``page_count``), ``csv`` a CSV document with a header
    line. ``count`` ``exact`` fills ``total_count``; ``planned``/``estimated`` add a
    ``count_estimate`` statement to EXPLAIN. ``root_rows``, when given, is a query whose
    rows the root reads instead of its relation (a saved query, its parameters first:
    ``$1``... are its own), placed in a ``_source_query`` CTE.
    """
    params, builder = _root_builder(root_rows)
    root = builder.row_query(plan, None)
    ctes = builder.ctes
    total = "NULL"
    if count == "exact":
        total = f"(SELECT pg_catalog.count(*) FROM {root.counted_from}{root.where_sql})"
    source = root.sql
    head = f"SELECT {total}::bigint AS total_count, pg_catalog.count(*) AS page_count, "
    if media_type in ("json", "geojson"):
        sql = f"{head}coalesce(json_agg(_t), '[]')::text AS body FROM ({source}) AS _t"
    elif media_type == "object":
        sql = f"{head}coalesce((json_agg(_t)->0)::text, 'null') AS body FROM ({source}) AS _t"
    elif media_type == "csv":
        ctes = [*ctes, f"_source AS ({source})"]
        sql = f"{head}{_CSV_BODY} AS body FROM _source AS _t"
    else:
        raise DbifyError(
            Codes.UNSUPPORTED_MEDIA_TYPE, f"None of these media types are available: {media_type}"
        )
    estimate = None
    if count in ("planned", "estimated"):
        estimate_params, estimate_builder = _root_builder(root_rows)
        counted = estimate_builder.row_query(plan, None, counting=True)
        estimate = Statement(
            _with(estimate_builder.ctes)
            + f"SELECT 1 FROM {counted.counted_from}{counted.where_sql}",
            tuple(estimate_params.values),
        )
    return ReadStatement(Statement(_with(ctes) + sql, tuple(params.values)), estimate)


def _root_builder(root_rows: Statement | None) -> tuple[BindParams, _Builder]:
    params = BindParams()
    if root_rows is None:
        return params, _Builder(params)
    params.values.extend(root_rows.params)
    builder = _Builder(params, root_source="_source_query")
    builder.ctes.append(f"_source_query AS ({root_rows.sql})")
    return params, builder


def _with(ctes: list[str]) -> str:
    return f"WITH {', '.join(ctes)} " if ctes else ""


# The header comes from the first row's keys, as PostgREST does (no rows: no header);
# each row is its record text without the parentheses, which quotes like CSV.
_CSV_BODY = (
    "(SELECT coalesce(string_agg(_k, ','), '') FROM (SELECT json_object_keys(row_to_json(_h))"
    "::text AS _k FROM (SELECT * FROM _source LIMIT 1) AS _h) AS _keys) || E'\\n' || "
    "coalesce(string_agg(substring(_t::text, 2, length(_t::text) - 2), E'\\n'), '')"
)


@dataclass
class _RowQuery:
    """A node's query, in parts so that counts can reuse its FROM and WHERE."""

    select: list[str]
    from_: str
    counted_from: str
    where: list[str]
    order: list[str]
    limit: str

    @property
    def where_sql(self) -> str:
        return f" WHERE {' AND '.join(self.where)}" if self.where else ""

    @property
    def sql(self) -> str:
        order = f" ORDER BY {', '.join(self.order)}" if self.order else ""
        columns = ", ".join(self.select)  # empty is valid: a row of no keys, {}
        return f"SELECT {columns} FROM {self.from_}{self.where_sql}{order}{self.limit}"


@dataclass
class _Builder:
    """Builds the row queries of one statement; owns alias allocation and the
    parameter list (one per statement)."""

    params: BindParams
    root_source: str | None = None
    aliases: set[str] = field(default_factory=set)
    ctes: list[str] = field(default_factory=list)

    def alias(self, base: str, root: bool = False) -> str:
        name, n = (base, len(self.aliases)) if root else (f"{base}_{len(self.aliases)}", 0)
        while name in self.aliases:
            n += 1
            name = f"{base}_{n}"
        self.aliases.add(name)
        return quote_ident(name)

    def row_query(
        self,
        plan: ReadPlan,
        embed: tuple[EmbedPlan, str, str] | None,
        *,
        counting: bool = False,
    ) -> _RowQuery:
        """``embed`` is (the embed, the parent's alias, this node's alias) for children.

        ``counting`` builds only what a count needs (FROM, filtering joins, WHERE), so
        that every parameter added is used by the count statement.
        """
        if embed is None:
            alias = self.alias(plan.relation.name.name, root=True)
            where: list[str] = []
            source = self.root_source or quote_qualified(plan.relation.name)
            if plan.call is not None and self.root_source is None:
                source = self._call_source(plan.call)
            from_ = f"{source} AS {alias}"
        else:
            alias = embed[2]
            from_, where = self._join_source(embed[0], embed[1], alias)
        to_one = embed is not None and embed[0].is_to_one
        select = [] if counting else [self._column_sql(c, alias) for c in plan.columns]
        joins: list[str] = []
        filtering_joins: list[str] = []
        presence: dict[str, str] = {}
        order_targets: dict[int, str] = {}
        filtering_labels = _presence_labels(plan.where)
        for child in plan.embeds:
            filtering = child.join == "inner" or child.label in filtering_labels
            if counting and not filtering:
                continue
            child_alias = self.alias(child.plan.relation.name.name)
            orders = [(i, o) for i, o in enumerate(plan.order) if o.embed == child.label]
            join, body = self._embed_join(child, alias, child_alias, [] if counting else orders)
            joins.append(join)
            for i, _ in orders:
                order_targets[i] = f"{child_alias}.{quote_ident(f'_order_{i}')}"
            if child.spread:
                select += [f"{child_alias}.{k} AS {k}" for k in _output_keys(child.plan)]
                presence[child.label] = f"{child_alias}.{_PRESENT}"
            elif child.is_to_one:
                select.append(f"{body} AS {quote_ident(child.label)}")
                presence[child.label] = body
            else:
                select.append(f"coalesce({body}, '[]') AS {quote_ident(child.label)}")
                presence[child.label] = body
            if filtering:
                filtering_joins.append(join)
                if child.join == "inner" and not child.is_to_one:
                    where.append(f"{body} IS NOT NULL")
        where += [predicate_sql(p, alias, presence, self.params) for p in plan.where]
        skip_tail = counting or to_one
        order = (
            []
            if skip_tail
            else [self._order_sql(i, o, alias, order_targets) for i, o in enumerate(plan.order)]
        )
        return _RowQuery(
            select=select,
            from_=" ".join([from_, *joins]),
            counted_from=" ".join([from_, *filtering_joins]),
            where=where,
            order=order,
            limit="" if skip_tail else self._limit_sql(plan),
        )

    def _call_source(self, call: FunctionCall) -> str:
        """The root reads a function's rows from a CTE, so that a count reading them
        again does not call the function twice (PostgreSQL still inlines a CTE used
        once, filters included, unless the function is volatile)."""
        invocation = call_source_sql(call, '"_c"', self.params)
        self.ctes.append(f'_call AS (SELECT "_c".* FROM {invocation})')
        return "_call"

    def _column_sql(self, column: SelectedColumn, alias: str) -> str:
        ref = column.field
        if not ref.json_path and column.cast is None and column.name == ref.column.name:
            # The hot path (``select=*``): the column already has its output name.
            return f"{alias}.{quote_ident(column.name)}"
        expr = field_sql(ref, alias, self.params)
        if column.cast is not None:
            expr = f"CAST({expr} AS {column.cast})"
        return f"{expr} AS {quote_ident(column.name)}"

    def _join_source(self, embed: EmbedPlan, parent: str, alias: str) -> tuple[str, list[str]]:
        """The FROM of an embedded node and the conditions tying it to its parent."""
        rel = embed.relationship
        from_ = f"{quote_qualified(rel.target)} AS {alias}"
        if rel.junction is None:
            conditions = [
                f"{alias}.{quote_ident(t)} = {parent}.{quote_ident(s)}" for s, t in rel.columns
            ]
            return from_, conditions
        junction = rel.junction
        j = self.alias(junction.relation.name)
        on = " AND ".join(
            f"{j}.{quote_ident(jc)} = {alias}.{quote_ident(tc)}"
            for jc, tc in junction.target_columns
        )
        conditions = [
            f"{j}.{quote_ident(jc)} = {parent}.{quote_ident(sc)}"
            for sc, jc in junction.source_columns
        ]
        return f"{from_} INNER JOIN {quote_qualified(junction.relation)} AS {j} ON {on}", conditions

    def _embed_join(
        self, embed: EmbedPlan, parent: str, alias: str, orders: list[tuple[int, Ordering]]
    ) -> tuple[str, str]:
        """The lateral join of ``embed`` and the expression of its JSON value."""
        query = self.row_query(embed.plan, (embed, parent, alias))
        kind = "INNER" if embed.join == "inner" and embed.is_to_one else "LEFT"
        body = f"{alias}.{alias}"
        if not embed.is_to_one:
            inner = f"SELECT json_agg(_e) AS {alias} FROM ({query.sql}) AS _e"
            return f"{kind} JOIN LATERAL ({inner}) AS {alias} ON TRUE", body
        hidden = [
            f"{field_sql(o.field, alias, self.params)} AS {quote_ident(f'_order_{i}')}"
            for i, o in orders
        ]
        if embed.spread:
            columns = [*query.select, f"TRUE AS {_PRESENT}", *hidden]
        else:
            keys = ", ".join(query.select)
            obj = f"(SELECT row_to_json(_e) FROM (SELECT {keys}) AS _e) AS {alias}"
            columns = [obj, *hidden]
        where = query.where_sql
        inner = f"SELECT {', '.join(columns)} FROM {query.from_}{where}"
        return f"{kind} JOIN LATERAL ({inner}) AS {alias} ON TRUE", body

    def _order_sql(self, index: int, term: Ordering, alias: str, targets: dict[int, str]) -> str:
        expr = targets.get(index) or field_sql(term.field, alias, self.params)
        if term.direction is not None:
            expr += " DESC" if term.direction == "desc" else " ASC"
        if term.nulls is not None:
            expr += " NULLS FIRST" if term.nulls == "first" else " NULLS LAST"
        return expr

    def _limit_sql(self, plan: ReadPlan) -> str:
        sql = ""
        if plan.range.limit is not None:
            sql += f" LIMIT {self.params.add(str(plan.range.limit))}::text::bigint"
        if plan.range.offset:
            sql += f" OFFSET {self.params.add(str(plan.range.offset))}::text::bigint"
        return sql


def _output_keys(plan: ReadPlan) -> list[str]:
    """The quoted keys a node's row query selects, in order (spreads lifted)."""
    keys = [quote_ident(c.name) for c in plan.columns]
    for child in plan.embeds:
        keys += _output_keys(child.plan) if child.spread else [quote_ident(child.label)]
    return keys


def _presence_labels(predicates: tuple[Predicate, ...]) -> set[str]:
    """Labels of the embeds that WHERE conditions test for presence, at any depth."""
    labels: set[str] = set()
    for p in predicates:
        if isinstance(p, EmbedPresence):
            labels.add(p.label)
        elif isinstance(p, ConditionTree):
            labels |= _presence_labels(p.children)
    return labels
