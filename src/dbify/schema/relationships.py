"""Deriving the relationships that resource embedding can follow, from foreign keys.

The rules are PostgREST's (``SchemaCache.hs``: ``allM2OandO2ORels``,
``addViewM2OAndO2ORels``, ``addM2MRels``, ``addInverseRels``), applied in that order:

1. every foreign key of table A referencing B gives A → B, *one-to-one* when A's
   foreign-key columns are exactly A's primary key or one of its unique constraints,
   else *many-to-one*;
2. a view that exposes all the columns of a foreign key (unchanged, see
   ``view_columns.py``) inherits it: view → B, A → view over B, view → view;
3. a relation J with many-to-one relationships to A and to C through two different
   constraints whose columns are all part of J's primary key is a junction:
   A ↔ C is *many-to-many* through J (both directions, A may equal C);
4. every to-one relationship gets its inverse: many-to-one becomes one-to-many,
   one-to-one stays one-to-one.

Finally only relationships whose source, target and junction are in the exposed
schemas are kept. This module is pure: rows in, ``Relationship`` values out. It does
not read the catalogue (``introspect.py``) or choose between ambiguous
relationships (the planner does, with embed hints).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from dbify.schema.model import Junction, QualifiedName, Relationship


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key constraint: ``table(columns)`` references
    ``referenced_table(referenced_columns)``, columns paired in order."""

    constraint: str
    table: QualifiedName
    columns: tuple[str, ...]
    referenced_table: QualifiedName
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ViewColumn:
    """A view column that exposes a base table's column unchanged."""

    view: QualifiedName
    column: str
    table: QualifiedName
    table_column: str


# base table -> view -> base column -> the view columns exposing it (several when a
# view repeats a column under different names)
_ViewIndex = Mapping[QualifiedName, Mapping[QualifiedName, Mapping[str, tuple[str, ...]]]]


def derive_relationships(
    foreign_keys: Iterable[ForeignKey],
    unique_keys: Mapping[QualifiedName, Collection[Collection[str]]],
    primary_keys: Mapping[QualifiedName, Collection[str]],
    view_columns: Iterable[ViewColumn] = (),
    schemas: Collection[str] | None = None,
) -> dict[QualifiedName, tuple[Relationship, ...]]:
    """All relationships, keyed by source relation.

    ``unique_keys`` holds each table's primary key and unique constraints (for the
    one-to-one rule); ``primary_keys`` holds the primary key of tables *and views*
    (see ``view_primary_keys``), for the junction rule. ``schemas``, when given, keeps
    only relationships entirely inside those schemas.
    """
    views = _index_view_columns(view_columns)
    to_one = [_to_one(fk, unique_keys) for fk in foreign_keys]
    to_one += [rel for base in to_one for rel in _inherit_through_views(base, views)]
    many = list(_many_to_many(to_one, primary_keys))
    inverse = [_inverse(rel) for rel in to_one]
    result: dict[QualifiedName, dict[Relationship, None]] = defaultdict(dict)
    for rel in itertools.chain(to_one, many, inverse):
        if schemas is None or _inside(rel, schemas):
            result[rel.source][rel] = None  # a dict keeps the first of duplicates, in order
    return {source: tuple(rels) for source, rels in result.items()}


def view_primary_keys(
    view_columns: Iterable[ViewColumn],
    primary_keys: Mapping[QualifiedName, Collection[str]],
) -> dict[QualifiedName, tuple[str, ...]]:
    """Primary keys of views, inferred from their base tables (as PostgREST does).

    A view's key is made of the view columns exposing the whole primary key of a base
    table, in the table's key order; a view exposing the keys of several tables (a
    join) gets all of them. When a key column is exposed twice the first view column
    is used. Views exposing no complete key are left out.
    """
    views = _index_view_columns(view_columns)
    keys: dict[QualifiedName, list[str]] = defaultdict(list)
    for table, by_view in views.items():
        key = tuple(primary_keys.get(table, ()))
        if not key:
            continue
        for view, exposed in by_view.items():
            if all(column in exposed for column in key):
                keys[view].extend(exposed[column][0] for column in key)
    return {view: tuple(columns) for view, columns in keys.items()}


