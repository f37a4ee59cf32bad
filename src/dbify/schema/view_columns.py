"""Where a view's columns come from: view column → the table column it exposes unchanged.

PostgreSQL records, for every output column of a view's query, the table column it is a
plain reference to (``resorigtbl``/``resorigcol`` of the query's target list, stored
in ``pg_rewrite.ev_action`` as a ``pg_node_tree``). PostgREST reads the same fields to
let views inherit the primary and foreign keys of their base tables; see its
``allViewsKeyDependencies`` query in ``SchemaCache.hs``. We read the text in Python
instead of turning it into JSON with regular expressions in SQL.

This module owns parsing that text and following views of views down to base tables,
working on object ids and attribute numbers. It does no I/O and knows nothing about
keys or relationships (``relationships.py`` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ColumnRef = tuple[int, int]
"""A column as (relation oid, attribute number)."""

# pg_node_tree tokens (PostgreSQL's pg_strtok): one of ( ) { } or a run of other
# non-blank characters in which a backslash escapes the next character.
_TOKEN = re.compile(r"[(){}]|(?:\\.|[^\s(){}\\])+", re.DOTALL)
_WANTED = {":resno", ":resorigtbl", ":resorigcol", ":resjunk"}


def parse_view_targets(definition: str) -> dict[int, ColumnRef]:
    """The view columns that are plain references to a relation's column.

    ``definition`` is ``pg_rewrite.ev_action::text`` of a view or materialized view.
    Returns ``{view attnum: (origin relation oid, origin attnum)}`` read from the target
    list of the view's top-level query; computed columns (expressions, aggregates,
    set operations) have no origin and are left out.

    >>> parse_view_targets(
    ...     "({QUERY :rtable <> :targetList ({TARGETENTRY :expr {VAR :varno 1} :resno 1"
    ...     " :resname id :resorigtbl 16400 :resorigcol 1 :resjunk false}"
    ...     " {TARGETENTRY :expr {FUNCEXPR} :resno 2 :resname n :resorigtbl 0"
    ...     " :resorigcol 0 :resjunk false}) :override 0})"
    ... )
    {1: (16400, 1)}
    """
    targets: dict[int, ColumnRef] = {}
    depth = 0
    in_target_list = False
    entry: dict[str, str] = {}
    pieces = _TOKEN.finditer(definition)
    for match in pieces:
        piece = match.group()
        if piece in "({":
            depth += 1
            if in_target_list and piece == "{" and depth == 4:
                entry = {}
            continue
        if piece in ")}":
            depth -= 1
            if in_target_list and piece == "}" and depth == 3:
                _add_target(targets, entry)
            if depth <= 2 and in_target_list:
                return targets  # the target list of the top-level query has ended
            if depth <= 1:
                return targets  # the first (top-level) query has ended
            continue
        if depth == 2 and piece == ":targetList":
            following = next(pieces, None)
            if following is None or following.group() != "(":
                return targets  # ``<>``: the query has no target list
            in_target_list = True
            depth += 1
        elif in_target_list and depth == 4 and piece in _WANTED:
            value = next(pieces, None)
            if value is not None:
                entry[piece] = value.group()
    return targets


def _add_target(targets: dict[int, ColumnRef], entry: Mapping[str, str]) -> None:
    try:
        resno = int(entry[":resno"])
        origin = (int(entry[":resorigtbl"]), int(entry[":resorigcol"]))
    except (KeyError, ValueError):
        return
    if entry.get(":resjunk") == "true" or origin[0] == 0 or origin[1] <= 0:
        return
    targets[resno] = origin


def resolve_view_columns(
    views: Mapping[int, Mapping[int, ColumnRef]],
) -> dict[int, dict[int, ColumnRef]]:
    """Follow views of views down to the base relation column of every view column.

    ``views`` maps a view's oid to its ``parse_view_targets`` result. A column whose
    origin is a column of another view is replaced by that column's origin, repeatedly;
    a column whose chain ends on a computed column is dropped. Cycles (impossible in
    PostgreSQL, guarded anyway) drop the column.
    """
    resolved: dict[int, dict[int, ColumnRef]] = {}
    for view, targets in views.items():
        columns: dict[int, ColumnRef] = {}
        for attnum, origin in targets.items():
            base = _follow(views, origin)
            if base is not None:
                columns[attnum] = base
        resolved[view] = columns
    return resolved


def _follow(views: Mapping[int, Mapping[int, ColumnRef]], origin: ColumnRef) -> ColumnRef | None:
    seen: set[int] = set()
    current: ColumnRef | None = origin
    while current is not None and current[0] in views:
        if current[0] in seen:
            return None
        seen.add(current[0])
        current = views[current[0]].get(current[1])
    return current
