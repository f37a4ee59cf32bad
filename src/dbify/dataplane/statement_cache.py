"""Read statements cached by request shape, so repeated shapes skip plan and build.

Most traffic repeats a few request shapes with different values (``?id=eq.5``,
``?id=eq.9``). The *shape* of a read is everything in its ``ApiRequest`` that changes
the SQL text (target, schema, select, fields, operators, negation, JSON paths, order,
media type, count preference, ``max_rows``) with every bindable value (filter values,
``in`` and quantifier lists, limit and offset) replaced by a positional *slot*.

On a miss the shape is planned and built once with *sentinel* values, unique strings
and integers that cannot come from a client, and each parameter of the statement is
traced back to the slot it came from (or recorded as a constant, e.g. a JSON key). If a
sentinel reaches the SQL text, is transformed on its way to a parameter, or vanishes,
or planning with sentinels raises, the shape is remembered as not cacheable and always
planned afresh. A hit substitutes the request's values into the recorded template; the
result is identical to ``build_read(plan_read(...))`` (``tests/dataplane/
test_statement_cache.py`` checks it for every compatibility case).

A value stays part of the shape, not a slot, when the SQL depends on it rather than
only binding it: ``is`` values, a ``cs`` operand that looks like a range literal
(``sql/conditions.py`` tests a range column for one element otherwise), a ``like``
pattern still holding ``*``, and the root limit when ``max_rows`` caps it.

Repeated reads also skip parsing: ``grammar.raw_shape`` masks the operands of simple
comparison filters in the raw query string. The first time such a raw shape is parsed
and planned, ``read_statement`` remembers, next to its template, the parsed request and
which slot each masked operand fills; ``memoized_read`` then answers the same raw shape
with that request (its values are not used again: everything ``respond_read`` reads
from it is in the raw shape) and the template filled with the new operands. A raw shape
is remembered only when the mapping is unambiguous (distinct operands, each one exactly
one slot's value).

One ``StatementCache`` per project, a bounded LRU. It belongs to one schema snapshot:
given another snapshot it empties itself, so a cached statement never outlives the
schema it was planned against. This module does no I/O; it plans and builds only
through ``plan_read`` and ``build_read``.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

from dbify.dataplane.grammar.raw_shape import RawShape
from dbify.dataplane.grammar.types import ApiRequest, EmbedPath, Filter, LogicTree, Range
from dbify.dataplane.plan import plan_read
from dbify.dataplane.plan.access import AccessPolicy
from dbify.dataplane.sql import ReadStatement, Statement, build_read
from dbify.dataplane.sql.statement import Param
from dbify.errors import DbifyError
from dbify.schema.model import SchemaSnapshot

_Value = str | tuple[str, ...] | int
"""A slot's value: a filter's string or list, or a limit/offset."""

_Source = tuple[int, Param]
"""Where a parameter's value comes from: ``(slot, None)``, or ``(-1, constant)``. A
slot's value is bound as it is (a string), as its text (a limit or offset) or as a
list (an ``in`` or quantifier list): its type decides, as when planned afresh."""

# A NUL cannot reach a value through a URL that PostgreSQL would accept, and the random
# token makes sentinels unguessable, so no client value or constant equals one.
_TOKEN = f"\x00dbify-slot-{secrets.token_hex(8)}-"
_INT_BASE = 1 << 52 | secrets.randbits(40) << 8


@dataclass(frozen=True, slots=True)
class _Template:
    """A statement with each parameter's source instead of its value."""

    main_sql: str
    main_sources: tuple[_Source, ...]
    estimate_sql: str | None
    estimate_sources: tuple[_Source, ...]


@dataclass(frozen=True, slots=True)
class _Memo:
    """A raw shape's parsed request, template, and the template's parameters resolved
    once (``_resolve``): each is the index of the masked operand it binds, or
    ``(-1, value)`` for a value fixed by the raw shape itself or by the template."""

    request: ApiRequest
    template: _Template
    main_params: tuple[_Source, ...]
    estimate_params: tuple[_Source, ...]


