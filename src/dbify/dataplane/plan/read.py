"""Planning a read: ``ApiRequest`` + ``SchemaSnapshot`` → ``ReadPlan``.

A chain of small passes, as PostgREST's ``readPlan``: find the root relation, then for
each node of the ``select`` tree resolve its columns, choose each embed's relationship,
and attach the filters, logic trees, order and range addressed to that node's
``EmbedPath``. Every name is checked against the snapshot here, so the SQL stage only
ever sees ``Column`` and ``Relation`` objects. Parameters addressed to a path that is
not embedded are a ``PGRST108``.

This module does no I/O and builds no SQL.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from dbify.dataplane.grammar.types import (
    ApiRequest,
    ColumnItem,
    EmbedItem,
    EmbedPath,
    Field,
    Filter,
    LogicTree,
    OrderTerm,
    Range,
    SelectItem,
)
from dbify.dataplane.plan.access import (
    ACCESS_DENIED,
    AccessPolicy,
    Privilege,
    TableAccess,
    require,
    require_column,
    visible_columns,
)
from dbify.dataplane.plan.casts import validate_cast
from dbify.dataplane.plan.relationships import find_relationship
from dbify.dataplane.plan.types import (
    Condition,
    ConditionTree,
    EmbedPlan,
    EmbedPresence,
    FieldRef,
    Ordering,
    Predicate,
    ReadPlan,
    SelectedColumn,
)
from dbify.errors import Codes, DbifyError, ErrorKind
from dbify.schema.model import QualifiedName, Relation, SchemaSnapshot

UNDEFINED_COLUMN = ErrorKind("42703", 400)
"""PostgreSQL's ``undefined_column``: PostgREST passes it through; we detect it early."""
SPREAD_NOT_TO_ONE = ErrorKind("PGRST119", 400)
RELATED_ORDER_NOT_TO_ONE = ErrorKind("PGRST118", 400)


def plan_read(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    *,
    max_rows: int | None = None,
    source: Relation | None = None,
    policy: AccessPolicy | None = None,
    root_privilege: Privilege | None = "select",
    root_row_filter: bool = True,
) -> ReadPlan:
    """Resolve a read of ``request.target`` against ``snapshot``.

    ``max_rows`` caps the root's limit (PostgREST's ``db-max-rows``). ``source``, when
    given, is the root relation instead of the target (the columns of a function's
    result, for ``/rpc``). Raises
    ``DbifyError``: PGRST205 unknown table, 42703 unknown column, PGRST200/201 no or
    ambiguous relationship, PGRST119 spread on a to-many embed, PGRST118 order on a
    to-many embed's column, PGRST108 parameters for a path that is not embedded,
    PGRST100 an invalid cast.

    ``policy`` (an RBAC access role, ``plan/access.py``) is checked on every node:
    the root needs ``root_privilege`` (None: the root is a function's result, already
    checked by the caller), each embed SELECT; columns selected, filtered or ordered on
    must be in the allow-list (42501), and each node's row filter is ANDed into its
    conditions (the root's only with ``root_row_filter``: writes add it themselves).
    """
    relation = source or find_relation(snapshot, request.schema, request.target.name)
    _check_embed_count(request.select)
    _check_paths(request)
    access = require(policy, relation, root_privilege) if root_privilege else None
    scope = _Scope(policy, access, root_row_filter)
    plan = _plan_node(request, snapshot, relation, request.select, (), scope)
    if max_rows is not None:
        limit = plan.range.limit
        capped = max_rows if limit is None else min(limit, max_rows)
        plan = _replace_range(plan, Range(plan.range.offset, capped))
    return plan


MAX_EMBEDS = 64
"""Embedded resources one request may ask for: each is a lateral join, and PostgreSQL's
planning time grows steeply with hundreds of them (a cheap way to hold a connection)."""


def _check_embed_count(items: tuple[SelectItem, ...]) -> None:
    pending, count = list(items), 0
    while pending:
        item = pending.pop()
        if isinstance(item, EmbedItem):
            count += 1
            pending.extend(item.items)
    if count > MAX_EMBEDS:
        raise DbifyError(
            Codes.INVALID_QUERY_PARAM,
            f"Too many embedded resources: {count}",
            f"A request may embed at most {MAX_EMBEDS} resources.",
        )


