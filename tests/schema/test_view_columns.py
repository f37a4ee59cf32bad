"""Reading view definitions (``pg_rewrite.ev_action``) into column origins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from dbify.schema.view_columns import parse_view_targets, resolve_view_columns

_SIMPLE = (
    "({QUERY :commandType 1 :rtable ({RANGETBLENTRY :eref {ALIAS :aliasname b :colnames"
    ' ("id" "my\\ col")} :relid 100}) :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 1})}'
    " :targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 2} :resno 1 :resname my\\ col"
    " :resorigtbl 100 :resorigcol 2 :resjunk false}"
    " {TARGETENTRY :expr {OPEXPR :args ({VAR :varno 1} {CONST :constvalue 4 [ 1 0 0 0 ]})}"
    " :resno 2 :resname plus :resorigtbl 0 :resorigcol 0 :resjunk false}"
    " {TARGETENTRY :expr {VAR :varno 1 :varattno 1} :resno 3 :resname id :resorigtbl 100"
    " :resorigcol 1 :resjunk false}"
    " {TARGETENTRY :expr {VAR :varno 1 :varattno 1} :resno 4 :resname junk :resorigtbl 100"
    " :resorigcol 1 :resjunk true}) :override 0 :returningList <>})"
)


def test_parse_simple_target_list() -> None:
    assert parse_view_targets(_SIMPLE) == {1: (100, 2), 3: (100, 1)}


def test_parse_ignores_target_lists_of_subqueries_and_empty_lists() -> None:
    nested = (
        "({QUERY :rtable ({RANGETBLENTRY :subquery {QUERY :targetList ({TARGETENTRY :resno 1"
        " :resorigtbl 555 :resorigcol 9 :resjunk false})}}) :targetList ({TARGETENTRY :resno 1"
        " :resorigtbl 777 :resorigcol 3 :resjunk false})})"
    )
    assert parse_view_targets(nested) == {1: (777, 3)}
    assert parse_view_targets("({QUERY :rtable <> :targetList <> :override 0})") == {}


def test_resolve_views_of_views_and_drop_computed_origins() -> None:
    views = {
        10: {1: (100, 1), 2: (100, 2)},  # view 10 over table 100
        20: {1: (10, 2), 2: (10, 3)},  # view 20 over view 10; 10.3 is computed
        30: {1: (40, 1)},  # a cycle (cannot happen in PostgreSQL)
        40: {1: (30, 1)},
    }
    assert resolve_view_columns(views) == {
        10: {1: (100, 1), 2: (100, 2)},
        20: {1: (100, 2)},
        30: {},
        40: {},
    }


async def _targets(url: str, sql: str) -> dict[str, dict[int, tuple[str, int]]]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
        rows = await conn.fetch(
            "SELECT c.relname, c.oid::bigint AS oid, r.ev_action::text AS definition"
            " FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class"
            " WHERE c.relkind IN ('v', 'm') AND c.relnamespace = 'public'::regnamespace"
        )
        names = {
            row["oid"]: row["relname"]
            for row in await conn.fetch(
                "SELECT oid::bigint AS oid, relname FROM pg_class"
                " WHERE relnamespace = 'public'::regnamespace"
            )
        }
    finally:
        await conn.close()
    parsed = {row["oid"]: parse_view_targets(row["definition"]) for row in rows}
    resolved = resolve_view_columns(parsed)
    return {
        names[oid]: {n: (names[table], col) for n, (table, col) in cols.items()}
        for oid, cols in resolved.items()
    }


def test_real_view_definitions(make_database: Callable[..., str]) -> None:
    url = make_database()
    targets = asyncio.run(
        _targets(
            url,
            """
            CREATE TABLE t (id int PRIMARY KEY, "odd, {name}" text, n int);
            CREATE TABLE u (id int PRIMARY KEY, t_id int REFERENCES t);
            CREATE VIEW v1 AS SELECT u.id AS uid, t.id, t."odd, {name}" AS label, t.n + 1 AS n1
              FROM u JOIN t ON t.id = u.t_id;
            CREATE VIEW v2 AS SELECT label, uid FROM (SELECT * FROM v1 WHERE n1 > 0) s;
            CREATE VIEW v3 AS SELECT id FROM t UNION SELECT id FROM u;
            CREATE VIEW v4 AS WITH x AS (SELECT id AS xid FROM t) SELECT xid FROM x;
            CREATE MATERIALIZED VIEW m AS SELECT id, n FROM t ORDER BY n;
            """,
        )
    )
    assert targets["v1"] == {1: ("u", 1), 2: ("t", 1), 3: ("t", 2)}
    assert targets["v2"] == {1: ("t", 2), 2: ("u", 1)}
    assert targets["v3"] == {}
    assert targets["m"] == {1: ("t", 1), 2: ("t", 3)}
    assert "v4" in targets