class StatementCache:
    """A bounded LRU of read templates by request shape, for one schema snapshot."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._snapshot: SchemaSnapshot | None = None
        self._entries: OrderedDict[Hashable, _Template | None] = OrderedDict()
        self._memos: OrderedDict[Hashable, _Memo] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def read_statement(
        self,
        request: ApiRequest,
        snapshot: SchemaSnapshot,
        *,
        max_rows: int | None,
        policy: AccessPolicy | None = None,
        raw: RawShape | None = None,
    ) -> ReadStatement:
        """The statement of a read of ``request``: ``build_read(plan_read(...))``,
        taken from the cache when the shape was seen. Raises what planning raises.
        An access role's ``policy`` is part of the shape (by identity). ``raw``, the
        request's ``raw_request_shape``, is remembered for ``memoized_read``."""
        if snapshot is not self._snapshot:
            self._entries.clear()
            self._memos.clear()
            self._snapshot = snapshot
        if self.size <= 0:
            return _fresh(request, snapshot, max_rows, policy)
        values: list[_Value] = []
        key = _shape(request, max_rows, values)
        if policy is not None:
            key = (key, policy)
        entries = self._entries
        try:
            template = entries[key]
        except KeyError:
            statement = _fresh(request, snapshot, max_rows, policy)  # raises if invalid
            template = _record(request, snapshot, max_rows, len(values), policy)
            if template is not None and _fill(template, values) != statement:
                template = None  # a value shaped the SQL in a way this module missed
            entries[key] = template
            if len(entries) > self.size:
                entries.popitem(last=False)
            if template is not None and raw is not None:
                self._memorize(raw, request, template, values, max_rows, policy)
            return statement
        entries.move_to_end(key)
        if template is None:
            return _fresh(request, snapshot, max_rows, policy)
        if raw is not None:
            self._memorize(raw, request, template, values, max_rows, policy)
        return _fill(template, values)

    def memoized_read(
        self,
        raw: RawShape,
        snapshot: SchemaSnapshot,
        *,
        max_rows: int | None,
        policy: AccessPolicy | None = None,
    ) -> tuple[ApiRequest, ReadStatement] | None:
        """The parsed request and statement of a read whose raw shape was seen, or None."""
        if snapshot is not self._snapshot:
            return None
        key, operands = raw
        memo = self._memos.get((key, max_rows, policy))
        if memo is None:
            return None
        template = memo.template
        main = Statement(template.main_sql, _bind(memo.main_params, operands))
        estimate = None
        if template.estimate_sql is not None:
            estimate = Statement(template.estimate_sql, _bind(memo.estimate_params, operands))
        return memo.request, ReadStatement(main, estimate)

    def _memorize(
        self,
        raw: RawShape,
        request: ApiRequest,
        template: _Template,
        values: list[_Value],
        max_rows: int | None,
        policy: AccessPolicy | None,
    ) -> None:
        key, operands = raw
        memo_key = (key, max_rows, policy)
        if memo_key in self._memos:
            return
        position = {operand: index for index, operand in enumerate(operands)}
        if len(position) != len(operands):
            return  # equal operands: which slot each fills is ambiguous
        slots: list[tuple[int, _Value]] = []
        for value in values:
            source = position.get(value) if isinstance(value, str) else None
            slots.append((source, "") if source is not None else (-1, value))
        sources = [source for source, _ in slots if source >= 0]
        if sorted(sources) != list(range(len(operands))):
            return  # an operand is no slot's value, or is two slots' values
        self._memos[memo_key] = _Memo(
            request, template,
            _resolve(template.main_sources, slots), _resolve(template.estimate_sources, slots),
        )  # fmt: skip
        if len(self._memos) > self.size:
            self._memos.popitem(last=False)


def _fresh(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    max_rows: int | None,
    policy: AccessPolicy | None = None,
) -> ReadStatement:
    plan = plan_read(request, snapshot, max_rows=max_rows, policy=policy)
    return build_read(plan, media_type=request.media_type, count=request.preferences.count)