def find_relation(snapshot: SchemaSnapshot, schema: str, name: str) -> Relation:
    """The relation ``schema.name`` or PGRST205 with a close name as hint."""
    relation = snapshot.relation(schema, name)
    if relation is not None:
        return relation
    names = [q.name for q in snapshot.relations if q.schema == schema]
    close = difflib.get_close_matches(name, names, n=1)
    raise DbifyError(
        Codes.TABLE_NOT_FOUND,
        f"Could not find the table '{schema}.{name}' in the schema cache",
        hint=f"Perhaps you meant the table '{schema}.{close[0]}'" if close else None,
    )


def _replace_range(plan: ReadPlan, new: Range) -> ReadPlan:
    return replace(plan, range=new)


@dataclass(frozen=True, slots=True)
class _Scope:
    """The policy while planning one node: the role's access to the node's relation
    (None when unrestricted) and whether its row filter is added here."""

    policy: AccessPolicy | None
    access: TableAccess | None
    row_filter: bool = True

    def embed(self, relation: Relation) -> _Scope:
        if self.policy is None:
            return self
        return _Scope(self.policy, require(self.policy, relation, "select"))


def row_filter_predicates(relation: Relation, access: TableAccess | None) -> tuple[Predicate, ...]:
    """The role's row filter on ``relation``, resolved (its columns are not checked
    against the allow-list: the role's own filter may use columns it cannot read)."""
    if access is None or access.row_filter is None:
        return ()
    found = access.row_filter
    predicates: tuple[Predicate, ...] = tuple(
        _predicate(relation, f, {}, None) for f in found.filters
    )
    return predicates + tuple(_tree(relation, t, {}, None) for t in found.logic)


def _plan_node(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    relation: Relation,
    items: tuple[SelectItem, ...],
    path: EmbedPath,
    scope: _Scope,
) -> ReadPlan:
    columns: list[SelectedColumn] = []
    embeds: list[EmbedPlan] = []
    access = scope.access
    for item in items:
        if isinstance(item, ColumnItem):
            columns.extend(_select_column(relation, item, access))
        else:
            embeds.append(
                _plan_embed(request, snapshot, relation, item, (*path, item.label), scope)
            )
    by_label = {e.label: e for e in embeds}
    where = tuple(_predicate(relation, f, by_label, access) for f in request.filters_at(path))
    where += tuple(_tree(relation, t, by_label, access) for t in request.logic_at(path))
    if scope.row_filter:
        where += row_filter_predicates(relation, access)
    order = tuple(_ordering(relation, t, by_label, scope) for t in request.order_at(path))
    return ReadPlan(
        relation=relation,
        columns=tuple(columns),
        embeds=tuple(embeds),
        where=where,
        order=order,
        range=request.range_at(path) or Range(),
    )


def _plan_embed(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    parent: Relation,
    item: EmbedItem,
    path: EmbedPath,
    scope: _Scope,
) -> EmbedPlan:
    relationship = find_relationship(snapshot, parent, item.relation, item.hint)
    target = snapshot.relations.get(relationship.target)
    if target is None:
        raise _missing_target(relationship.target.schema, relationship.target.name)
    inner = scope.embed(target)
    if scope.policy is not None and relationship.junction is not None:
        _check_junction(snapshot, scope.policy, relationship.junction.relation)
    if item.spread and not relationship.is_to_one:
        raise DbifyError(
            SPREAD_NOT_TO_ONE,
            f"A spread operation on '{item.relation}' is not possible",
            f"'{parent.name.name}' and '{item.relation}' do not form a many-to-one or"
            " one-to-one relationship",
        )
    plan = _plan_node(request, snapshot, target, item.items, path, inner)
    return EmbedPlan(
        label=item.label,
        relationship=relationship,
        plan=plan,
        join=item.join or "left",
        spread=item.spread,
    )


def _check_junction(snapshot: SchemaSnapshot, policy: AccessPolicy, name: QualifiedName) -> None:
    """A many-to-many embed reads its junction table: the role must be able to read it,
    and a junction with a row filter is refused (its links would leak past it)."""
    junction = snapshot.relations.get(name)
    if junction is None:
        raise _missing_target(name.schema, name.name)
    access = require(policy, junction, "select")
    if access is not None and access.row_filter is not None:
        raise DbifyError(
            ACCESS_DENIED,
            f"permission denied for table {name.name}",
            "Embedding through a junction table with a row filter is not allowed;"
            " embed the junction table itself.",
        )


