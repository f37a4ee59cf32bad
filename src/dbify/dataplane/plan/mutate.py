"""Planning a write: ``ApiRequest`` + ``Payload`` + ``SchemaSnapshot`` → ``MutatePlan``.

POST (insert, upsert with ``Prefer: resolution``), PUT (upsert of one row named by its
whole primary key), PATCH (update) and DELETE, as PostgREST's ``mutatePlan``. The
passes: find the relation; resolve the body's keys (or ``columns=``) to columns
(``PGRST204`` for an unknown one); resolve the root filters, order and ``limit`` with
the read planner (so the operators mean exactly what they mean on GET); apply Dbify's
refusal of an unfiltered PATCH/DELETE; check PUT's filters; choose the conflict target;
and plan the read of the returned rows for ``return=representation`` (``select=`` with
embeds, embed-level filters and order), whose root reads from the write's ``RETURNING``.

This module does no I/O and builds no SQL; it does not parse the body (``grammar/payload``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from dbify.dataplane.grammar.payload import Payload
from dbify.dataplane.grammar.types import STAR, ApiRequest
from dbify.dataplane.plan.access import (
    AccessPolicy,
    Privilege,
    TableAccess,
    require,
    require_column,
)
from dbify.dataplane.plan.read import find_relation, plan_read, row_filter_predicates
from dbify.dataplane.plan.types import Condition, Ordering, Predicate, ReadPlan
from dbify.errors import Codes, DbifyError
from dbify.schema.model import Column, Relation, SchemaSnapshot

Mutation = Literal["insert", "update", "put", "delete"]
Resolution = Literal["merge-duplicates", "ignore-duplicates"]


@dataclass(frozen=True, slots=True)
class MutatePlan:
    """One write and what to give back.

    ``columns`` are those the body sets (insert list, or ``SET`` list); ``body`` is the
    payload's JSON array text (None for DELETE). ``where``/``order``/``limit`` select the
    rows of a PATCH/DELETE; ``key`` names the columns that identify a row when ``limit``
    is used (the primary key; empty means the table's ``ctid``). ``on_conflict`` and
    ``resolution`` make an insert an upsert. ``put_match`` are PUT's key filters the
    body row must satisfy. ``returning`` is the read over the written rows
    (``return=representation``); ``location_key`` the primary key for a ``Location``
    header; ``track_inserted`` asks whether each row was inserted or updated (upserts on
    tables: the status is 201 or 200). With an access role (``plan/access.py``):
    ``conflict_where`` limits an upsert's update to existing rows inside the role's row
    filter, and every written row must satisfy ``check`` (the row filter again: WITH
    CHECK), or the write is rolled back.
    """

    relation: Relation
    mutation: Mutation
    columns: tuple[Column, ...] = ()
    body: str | None = None
    apply_defaults: bool = False
    where: tuple[Predicate, ...] = ()
    order: tuple[Ordering, ...] = ()
    limit: int | None = None
    offset: int = 0
    key: tuple[Column, ...] = ()
    on_conflict: tuple[Column, ...] = ()
    resolution: Resolution | None = None
    put_match: tuple[Condition, ...] = ()
    returning: ReadPlan | None = None
    location_key: tuple[Column, ...] = ()
    track_inserted: bool = False
    conflict_where: tuple[Predicate, ...] = ()
    check: tuple[Predicate, ...] = ()


def plan_mutate(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    payload: Payload | None,
    *,
    allow_unfiltered: bool = False,
    policy: AccessPolicy | None = None,
) -> MutatePlan:
    """Resolve a write of ``request.target``.

    ``payload`` is the parsed body (None for DELETE). Raises ``DbifyError``: PGRST205
    unknown table, PGRST204 unknown column in the body or ``columns=``/``on_conflict=``,
    42703 unknown column in a filter or order, DBIFY101 an unfiltered PATCH/DELETE
    (unless ``allow_unfiltered``), PGRST105 PUT filters that are not exactly the primary
    key with ``eq``, PGRST115 a PUT body that is not one row, PGRST100 ``limit`` on a
    relation without a row identity.

    ``policy`` (an RBAC access role) must grant the write's privileges (an upsert needs
    INSERT and UPDATE, a representation SELECT), the body's columns, filters and order
    must be in its column allow-list, and its row filter narrows PATCH/DELETE, guards an
    upsert's update and must hold for every written row (42501 otherwise).
    """
    relation = find_relation(snapshot, request.schema, request.target.name)
    mutation = _mutation(request)
    _check_writable(relation, mutation)
    access = _require_write(policy, relation, mutation, request)
    root = _root_plan(request, snapshot, policy, _ROOT_PRIVILEGE[mutation])
    columns = _columns(relation, payload.keys) if payload is not None else ()
    for column in columns:
        require_column(access, relation, column.name)
    row_filter = row_filter_predicates(relation, access)
    plan = MutatePlan(
        relation=relation,
        mutation=mutation,
        columns=columns,
        body=payload.json if payload is not None else None,
        apply_defaults=request.preferences.missing == "default",
        returning=_returning(request, snapshot, policy),
        track_inserted=relation.kind in ("table", "partitioned_table"),
        check=row_filter if mutation != "delete" else (),
    )
    if mutation in ("update", "delete"):
        return _filtered(plan, root, allow_unfiltered, row_filter)
    if mutation == "put":
        return replace(_put(plan, root, payload), conflict_where=row_filter)
    planned = _insert(plan, request)
    for column in planned.on_conflict:
        require_column(access, relation, column.name)
    if planned.on_conflict and planned.resolution == "merge-duplicates":
        return replace(planned, conflict_where=row_filter)
    return planned


_ROOT_PRIVILEGE: dict[Mutation, Privilege] = {
    "insert": "insert",
    "put": "insert",
    "update": "update",
    "delete": "delete",
}


def _require_write(
    policy: AccessPolicy | None, relation: Relation, mutation: Mutation, request: ApiRequest
) -> TableAccess | None:
    """The role's access for this write: its verb, UPDATE too for an upsert that
    merges, SELECT too when the written rows are returned."""
    if policy is None:
        return None
    access = require(policy, relation, _ROOT_PRIVILEGE[mutation])
    merges = mutation == "put" or (
        mutation == "insert" and request.preferences.resolution == "merge-duplicates"
    )
    if merges:
        require(policy, relation, "update")
    if request.preferences.return_ == "representation":
        require(policy, relation, "select")
    return access


def _mutation(request: ApiRequest) -> Mutation:
    return {"POST": "insert", "PATCH": "update", "PUT": "put"}.get(  # type: ignore[return-value]
        request.method, "delete"
    )


_NEEDS = {"insert": ("insert",), "put": ("insert", "update"), "update": ("update",)}


def _check_writable(relation: Relation, mutation: Mutation) -> None:
    """PGRST117 (405) before PostgreSQL's 55000 for a view it cannot write through."""
    allowed = {
        "insert": relation.insertable,
        "update": relation.updatable,
        "delete": relation.deletable,
    }
    for verb in _NEEDS.get(mutation, ("delete",)):
        if not allowed[verb]:
            raise DbifyError(
                Codes.METHOD_NOT_ALLOWED,
                f"Cannot {verb} into '{relation.name.name}'"
                if verb == "insert"
                else f"Cannot {verb} '{relation.name.name}'",
                f"The {relation.kind.replace('_', ' ')} is not {verb.rstrip('e')}able",
                "A view must be automatically updatable or have INSTEAD OF triggers.",
            )


