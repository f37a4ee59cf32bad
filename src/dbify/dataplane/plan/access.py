"""Access policies: what an RBAC access role may do, and the planner's checks of it.

For databases whose owners cannot create database roles, a project defines named
*access roles* (``control/access_roles``); an API key or a JWT role claim naming one
gives its requests an ``AccessPolicy``. The planner (``plan/read.py``,
``plan/mutate.py``, ``plan/call.py``) receives the policy as an argument and checks
every relation, column and function a request touches against it, and ANDs each
relation's row filter into every node that reads it. Because every name reaches the SQL
stage only through the planner, no query shape (embeds, spreads, ``or=`` trees,
ordering on an embed, upserts, RPC) escapes the policy.

A ``RowFilter`` is written in the PostgREST filter grammar
(``status=eq.open&or=(owner.eq.7,public.is.true)``) and parsed once by the grammar
stage (``parse_row_filter``); the planner resolves it against the relation like any
other filter, but without the column allow-list (a role's own filter may use columns
it cannot read).

This module holds the policy types and the pure checks; it does no I/O and knows
nothing of where policies are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from dbify.dataplane.grammar.query_params import parse_query_params
from dbify.dataplane.grammar.types import STAR, Filter, LogicTree
from dbify.errors import Codes, DbifyError, ErrorKind
from dbify.schema.model import Column, QualifiedName, Relation, SchemaSnapshot

Privilege = Literal["select", "insert", "update", "delete"]
PRIVILEGES: tuple[Privilege, ...] = ("select", "insert", "update", "delete")

ACCESS_DENIED = ErrorKind("42501", 403)
"""PostgreSQL's ``insufficient_privilege``, as PostgREST answers it for a known caller."""
ROW_FILTER_VIOLATION = ErrorKind("42501", 403)


@dataclass(frozen=True, slots=True)
class RowFilter:
    """``status=eq.open&or=(a.eq.1,b.eq.2)``: root filters and logic trees, ANDed."""

    filters: tuple[Filter, ...] = ()
    logic: tuple[LogicTree, ...] = ()


@dataclass(frozen=True, slots=True)
class TableAccess:
    """What a role may do with one table or view: ``columns`` None means every column."""

    privileges: frozenset[Privilege]
    columns: frozenset[str] | None = None
    row_filter: RowFilter | None = None


# eq=False: a policy hashes by identity, so the statement cache can key on it cheaply;
# a changed role is a new policy object (and so new cache entries).
@dataclass(frozen=True, slots=True, eq=False)
class AccessPolicy:
    """An access role: per-relation ``TableAccess`` and the functions it may call.

    ``claim_paths`` lists the JWT claims its row filters reference (``$claims.sub``,
    ``plan/claims.py``); such a policy is only used bound to a caller's claims. A
    bound policy keeps the policy it came from (``base``) and the claim values
    (``bound``), and equals every other binding of that policy to the same values, so
    one user's repeated requests share statement cache entries. ``max_rows``,
    ``statement_timeout_ms`` and ``max_body_bytes`` override the project's settings for
    the role's requests.
    """

    role: str
    tables: Mapping[QualifiedName, TableAccess] = field(default_factory=dict)
    functions: frozenset[QualifiedName] = frozenset()
    claim_paths: tuple[str, ...] = ()
    max_rows: int | None = None
    statement_timeout_ms: int | None = None
    max_body_bytes: int | None = None
    base: AccessPolicy | None = None
    bound: tuple[str | tuple[str, ...], ...] = ()

    def __eq__(self, other: object) -> bool:
        if self.base is None or not isinstance(other, AccessPolicy):
            return self is other
        return other.base is self.base and other.bound == self.bound

    def __hash__(self) -> int:
        return id(self) if self.base is None else hash((id(self.base), self.bound))


def parse_row_filter(text: str) -> RowFilter:
    """Parse a row filter; ``DbifyError`` (PGRST100) when it is not filters only.

    >>> f = parse_row_filter("status=eq.open&or=(owner.eq.7,owner.is.null)")
    >>> [x.field.name for x in f.filters], [t.operator for t in f.logic]
    (['status'], ['or'])
    """
    params = parse_query_params(text)
    extra = (
        params.select != STAR
        or params.order
        or params.embedded_ranges
        or params.root_offset is not None
        or params.root_limit is not None
        or params.columns is not None
        or params.on_conflict is not None
    )
    nested = any(path for path, _ in params.filters) or any(path for path, _ in params.logic)
    if extra or nested:
        raise DbifyError(
            Codes.INVALID_QUERY_PARAM,
            "A row filter may only hold filters and and=/or= trees on the table's columns",
        )
    return RowFilter(
        tuple(f for _, f in params.filters),
        tuple(t for _, t in params.logic),
    )


def require(
    policy: AccessPolicy | None, relation: Relation, privilege: Privilege
) -> TableAccess | None:
    """The role's access to ``relation`` when it holds ``privilege`` (None: no policy,
    so nothing to check); raises 42501 otherwise."""
    if policy is None:
        return None
    access = policy.tables.get(relation.name)
    if access is None or privilege not in access.privileges:
        raise DbifyError(
            ACCESS_DENIED,
            f"permission denied for table {relation.name.name}",
            f"The access role '{policy.role}' has no {privilege.upper()} on this table.",
        )
    return access


def require_column(access: TableAccess | None, relation: Relation, name: str) -> None:
    """42501 when the column allow-list leaves out ``name``."""
    if access is None or access.columns is None or name in access.columns:
        return
    raise DbifyError(
        ACCESS_DENIED,
        f"permission denied for column {name} of table {relation.name.name}",
    )


def visible_columns(access: TableAccess | None, relation: Relation) -> tuple[Column, ...]:
    """The columns ``*`` means for this role."""
    if access is None or access.columns is None:
        return relation.columns
    allowed = access.columns
    return tuple(c for c in relation.columns if c.name in allowed)


def require_function(policy: AccessPolicy | None, name: QualifiedName) -> None:
    """42501 when the role may not call the function ``name`` (any overload)."""
    if policy is None or name in policy.functions:
        return
    raise DbifyError(
        ACCESS_DENIED,
        f"permission denied for function {name.name}",
        f"The access role '{policy.role}' may not call this function.",
    )


def restrict_snapshot(snapshot: SchemaSnapshot, policy: AccessPolicy) -> SchemaSnapshot:
    """The snapshot as ``policy`` sees it (for the OpenAPI document): only the
    relations it has a privilege on, with only its columns and write flags, and only
    the functions it may call."""
    relations: dict[QualifiedName, Relation] = {}
    for name, relation in snapshot.relations.items():
        access = policy.tables.get(name)
        if access is None or not access.privileges:
            continue
        granted = access.privileges
        relations[name] = replace(
            relation,
            columns=visible_columns(access, relation),
            insertable=relation.insertable and "insert" in granted,
            updatable=relation.updatable and "update" in granted,
            deletable=relation.deletable and "delete" in granted,
        )
    relationships = {
        source: tuple(r for r in found if r.target in relations)
        for source, found in snapshot.relationships.items()
        if source in relations
    }
    functions = {
        name: overloads
        for name, overloads in snapshot.functions.items()
        if name in policy.functions
    }
    return replace(snapshot, relations=relations, relationships=relationships, functions=functions)