# --- the shape ----------------------------------------------------------------------


def _slotted(item: Filter) -> bool:
    """Whether ``item``'s value only binds (a slot) rather than shaping the SQL."""
    value, operator = item.value, item.operator
    if operator == "is":
        return False
    if isinstance(value, str):
        if operator == "cs":
            stripped = value.strip()
            return not stripped.startswith(("[", "(")) and stripped.lower() != "empty"
        return not (operator in ("like", "ilike") and "*" in value)
    return not (operator in ("like", "ilike") and any("*" in v for v in value))


def _filter_shape(item: Filter, values: list[_Value]) -> Hashable:
    if _slotted(item):
        values.append(item.value)
        form: Hashable = str if isinstance(item.value, str) else tuple
    else:
        form = ("value", item.value)
    return (item.field, item.operator, form, item.negated, item.quantifier, item.language)


def _tree_shape(tree: LogicTree, values: list[_Value]) -> Hashable:
    children = tuple(
        _tree_shape(c, values) if isinstance(c, LogicTree) else _filter_shape(c, values)
        for c in tree.children
    )
    return (tree.operator, tree.negated, children)


def _range_shape(
    path: EmbedPath, item: Range, max_rows: int | None, values: list[_Value]
) -> Hashable:
    # Offset 0 and no limit leave their clause out; a capped limit is min(limit, max_rows).
    if item.limit is None or (max_rows is not None and not path):
        limit: Hashable = ("value", item.limit)
    else:
        values.append(item.limit)
        limit = int
    if item.offset == 0:
        return (path, limit, 0)
    values.append(item.offset)
    return (path, limit, int)


def _shape(request: ApiRequest, max_rows: int | None, values: list[_Value]) -> Hashable:
    """The shape key of ``request``; appends its slot values to ``values`` in order."""
    return (
        request.target,
        request.schema,
        request.select,
        tuple((path, _filter_shape(f, values)) for path, f in request.filters),
        tuple((path, _tree_shape(t, values)) for path, t in request.logic),
        request.order,
        tuple((path, _range_shape(path, r, max_rows, values)) for path, r in request.ranges),
        request.media_type,
        request.preferences.count,
        max_rows,
    )


# --- recording a template -------------------------------------------------------------