def _index_view_columns(view_columns: Iterable[ViewColumn]) -> _ViewIndex:
    index: dict[QualifiedName, dict[QualifiedName, dict[str, tuple[str, ...]]]] = {}
    for item in view_columns:
        exposed = index.setdefault(item.table, {}).setdefault(item.view, {})
        exposed[item.table_column] = (*exposed.get(item.table_column, ()), item.column)
    return index


def _to_one(
    fk: ForeignKey, unique_keys: Mapping[QualifiedName, Collection[Collection[str]]]
) -> Relationship:
    columns = frozenset(fk.columns)
    one_to_one = any(frozenset(key) == columns for key in unique_keys.get(fk.table, ()))
    return Relationship(
        source=fk.table,
        target=fk.referenced_table,
        cardinality="one_to_one" if one_to_one else "many_to_one",
        constraint=fk.constraint,
        columns=tuple(zip(fk.columns, fk.referenced_columns, strict=True)),
    )


def _inherit_through_views(base: Relationship, views: _ViewIndex) -> Iterator[Relationship]:
    """The copies of a table-to-table relationship with either end replaced by a view."""
    source_columns = tuple(pair[0] for pair in base.columns)
    target_columns = tuple(pair[1] for pair in base.columns)
    source_views = list(_exposing_views(views, base.source, source_columns))
    target_views = list(_exposing_views(views, base.target, target_columns))
    for view, columns in source_views:
        yield _with(base, source=view, columns=tuple(zip(columns, target_columns, strict=True)))
    for view, columns in target_views:
        yield _with(base, target=view, columns=tuple(zip(source_columns, columns, strict=True)))
    for (source, left), (target, right) in itertools.product(source_views, target_views):
        pairs = tuple(zip(left, right, strict=True))
        yield _with(base, source=source, target=target, columns=pairs)


def _exposing_views(
    views: _ViewIndex, table: QualifiedName, columns: tuple[str, ...]
) -> Iterator[tuple[QualifiedName, tuple[str, ...]]]:
    """Each view exposing all ``columns`` of ``table``, with the view's column names
    (every combination when a column is exposed more than once)."""
    for view, exposed in views.get(table, {}).items():
        if all(column in exposed for column in columns):
            for combination in itertools.product(*(exposed[column] for column in columns)):
                yield view, combination


def _with(
    base: Relationship,
    *,
    columns: tuple[tuple[str, str], ...],
    source: QualifiedName | None = None,
    target: QualifiedName | None = None,
) -> Relationship:
    return Relationship(
        source=source or base.source,
        target=target or base.target,
        cardinality=base.cardinality,
        constraint=base.constraint,
        columns=columns,
    )


def _many_to_many(
    to_one: list[Relationship], primary_keys: Mapping[QualifiedName, Collection[str]]
) -> Iterator[Relationship]:
    by_junction: dict[QualifiedName, list[Relationship]] = defaultdict(list)
    for rel in to_one:
        if rel.cardinality == "many_to_one":
            by_junction[rel.source].append(rel)
    for junction, rels in by_junction.items():
        key = frozenset(primary_keys.get(junction, ()))
        for to_source, to_target in itertools.permutations(rels, 2):
            if to_source.constraint == to_target.constraint:
                continue
            junction_columns = {pair[0] for pair in (*to_source.columns, *to_target.columns)}
            if not junction_columns <= key:
                continue
            yield Relationship(
                source=to_source.target,
                target=to_target.target,
                cardinality="many_to_many",
                # PostgREST matches a many-to-many embed hint against the junction's
                # name only; the constraint to the target is kept for error details.
                constraint=to_target.constraint,
                junction=Junction(
                    relation=junction,
                    source_constraint=to_source.constraint,
                    source_columns=tuple((t, j) for j, t in to_source.columns),
                    target_constraint=to_target.constraint,
                    target_columns=to_target.columns,
                ),
            )


def _inverse(rel: Relationship) -> Relationship:
    return Relationship(
        source=rel.target,
        target=rel.source,
        cardinality="one_to_many" if rel.cardinality == "many_to_one" else "one_to_one",
        constraint=rel.constraint,
        columns=tuple((target, source) for source, target in rel.columns),
    )


def _inside(rel: Relationship, schemas: Collection[str]) -> bool:
    ends = [rel.source, rel.target]
    if rel.junction is not None:
        ends.append(rel.junction.relation)
    return all(end.schema in schemas for end in ends)
