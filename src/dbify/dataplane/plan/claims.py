"""Row filters that reference the caller's JWT claims: ``owner_id=eq.$claims.sub``.

An access role's row filter value written as ``$claims.<path>`` (the claim path syntax
of the role claim: ``sub``, ``app_metadata.org_id``, ``groups[0]``,
``"https://example.com/tenant"``) stands for that claim of the verified token. The
filter is parsed once with the reference in place, and ``bind_claims`` swaps each
reference for the claim's value *after* parsing, so a claim value is only ever a
filter value: it reaches the SQL as a bind parameter like any URL value, and text
such as ``x),or(id.gt.0`` or ``' OR 1=1 --`` in a claim cannot change the filter.

References are allowed with comparison operators and ``in`` only: with ``like``,
``match``, ``fts`` or ``is`` a claim value would be a pattern or change the SQL's
shape. A list claim (``"orgs": [1, 2]``) fits ``in`` (and quantified comparisons),
expanding into the list; a scalar fits anywhere. A claim that is missing, null, an
object, or a list where a scalar is needed refuses the request (403) rather than
matching everything or nothing silently.

Pure: the caller (``auth/principal.py``) looks the claims up; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from dbify.dataplane.grammar.types import Filter, LogicTree
from dbify.dataplane.plan.access import ACCESS_DENIED, AccessPolicy, RowFilter, TableAccess
from dbify.errors import Codes, DbifyError
from dbify.schema.model import QualifiedName

__all__ = ["CLAIM_PREFIX", "ClaimValue", "bind_claims", "claim_paths"]

CLAIM_PREFIX = "$claims."
ClaimValue = str | tuple[str, ...]
_OPERATORS = frozenset({"eq", "neq", "lt", "lte", "gt", "gte", "in"})


def _references(value: str | tuple[str, ...]) -> list[str]:
    items = (value,) if isinstance(value, str) else value
    return [v[len(CLAIM_PREFIX) :] for v in items if v.startswith(CLAIM_PREFIX)]


def _filters(row_filter: RowFilter) -> Iterable[Filter]:
    pending: list[Filter | LogicTree] = [*row_filter.filters, *row_filter.logic]
    while pending:
        item = pending.pop()
        if isinstance(item, LogicTree):
            pending.extend(item.children)
        else:
            yield item


def claim_paths(tables: Mapping[QualifiedName, TableAccess]) -> tuple[str, ...]:
    """The claim paths the row filters reference, sorted; PGRST100 for a reference
    with an operator that cannot take one.

    >>> from dbify.dataplane.plan.access import parse_row_filter
    >>> rule = TableAccess(frozenset({"select"}), row_filter=parse_row_filter(
    ...     "owner=eq.$claims.sub&or=(org.in.($claims.app.orgs),public.is.true)"))
    >>> claim_paths({QualifiedName("public", "t"): rule})
    ('app.orgs', 'sub')
    """
    found: set[str] = set()
    for access in tables.values():
        if access.row_filter is None:
            continue
        for item in _filters(access.row_filter):
            paths = _references(item.value)
            if paths and item.operator not in _OPERATORS:
                raise DbifyError(
                    Codes.INVALID_QUERY_PARAM,
                    f"A claim reference cannot be used with the '{item.operator}' operator",
                    "Use $claims.<path> with eq, neq, lt, lte, gt, gte or in.",
                )
            if any(not p for p in paths):
                raise DbifyError(Codes.INVALID_QUERY_PARAM, "A claim reference needs a path")
            found.update(paths)
    return tuple(sorted(found))


def _refused(path: str, problem: str) -> DbifyError:
    return DbifyError(
        ACCESS_DENIED,
        f"The JWT claim '{path}' {problem}",
        "The access role's row filter needs this claim; the request is refused"
        " rather than matched against every row.",
    )


def _scalar(path: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise _refused(path, "holds a NUL character")
        return value
    raise _refused(path, "is not a string, number or boolean")


def _claim_value(path: str, value: object) -> ClaimValue:
    if value is None:
        raise _refused(path, "is missing")
    if isinstance(value, list):
        return tuple(_scalar(path, v) for v in value)
    return _scalar(path, value)


def _bind_value(item: Filter, values: Mapping[str, ClaimValue]) -> str | tuple[str, ...]:
    value = item.value
    if isinstance(value, str):
        if not value.startswith(CLAIM_PREFIX):
            return value
        path = value[len(CLAIM_PREFIX) :]
        bound = values[path]
        if isinstance(bound, tuple):
            raise _refused(path, "is a list; the row filter compares it with one value")
        return bound
    expanded: list[str] = []
    for element in value:
        if not element.startswith(CLAIM_PREFIX):
            expanded.append(element)
            continue
        bound = values[element[len(CLAIM_PREFIX) :]]
        expanded.extend((bound,) if isinstance(bound, str) else bound)
    return tuple(expanded)


def _bind_tree(tree: LogicTree, values: Mapping[str, ClaimValue]) -> LogicTree:
    children = tuple(
        _bind_tree(c, values)
        if isinstance(c, LogicTree)
        else replace(c, value=_bind_value(c, values))
        for c in tree.children
    )
    return replace(tree, children=children)


def _bind_access(access: TableAccess, values: Mapping[str, ClaimValue]) -> TableAccess:
    found = access.row_filter
    if found is None:
        return access
    bound = RowFilter(
        tuple(replace(f, value=_bind_value(f, values)) for f in found.filters),
        tuple(_bind_tree(t, values) for t in found.logic),
    )
    return replace(access, row_filter=bound)


def bind_claims(policy: AccessPolicy, claim_at: Callable[[str], object]) -> AccessPolicy:
    """``policy`` with every ``$claims.<path>`` replaced by ``claim_at(path)`` (None
    when the claim is absent); 403 when a claim is missing or of the wrong shape.
    A policy without references is returned as it is."""
    if not policy.claim_paths:
        return policy
    values = {path: _claim_value(path, claim_at(path)) for path in policy.claim_paths}
    tables = {name: _bind_access(access, values) for name, access in policy.tables.items()}
    bound = tuple(values[path] for path in policy.claim_paths)
    return replace(policy, tables=tables, claim_paths=(), base=policy, bound=bound)
