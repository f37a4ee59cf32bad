"""What the schema watcher asks a project's database, and the one thing it may create there.

``install_watcher`` creates, only when a user asks (``dbify projects install-watcher``),
an event-trigger function ``public.dbify_notify_schema_change()`` and two event triggers
(``dbify_schema_change_ddl`` on ``ddl_command_end``, ``dbify_schema_change_drop`` on
``sql_drop``) that ``NOTIFY`` the ``dbify_schema_change`` channel; ``uninstall_watcher``
drops them and tells running listeners (``UNINSTALLED`` on the channel) to poll instead.
Creating event triggers needs a superuser (or, on managed services, their equivalent);
PostgreSQL's own error is passed on.

``read_fingerprint`` is the cheap check the poller runs: a digest of the ``(oid, xmin)``
of every catalog row that describes the exposed schemas. Any DDL that touches them
writes new catalog rows (new xmin) or removes some, so the digest changes; nothing
else does. The full re-introspection (``introspect.sql``) runs only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import asyncpg
import orjson

__all__ = [
    "CHANNEL",
    "UNINSTALLED",
    "install_watcher",
    "read_catalog",
    "read_fingerprint",
    "uninstall_watcher",
    "watcher_installed",
]

CHANNEL = "dbify_schema_change"
# Sent by ``uninstall_watcher`` (delivered at commit): listeners switch to polling at once.
UNINSTALLED = "dbify:uninstalled"
_FUNCTION = "public.dbify_notify_schema_change"
_TRIGGERS = ("dbify_schema_change_ddl", "dbify_schema_change_drop")
_INTROSPECT_SQL = resources.files("dbify.schema").joinpath("introspect.sql").read_text()

_INSTALL_SQL = f"""
CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', tg_tag);
END
$$;
COMMENT ON FUNCTION {_FUNCTION}() IS
  'Dbify: announces schema changes (dbify projects uninstall-watcher removes it)';
DROP EVENT TRIGGER IF EXISTS {_TRIGGERS[0]};
DROP EVENT TRIGGER IF EXISTS {_TRIGGERS[1]};
CREATE EVENT TRIGGER {_TRIGGERS[0]} ON ddl_command_end EXECUTE FUNCTION {_FUNCTION}();
CREATE EVENT TRIGGER {_TRIGGERS[1]} ON sql_drop EXECUTE FUNCTION {_FUNCTION}();
"""

_UNINSTALL_SQL = f"""
SELECT pg_notify('{CHANNEL}', '{UNINSTALLED}');
DROP EVENT TRIGGER IF EXISTS {_TRIGGERS[0]};
DROP EVENT TRIGGER IF EXISTS {_TRIGGERS[1]};
DROP FUNCTION IF EXISTS {_FUNCTION}();
"""

_INSTALLED_SQL = """
SELECT count(*) = 2 FROM pg_event_trigger
WHERE evtname = ANY($1::text[]) AND evtenabled <> 'D'
"""

_FINGERPRINT_SQL = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])),
rel AS (SELECT c.oid, c.xmin FROM pg_class c JOIN ns ON ns.oid = c.relnamespace)
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT 'c' || oid::text || ':' || xmin::text FROM rel
  UNION ALL
  SELECT 'a' || a.attrelid::text || '.' || a.attnum::text || ':' || a.xmin::text
  FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid WHERE a.attnum > 0
  UNION ALL
  SELECT 'd' || d.oid::text || ':' || d.xmin::text
  FROM pg_attrdef d JOIN rel ON rel.oid = d.adrelid
  UNION ALL
  SELECT 'r' || w.oid::text || ':' || w.xmin::text
  FROM pg_rewrite w JOIN rel ON rel.oid = w.ev_class
  UNION ALL
  SELECT 'k' || k.oid::text || ':' || k.xmin::text
  FROM pg_constraint k JOIN ns ON ns.oid = k.connamespace
  UNION ALL
  SELECT 'p' || p.oid::text || ':' || p.xmin::text
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL
  SELECT 't' || t.oid::text || ':' || t.xmin::text
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
  UNION ALL
  SELECT 'e' || e.oid::text || ':' || e.xmin::text
  FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN ns ON ns.oid = t.typnamespace
  UNION ALL
  SELECT 'm' || s.objoid::text || '.' || s.objsubid::text || ':' || s.xmin::text
  FROM pg_description s
  WHERE s.objoid IN (SELECT oid FROM rel)
     OR s.objoid IN (SELECT p.oid FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace)
) AS parts(x)
"""


async def install_watcher(conn: asyncpg.Connection) -> None:
    """Create the event triggers (idempotent), in one transaction."""
    async with conn.transaction():
        await conn.execute(_INSTALL_SQL)


async def uninstall_watcher(conn: asyncpg.Connection) -> None:
    """Drop what ``install_watcher`` created (idempotent)."""
    async with conn.transaction():
        await conn.execute(_UNINSTALL_SQL)


async def watcher_installed(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(_INSTALLED_SQL, list(_TRIGGERS)))


async def read_fingerprint(conn: asyncpg.Connection, schemas: Sequence[str]) -> str:
    return str(await conn.fetchval(_FINGERPRINT_SQL, list(schemas)))


async def read_catalog(conn: asyncpg.Connection, schemas: Sequence[str]) -> str:
    """The introspection catalog as JSON text (what the metadata store caches)."""
    catalog: Any = await conn.fetchval(_INTROSPECT_SQL, list(schemas))
    return catalog if isinstance(catalog, str) else orjson.dumps(catalog).decode()