def _missing_target(schema: str, name: str) -> DbifyError:
    return DbifyError(
        Codes.TABLE_NOT_FOUND, f"Could not find the table '{schema}.{name}' in the schema cache"
    )


def _select_column(
    relation: Relation, item: ColumnItem, access: TableAccess | None
) -> list[SelectedColumn]:
    cast = validate_cast(item.cast) if item.cast is not None else None
    if item.field.name == "*":
        columns = visible_columns(access, relation)
        return [SelectedColumn(FieldRef(c), c.name, cast) for c in columns]
    ref = _field(relation, item.field, access)
    if item.alias is not None:
        name = item.alias
    elif ref.json_path:
        name = str(ref.json_path[-1].key)
    else:
        name = ref.column.name
    return [SelectedColumn(ref, name, cast)]


def _field(relation: Relation, field: Field, access: TableAccess | None) -> FieldRef:
    column = relation.column(field.name)
    if column is None:
        raise DbifyError(
            UNDEFINED_COLUMN, f"column {relation.name.name}.{field.name} does not exist"
        )
    require_column(access, relation, field.name)
    return FieldRef(column, field.json_path)


def _predicate(
    relation: Relation,
    item: Filter,
    embeds: dict[str, EmbedPlan],
    access: TableAccess | None,
) -> Predicate:
    name = item.field.name
    if name in embeds and not item.field.json_path and relation.column(name) is None:
        if item.operator != "is" or item.value not in ("null", "not_null"):
            raise DbifyError(
                Codes.INVALID_FILTERS, f"Bad operator on the '{name}' embedded resource"
            )
        present = (item.value == "not_null") != item.negated
        return EmbedPresence(name, present)
    return Condition(
        field=_field(relation, item.field, access),
        operator=item.operator,
        value=item.value,
        negated=item.negated,
        quantifier=item.quantifier,
        language=item.language,
    )


def _tree(
    relation: Relation,
    tree: LogicTree,
    embeds: dict[str, EmbedPlan],
    access: TableAccess | None,
) -> ConditionTree:
    children = tuple(
        _tree(relation, c, embeds, access)
        if isinstance(c, LogicTree)
        else _predicate(relation, c, embeds, access)
        for c in tree.children
    )
    return ConditionTree(tree.operator, children, tree.negated)


def _ordering(
    relation: Relation, term: OrderTerm, embeds: dict[str, EmbedPlan], scope: _Scope
) -> Ordering:
    if term.relation is None:
        return Ordering(_field(relation, term.field, scope.access), term.direction, term.nulls)
    embed = embeds.get(term.relation)
    if embed is None:
        raise _not_embedded(term.relation)
    if not embed.is_to_one:
        raise DbifyError(
            RELATED_ORDER_NOT_TO_ONE,
            f"A related order on '{term.relation}' is not possible",
            f"'{relation.name.name}' and '{term.relation}' do not form a many-to-one or"
            " one-to-one relationship",
        )
    ref = _field(embed.plan.relation, term.field, scope.embed(embed.plan.relation).access)
    return Ordering(ref, term.direction, term.nulls, embed.label)


def _check_paths(request: ApiRequest) -> None:
    """Every per-embed parameter must address an embed of the ``select`` tree."""
    known: set[EmbedPath] = {()}
    stack: list[tuple[EmbedPath, tuple[SelectItem, ...]]] = [((), request.select)]
    while stack:
        path, items = stack.pop()
        for item in items:
            if isinstance(item, EmbedItem):
                known.add((*path, item.label))
                stack.append(((*path, item.label), item.items))
    used = [p for p, _ in request.filters] + [p for p, _ in request.logic]
    used += [p for p, _ in request.order] + [p for p, _ in request.ranges]
    for path in used:
        if path not in known:
            raise _not_embedded(path[-1])


def _not_embedded(name: str) -> DbifyError:
    return DbifyError(
        Codes.NOT_EMBEDDED,
        f"'{name}' is not an embedded resource in this request",
        hint=f"Verify that '{name}' is included in the 'select' query parameter.",
    )