class _Sentinels:
    """Hands out the sentinel of each slot in turn, of the same type as its value."""

    def __init__(self) -> None:
        self.count = 0

    def value(self, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        slot, self.count = self.count, self.count + 1
        if isinstance(value, str):
            return f"{_TOKEN}{slot}"
        return (f"{_TOKEN}{slot}a", f"{_TOKEN}{slot}b")

    def number(self) -> int:
        slot, self.count = self.count, self.count + 1
        return _INT_BASE + slot


def _with_sentinels(request: ApiRequest, max_rows: int | None, sentinels: _Sentinels) -> ApiRequest:
    """``request`` with each slot's value replaced by its sentinel, in slot order (the
    order ``_shape`` appends values)."""

    def filter_(item: Filter) -> Filter:
        return replace(item, value=sentinels.value(item.value)) if _slotted(item) else item

    def tree(item: LogicTree) -> LogicTree:
        children = tuple(tree(c) if isinstance(c, LogicTree) else filter_(c) for c in item.children)
        return replace(item, children=children)

    def range_(path: EmbedPath, item: Range) -> Range:
        limit = item.limit
        if limit is not None and not (max_rows is not None and not path):
            limit = sentinels.number()
        return Range(item.offset and sentinels.number(), limit)

    return replace(
        request,
        filters=tuple((path, filter_(f)) for path, f in request.filters),
        logic=tuple((path, tree(t)) for path, t in request.logic),
        ranges=tuple((path, range_(path, r)) for path, r in request.ranges),
    )


class _Unmappable(Exception):
    """A sentinel reached the statement in a form a template cannot reproduce."""


def _record(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    max_rows: int | None,
    slots: int,
    policy: AccessPolicy | None = None,
) -> _Template | None:
    """Plan and build ``request``'s shape with sentinels; None if it cannot be cached."""
    probe = _with_sentinels(request, max_rows, _Sentinels())
    try:
        statement = _fresh(probe, snapshot, max_rows, policy)
        used: set[int] = set()
        main = _sources(statement.main, used)
        estimate = statement.count_estimate
        estimate_sources = _sources(estimate, used) if estimate is not None else ()
    except (DbifyError, _Unmappable):
        return None
    if used != set(range(slots)):
        return None  # a value shaped the statement without being bound
    return _Template(
        statement.main.sql,
        main,
        estimate.sql if estimate is not None else None,
        estimate_sources,
    )


def _sources(statement: Statement, used: set[int]) -> tuple[_Source, ...]:
    if _TOKEN in statement.sql:
        raise _Unmappable
    return tuple(_source(param, used) for param in statement.params)


def _source(param: Param, used: set[int]) -> _Source:
    """The source of one parameter of the sentinel statement: a slot when it is exactly
    a sentinel (a string, an integer's text, or the two-item list of a list slot)."""
    if param is None:
        return (-1, None)
    if isinstance(param, list):
        if not any(_TOKEN in p for p in param):
            return (-1, param)
        slot = _list_slot(param)
    elif param.startswith(_TOKEN) and param[len(_TOKEN) :].isdigit():
        slot = int(param[len(_TOKEN) :])
    elif _TOKEN in param:
        raise _Unmappable
    elif param.isdigit() and int(param) >= _INT_BASE:
        slot = int(param) - _INT_BASE
    else:
        return (-1, param)
    used.add(slot)
    return (slot, None)


def _list_slot(param: list[str]) -> int:
    """The slot of a list built exactly from a list slot's sentinel ``(Na, Nb)``."""
    if len(param) != 2 or not all(p.startswith(_TOKEN) for p in param):
        raise _Unmappable
    first, second = (p[len(_TOKEN) :] for p in param)
    slot = first[:-1]
    if not (slot.isdigit() and first == f"{slot}a" and second == f"{slot}b"):
        raise _Unmappable
    return int(slot)


# --- filling a template -------------------------------------------------------------


def _params(sources: tuple[_Source, ...], values: list[_Value]) -> tuple[Param, ...]:
    params: list[Param] = []
    for slot, constant in sources:
        if slot < 0:
            params.append(constant.copy() if isinstance(constant, list) else constant)
            continue
        value = values[slot]
        if isinstance(value, str):
            params.append(value)
        elif isinstance(value, int):
            params.append(str(value))
        else:
            params.append(list(value))
    return tuple(params)


def _resolve(sources: tuple[_Source, ...], slots: list[tuple[int, _Value]]) -> tuple[_Source, ...]:
    """``sources`` with each slot replaced by what a memo gives it: a masked operand's
    index, or the fixed value converted as ``_params`` converts it."""
    resolved: list[_Source] = []
    for slot, constant in sources:
        if slot < 0:
            resolved.append((-1, constant))
            continue
        source, fixed = slots[slot]
        if source >= 0:
            resolved.append((source, None))
        else:
            resolved.append((-1, _params(((0, None),), [fixed])[0]))
    return tuple(resolved)


def _bind(params: tuple[_Source, ...], operands: tuple[str, ...]) -> tuple[Param, ...]:
    """A memo's parameters with this request's operands (lists copied, as ``_params``
    gives each statement its own)."""
    return tuple(
        [
            operands[source] if source >= 0 else value.copy() if type(value) is list else value
            for source, value in params
        ]
    )


def _fill(template: _Template, values: list[_Value]) -> ReadStatement:
    main = Statement(template.main_sql, _params(template.main_sources, values))
    estimate = None
    if template.estimate_sql is not None:
        estimate = Statement(template.estimate_sql, _params(template.estimate_sources, values))
    return ReadStatement(main, estimate)