def _root_plan(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    policy: AccessPolicy | None,
    privilege: Privilege,
) -> ReadPlan:
    """The root's filters, order and range, resolved as a read would resolve them."""
    root_only = replace(
        request,
        select=STAR,
        filters=tuple((p, f) for p, f in request.filters if p == ()),
        logic=tuple((p, t) for p, t in request.logic if p == ()),
        order=tuple((p, o) for p, o in request.order if p == ()),
        ranges=tuple((p, r) for p, r in request.ranges if p == ()),
    )
    return plan_read(
        root_only, snapshot, policy=policy, root_privilege=privilege, root_row_filter=False
    )


def _returning(
    request: ApiRequest, snapshot: SchemaSnapshot, policy: AccessPolicy | None
) -> ReadPlan | None:
    """The read over the written rows: ``select=`` and the embeds' own parameters; the
    root's filters and range already chose the rows, its order still sorts them."""
    if request.preferences.return_ != "representation":
        return None
    returned = replace(
        request,
        filters=tuple((p, f) for p, f in request.filters if p != ()),
        logic=tuple((p, t) for p, t in request.logic if p != ()),
        ranges=tuple((p, r) for p, r in request.ranges if p != ()),
    )
    return plan_read(returned, snapshot, policy=policy)


def _columns(relation: Relation, keys: tuple[str, ...]) -> tuple[Column, ...]:
    columns: list[Column] = []
    for key in keys:
        column = relation.column(key)
        if column is None:
            raise DbifyError(
                Codes.COLUMN_NOT_FOUND,
                f"Could not find the '{key}' column of '{relation.name.name}' in the schema cache",
            )
        columns.append(column)
    return tuple(columns)


