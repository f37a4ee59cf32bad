"""Choosing the relationship an embed names, as PostgREST's ``findRel`` does.

``books?select=author:authors!books_author_fk(*)``: the embed name may be the target
table or view, a foreign key constraint name, or (for a single-column key) the column
holding it; the ``!hint`` narrows by constraint, column (on either side) or junction
table. Zero candidates is ``PGRST200``, several is ``PGRST201`` with the candidates in
``details`` and hints to pick one. Self-relationships follow PostgREST's convention:
the table name picks one-to-many, the column name picks many-to-one.

This module does not build plans or SQL.
"""

from __future__ import annotations

import difflib

from dbify.errors import Codes, DbifyError
from dbify.schema.model import Relation, Relationship, SchemaSnapshot


def find_relationship(
    snapshot: SchemaSnapshot, source: Relation, name: str, hint: str | None
) -> Relationship:
    """The one relationship from ``source`` that ``name`` (with ``hint``) designates."""
    candidates = snapshot.relationships_of(source.name)
    found = [r for r in candidates if _matches(snapshot, r, name, hint)]
    if len(found) == 1:
        return found[0]
    parent = source.name.name
    if not found:
        raise DbifyError(
            Codes.RELATIONSHIP_NOT_FOUND,
            f"Could not find a relationship between '{parent}' and '{name}' in the schema cache",
            f"Searched for a foreign key relationship between '{parent}' and '{name}'"
            + (f" using the hint '{hint}'" if hint is not None else "")
            + f" in the schema '{source.name.schema}', but no matches were found.",
            _suggest_target(candidates, name),
        )
    raise DbifyError(
        Codes.AMBIGUOUS_RELATIONSHIP,
        f"Could not embed because more than one relationship was found for '{parent}' and '{name}'",
        [_describe(r) for r in found],
        f"Try changing '{name}' to one of the following: "
        + ", ".join(f"'{r.target.name}!{_hint_name(r)}'" for r in found)
        + ". Find the desired relationship in the 'details' key.",
    )


def _single_column(rel: Relationship, side: int) -> str | None:
    return rel.columns[0][side] if len(rel.columns) == 1 else None


def _matches(snapshot: SchemaSnapshot, rel: Relationship, name: str, hint: str | None) -> bool:
    to_target = name == rel.target.name
    is_m2m = rel.cardinality == "many_to_many"
    constraint = None if is_m2m else rel.constraint
    if rel.is_self:
        if hint is None:
            return (to_target and rel.cardinality == "one_to_many") or (
                rel.cardinality == "many_to_one" and name == _single_column(rel, 0)
            )
        return to_target and rel.cardinality == "one_to_many" and hint == _single_column(rel, 1)
    if hint is None:
        target = snapshot.relations.get(rel.target)
        # PostgREST only accepts constraint/column names when the target is a table.
        by_key = target is None or target.kind != "view"
        return to_target or (by_key and name in (constraint, _single_column(rel, 0)))
    junction = rel.junction.relation.name if rel.junction is not None else None
    return to_target and hint in (
        constraint,
        _single_column(rel, 0),
        _single_column(rel, 1),
        junction,
    )


def _hint_name(rel: Relationship) -> str:
    if rel.junction is not None:
        return rel.junction.relation.name
    return rel.constraint


def _describe(rel: Relationship) -> dict[str, str]:
    """PostgREST's ``compressedRel``: one candidate in an ambiguity error."""
    source, target = rel.source.name, rel.target.name
    if rel.junction is not None:
        j = rel.junction
        relationship = (
            f"{j.relation.name} using {j.source_constraint}"
            f"({', '.join(c for _, c in j.source_columns)}) and {j.target_constraint}"
            f"({', '.join(c for c, _ in j.target_columns)})"
        )
    else:
        relationship = (
            f"{rel.constraint} using {source}({', '.join(s for s, _ in rel.columns)})"
            f" and {target}({', '.join(t for _, t in rel.columns)})"
        )
    return {
        "cardinality": rel.cardinality.replace("_", "-"),
        "embedding": f"{source} with {target}",
        "relationship": relationship,
    }


def _suggest_target(candidates: tuple[Relationship, ...], name: str) -> str | None:
    names = sorted({r.target.name for r in candidates})
    close = difflib.get_close_matches(name, names, n=1)
    return f"Perhaps you meant '{close[0]}' instead of '{name}'." if close else None
