"""What one database role may do with a snapshot's relations and functions.

The snapshot (``introspect.py``) records the privileges of the role Dbify connects
as. A request that runs as another role (a JWT's role claim, the anonymous role)
should see an OpenAPI document of what *that* role may use (PostgREST's
``openapi-mode = follow-privileges``): ``introspect_privileges`` asks PostgreSQL once
per role with ``has_*_privilege`` (which follow role membership, column grants,
``PUBLIC`` and superuser status), and ``restrict_to_role`` returns the snapshot as that
role sees it. ``RoleSnapshots`` keeps the answers per role for one snapshot (a new
snapshot empties it), bounded, so a role's privileges are read once per schema
version; a ``GRANT`` that changes nothing else in the schema is seen after the next
schema reload.

PostgreSQL still enforces every privilege at run time; this module only decides what
is documented. Only ``introspect_privileges`` does I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from dbify.schema.model import Function, Privilege, QualifiedName, Relation, SchemaSnapshot

__all__ = ["RelationGrant", "RolePrivileges", "RoleSnapshots", "introspect_privileges"]

_RELATIONS = """
SELECT n.nspname, c.relname,
  array_remove(ARRAY[
    CASE WHEN has_any_column_privilege($1, c.oid, 'SELECT') THEN 'SELECT' END,
    CASE WHEN has_any_column_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
    CASE WHEN has_any_column_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
    CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END], NULL),
  ARRAY(
    SELECT a.attname FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND has_column_privilege($1, c.oid, a.attnum, 'SELECT, INSERT, UPDATE'))
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND has_schema_privilege($1, n.oid, 'USAGE')
"""

# The argument types as introspect.sql lists them, to tell overloads apart.
_FUNCTIONS = """
SELECT n.nspname, p.proname, ARRAY(
    SELECT format_type(arg.typ, NULL)
    FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS arg (typ, ord)
    ORDER BY arg.ord)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY($2::text[]) AND has_schema_privilege($1, n.oid, 'USAGE')
  AND has_function_privilege($1, p.oid, 'EXECUTE')
"""

_Connection = asyncpg.Connection | PoolConnectionProxy
_Overload = tuple[QualifiedName, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class RelationGrant:
    """A role's privileges on one relation and the columns it holds any privilege on."""

    privileges: frozenset[Privilege]
    columns: frozenset[str]


@dataclass(frozen=True, slots=True)
class RolePrivileges:
    """What one role may do in the exposed schemas."""

    relations: Mapping[QualifiedName, RelationGrant]
    functions: frozenset[_Overload]


async def introspect_privileges(
    conn: _Connection, role: str, schemas: tuple[str, ...]
) -> RolePrivileges:
    """The privileges of ``role`` (two catalogue queries). Raises asyncpg's error
    (42704) when the role does not exist."""
    relations: dict[QualifiedName, RelationGrant] = {}
    for schema, name, privileges, columns in await conn.fetch(_RELATIONS, role, list(schemas)):
        if privileges:
            relations[QualifiedName(schema, name)] = RelationGrant(
                frozenset(privileges), frozenset(columns)
            )
    functions = frozenset(
        (QualifiedName(schema, name), tuple(types))
        for schema, name, types in await conn.fetch(_FUNCTIONS, role, list(schemas))
    )
    return RolePrivileges(relations, functions)


def _restrict_relation(relation: Relation, grant: RelationGrant) -> Relation:
    return replace(
        relation,
        columns=tuple(c for c in relation.columns if c.name in grant.columns),
        privileges=grant.privileges,
    )


def _executable(function: Function, privileges: RolePrivileges) -> Function:
    overload = (function.name, tuple(p.data_type for p in function.parameters))
    return replace(function, executable=overload in privileges.functions)


def restrict_to_role(snapshot: SchemaSnapshot, privileges: RolePrivileges) -> SchemaSnapshot:
    """``snapshot`` as a role with ``privileges`` sees it: only relations it holds a
    privilege on (with its columns and privileges), relationships between those, and
    functions marked executable or not for it."""
    relations = {
        name: _restrict_relation(relation, privileges.relations[name])
        for name, relation in snapshot.relations.items()
        if name in privileges.relations
    }
    relationships = {
        source: tuple(r for r in found if r.target in relations)
        for source, found in snapshot.relationships.items()
        if source in relations
    }
    functions = {
        name: tuple(_executable(f, privileges) for f in overloads)
        for name, overloads in snapshot.functions.items()
    }
    return replace(snapshot, relations=relations, relationships=relationships, functions=functions)


class RoleSnapshots:
    """Per role, the snapshot as that role sees it; for one snapshot, bounded LRU."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._snapshot: SchemaSnapshot | None = None
        self._entries: OrderedDict[str, SchemaSnapshot] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, snapshot: SchemaSnapshot, role: str) -> SchemaSnapshot | None:
        if snapshot is not self._snapshot:
            self._entries.clear()
            self._snapshot = snapshot
        found = self._entries.get(role)
        if found is not None:
            self._entries.move_to_end(role)
        return found

    def put(
        self, snapshot: SchemaSnapshot, role: str, privileges: RolePrivileges
    ) -> SchemaSnapshot:
        """Remember (and return) ``snapshot`` restricted to ``privileges`` for ``role``."""
        restricted = restrict_to_role(snapshot, privileges)
        if snapshot is self._snapshot:
            self._entries[role] = restricted
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return restricted