def _insert(plan: MutatePlan, request: ApiRequest) -> MutatePlan:
    relation = plan.relation
    resolution = request.preferences.resolution
    conflict = _columns(relation, request.on_conflict or relation.primary_key)
    # PostgREST sends Location only with return=headers-only; the key costs a subquery.
    headers_only = request.preferences.return_ == "headers-only"
    location = _columns(relation, relation.primary_key) if headers_only else ()
    if resolution is None or not conflict:
        # PostgREST ignores the resolution when there is nothing to conflict on.
        return replace(plan, location_key=location, track_inserted=False)
    return replace(plan, on_conflict=conflict, resolution=resolution, location_key=location)


def _filtered(
    plan: MutatePlan,
    root: ReadPlan,
    allow_unfiltered: bool,
    row_filter: tuple[Predicate, ...],
) -> MutatePlan:
    """PATCH/DELETE: the rows named by the filters, at most ``limit`` of them."""
    relation = plan.relation
    limit = root.range.limit
    if not root.where and limit is None and not allow_unfiltered:
        verb = "update" if plan.mutation == "update" else "delete"
        raise DbifyError(
            Codes.UNFILTERED_MUTATION,
            f"Refusing to {verb} every row of '{relation.name.name}' without a filter",
            hint="Add a filter such as 'id=eq.1' (or 'id=not.is.null' to mean every row),"
            " or allow unfiltered writes in the project's settings.",
        )
    key: tuple[Column, ...] = ()
    if limit is not None or root.range.offset:
        key = _columns(relation, relation.primary_key)
        if not key and relation.kind != "table":
            raise DbifyError(
                Codes.INVALID_QUERY_PARAM,
                f"'limit' on {plan.mutation} needs a primary key on '{relation.name.name}'",
            )
    return replace(
        plan,
        where=root.where + row_filter,
        order=root.order,
        limit=limit,
        offset=root.range.offset,
        key=key,
        track_inserted=False,
    )


def _put(plan: MutatePlan, root: ReadPlan, payload: Payload | None) -> MutatePlan:
    """PUT: an upsert of the one row whose whole primary key the filters give; the
    conflict target is always the primary key."""
    relation = plan.relation
    key = relation.primary_key
    conditions = [p for p in root.where if isinstance(p, Condition)]
    is_key_filter = (
        bool(key)
        and len(conditions) == len(root.where) == len(key)
        and {c.field.column.name for c in conditions} == set(key)
        and all(_is_plain_eq(c) for c in conditions)
    )
    if not is_key_filter:
        raise DbifyError(
            Codes.INVALID_PUT,
            "Filters must include all and only primary key columns with 'eq' operators",
        )
    if payload is None or payload.row_count != 1:
        raise DbifyError(
            Codes.PUT_MATCHING_PK, "Payload values do not match URL in primary key column(s)"
        )
    return replace(
        plan,
        on_conflict=_columns(relation, key),
        resolution="merge-duplicates",
        put_match=tuple(conditions),
    )


def _is_plain_eq(condition: Condition) -> bool:
    return (
        condition.operator == "eq"
        and not condition.negated
        and condition.quantifier is None
        and not condition.field.json_path
        and isinstance(condition.value, str)
    )
