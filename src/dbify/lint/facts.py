"""Catalog facts the schema snapshot does not carry, read for the linter.

The ``SchemaSnapshot`` describes what the API exposes; a few lint rules also need
what PostgreSQL enforces around it: which indexes exist (foreign keys without one),
which tables have row-level security, which functions are ``SECURITY DEFINER``,
which views run with ``security_invoker``, and what the anon key's role may do.
``read_catalog_facts`` gets them in two short queries; the rules stay pure.

This module does I/O only against the project's own database and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import orjson

from dbify.schema.model import Privilege, QualifiedName

__all__ = ["CatalogFacts", "read_catalog_facts"]

_FACTS_SQL = """
SELECT json_build_object(
  'indexes', (
    SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname,
      (SELECT array_agg(a.attname ORDER BY k.ord)
         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum))), '[]')
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY($1::text[]) AND i.indpred IS NULL),
  'rls', (
    SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname)), '[]')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY($1::text[]) AND c.relrowsecurity),
  'definer', (
    SELECT coalesce(json_agg(DISTINCT jsonb_build_array(n.nspname, p.proname)), '[]')
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY($1::text[]) AND p.prosecdef AND p.prokind = 'f'),
  'invoker_views', (
    SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname)), '[]')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'v'
      AND EXISTS (SELECT 1 FROM unnest(c.reloptions) AS o
                  WHERE o ~* '^security_invoker=(true|on|yes|1)$'))
)::text
"""

_PRIVILEGES_SQL = """
SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname, array_remove(ARRAY[
  CASE WHEN has_table_privilege($2, c.oid, 'SELECT') THEN 'SELECT' END,
  CASE WHEN has_table_privilege($2, c.oid, 'INSERT') THEN 'INSERT' END,
  CASE WHEN has_table_privilege($2, c.oid, 'UPDATE') THEN 'UPDATE' END,
  CASE WHEN has_table_privilege($2, c.oid, 'DELETE') THEN 'DELETE' END], NULL))), '[]')::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""


@dataclass(frozen=True, slots=True)
class CatalogFacts:
    """``indexes`` lists each relation's index column lists (partial indexes excluded);
    ``anon_role`` is the role the anon key runs as (None: the connecting role,
    read-only), ``anon_privileges`` what that role may do per relation."""

    indexes: Mapping[QualifiedName, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    rls_enabled: frozenset[QualifiedName] = frozenset()
    security_definer: frozenset[QualifiedName] = frozenset()
    invoker_views: frozenset[QualifiedName] = frozenset()
    anon_role: str | None = None
    anon_privileges: Mapping[QualifiedName, frozenset[Privilege]] = field(default_factory=dict)


def _names(rows: list[list[str]]) -> frozenset[QualifiedName]:
    return frozenset(QualifiedName(schema, name) for schema, name in rows)


async def read_catalog_facts(
    conn: asyncpg.Connection, schemas: Sequence[str], anon_role: str | None
) -> CatalogFacts:
    """Read the facts for ``schemas``; privileges are those of ``anon_role`` if that role
    exists, else of the connecting role (which the anon key then runs as)."""
    raw = orjson.loads(await conn.fetchval(_FACTS_SQL, list(schemas)))
    indexes: dict[QualifiedName, list[tuple[str, ...]]] = {}
    for schema, name, columns in raw["indexes"]:
        indexes.setdefault(QualifiedName(schema, name), []).append(tuple(columns or ()))
    role = anon_role
    if role is None or not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        role = await conn.fetchval("SELECT current_user")
    privileges = orjson.loads(await conn.fetchval(_PRIVILEGES_SQL, list(schemas), role))
    return CatalogFacts(
        indexes={k: tuple(v) for k, v in indexes.items()},
        rls_enabled=_names(raw["rls"]),
        security_definer=_names(raw["definer"]),
        invoker_views=_names(raw["invoker_views"]),
        anon_role=anon_role,
        anon_privileges={
            QualifiedName(schema, name): frozenset(granted) for schema, name, granted in privileges
        },
    )
