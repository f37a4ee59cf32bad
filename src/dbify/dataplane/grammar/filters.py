"""Horizontal filters: ``col=op.value`` parameters and ``or``/``and`` logic trees.

Owns the operator grammar (``not.`` prefix, ``(any)``/``(all)`` quantifiers, ``in`` lists,
``is`` values, ``fts(config)``), value quoting and escaping, and nested logic trees. Does
not know the column types or whether a column exists (the plan stage does) and builds no
SQL.

Decision: for ``like``/``ilike`` the parser turns ``*`` into ``%`` (PostgREST does the
same in its SQL builder), so later stages receive SQL patterns.

>>> age = parse_operation(Field("age"), "not.gte.18")
>>> (age.field.name, age.operator, age.value, age.negated)
('age', 'gte', '18', True)
>>> parse_operation(Field("name"), "not.ilike.*ann*").value
'%ann%'
>>> parse_operation(Field("id"), 'in.(1,"a,b",c)').value
('1', 'a,b', 'c')
>>> parse_operation(Field("name"), "like(any).{a*,b*}").value
('a%', 'b%')
>>> parse_operation(Field("body"), "fts(english).cat").language
'english'
>>> tree = parse_logic_tree("or", "(age.lt.18,and(a.eq.1,b.not.is.null))")
>>> [type(child).__name__ for child in tree.children]
['Filter', 'LogicTree']
>>> parse_operation(Field("id"), "noop.0")
Traceback (most recent call last):
dbify.errors.DbifyError: "failed to parse filter (noop.0)" (line 1, column 1)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from dbify.dataplane.grammar.syntax import (
    MAX_DEPTH,
    ParseFailure,
    read_field,
    read_identifier,
    read_quoted,
    skip_whitespace,
    syntax_error,
    unescape,
)
from dbify.dataplane.grammar.types import Field, Filter, LogicTree, Operator, Quantifier

_OPERATOR = re.compile(r"([a-z]+)(?:\(([^()]*)\))?\.")
_QUANTIFIABLE = frozenset(
    ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch")
)
_SIMPLE = frozenset(("cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj", "isdistinct"))
_TEXT_SEARCH = frozenset(("fts", "plfts", "phfts", "wfts"))
_IS_VALUES = {value: value for value in ("null", "not_null", "true", "false", "unknown")}
# The common operators whose operand is taken verbatim skip the general parser.
_SIMPLE_OPERATION = re.compile(r"(eq|neq|gte?|lte?|cs|cd|ov|sl|sr|nxr|nxl|adj|i?match)\.")
_OPERATOR_EXPECTED = "operator (eq, gt, ...)"
# A logic tree item's value ends at "," or ")" unless it is quoted or a {array}.
_LOGIC_VALUE = re.compile(r"\{[^{}]*\}|[^,)]*")
_LIST_ITEM = re.compile(r"[^,)]*")
_ARRAY_ITEM = re.compile(r'[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^,{}"]*?))[ \t]*([,}])', re.DOTALL)

_ValueReader = Callable[[str, int], tuple[str, int]]


def parse_operation(field: Field, value: str) -> Filter:
    """The filter ``field=value`` stands for; ``value`` is ``[not.]op[(mod)].operand``.

    Raises ``DbifyError`` ``PGRST100`` for an unknown operator, a bad ``is`` value, a
    malformed ``in`` list or quantified array.
    """
    simple = _SIMPLE_OPERATION.match(value)
    if simple is not None:
        return Filter(field, _operator(simple.group(1)), value[simple.end() :])
    try:
        filter_, position = _read_operation(field, value, 0, _read_rest)
        if position != len(value):
            raise ParseFailure(position, "end of input")
    except ParseFailure as failure:
        raise syntax_error("filter", value, failure) from None
    return filter_


def parse_logic_tree(
    operator: Literal["and", "or"], value: str, *, negated: bool = False
) -> LogicTree:
    """The tree of ``operator=value`` (``or=(a.eq.1,and(b.gt.2,c.is.null))``)."""
    text = operator + value
    try:
        if not value.startswith("("):
            raise ParseFailure(len(operator), '"("')
        tree, position = _read_tree(text, 0, 0)
        if position != len(text) or not isinstance(tree, LogicTree):
            raise ParseFailure(position, "end of input")
    except ParseFailure as failure:
        raise syntax_error("logic tree", value, _shift(failure, len(operator))) from None
    if negated:
        return LogicTree(tree.operator, tree.children, negated=True)
    return tree


def _shift(failure: ParseFailure, by: int) -> ParseFailure:
    # The tree is parsed as "or(...)" but reported against "(...)" as the client wrote it.
    return ParseFailure(max(failure.position - by, 0), failure.expected)


def _read_rest(text: str, position: int) -> tuple[str, int]:
    return text[position:], len(text)


def _read_logic_value(text: str, position: int) -> tuple[str, int]:
    if text.startswith('"', position):
        quoted = read_quoted(text, position)
        if quoted is not None and (quoted[1] == len(text) or text[quoted[1]] in ",)"):
            return quoted
    match = _LOGIC_VALUE.match(text, position)
    assert match is not None  # the second branch matches the empty string
    return match.group(), match.end()


def _read_operation(
    field: Field, text: str, position: int, read_value: _ValueReader
) -> tuple[Filter, int]:
    negated = text.startswith("not.", position)
    if negated:
        position += 4
    match = _OPERATOR.match(text, position)
    if match is None:
        raise ParseFailure(position, _OPERATOR_EXPECTED)
    name, modifier = match.group(1), match.group(2)
    after = match.end()
    if name == "in" and modifier is None:
        items, after = _read_list(text, after)
        return Filter(field, "in", items, negated), after
    if name == "is" and modifier is None:
        raw, after = read_value(text, after)
        is_value = _IS_VALUES.get(raw.lower())
        if is_value is None:
            raise ParseFailure(match.end(), "isVal: (null, not_null, true, false, unknown)")
        return Filter(field, "is", is_value, negated), after
    if name in _TEXT_SEARCH:
        language = None
        if modifier is not None:
            language, _ = read_identifier(modifier, 0)
        operand, after = read_value(text, after)
        return Filter(field, _operator(name), operand, negated, language=language), after
    if name in _SIMPLE and modifier is None:
        operand, after = read_value(text, after)
        return Filter(field, _operator(name), operand, negated), after
    if name in _QUANTIFIABLE and modifier in (None, "any", "all"):
        operand, after = read_value(text, after)
        like = name in ("like", "ilike")
        if modifier is None:
            operand = _pattern(operand) if like else operand
            return Filter(field, _operator(name), operand, negated), after
        items = _parse_array(operand, after - len(operand))
        if like:
            items = tuple(_pattern(item) for item in items)
        quantifier: Quantifier = "any" if modifier == "any" else "all"
        return Filter(field, _operator(name), items, negated, quantifier), after
    raise ParseFailure(position, _OPERATOR_EXPECTED)


def _operator(name: str) -> Operator:
    # The callers only pass names from the operator sets above, all members of Operator.
    return name  # type: ignore[return-value]


def _pattern(operand: str) -> str:
    return operand.replace("*", "%")


def _read_list(text: str, position: int) -> tuple[tuple[str, ...], int]:
    """``(a,"b,c",d)``: quoted items are unescaped, bare ones kept as written; ``()`` is
    the empty list."""
    position = skip_whitespace(text, position)
    if not text.startswith("(", position):
        raise ParseFailure(position, '"("')
    position = skip_whitespace(text, position + 1)
    items: list[str] = []
    while True:
        quoted = read_quoted(text, position) if text.startswith('"', position) else None
        if quoted is not None and (quoted[1] == len(text) or text[quoted[1]] in ",)"):
            item, position = quoted
        else:
            match = _LIST_ITEM.match(text, position)
            assert match is not None  # matches the empty string
            item, position = match.group(), match.end()
        items.append(item)
        if text.startswith(",", position):
            position += 1
            continue
        if text.startswith(")", position):
            if items == [""] and quoted is None:
                return (), skip_whitespace(text, position + 1)
            return tuple(items), skip_whitespace(text, position + 1)
        raise ParseFailure(position, '"," or ")"')


def _parse_array(operand: str, offset: int) -> tuple[str, ...]:
    """The items of a PostgreSQL array literal ``{a,"b,c"}`` given to ``(any)``/``(all)``."""
    if not operand.startswith("{"):
        raise ParseFailure(offset, "an array literal {a,b,...}")
    if operand == "{}":
        return ()
    items: list[str] = []
    position = 1
    while True:
        match = _ARRAY_ITEM.match(operand, position)
        if match is None:
            raise ParseFailure(offset + position, "an array item")
        quoted, bare, separator = match.groups()
        items.append(unescape(quoted) if quoted is not None else bare)
        position = match.end()
        if separator == "}":
            if position != len(operand):
                raise ParseFailure(offset + position, "end of input")
            return tuple(items)


def _read_tree(text: str, position: int, depth: int) -> tuple[Filter | LogicTree, int]:
    """One logic tree item: a ``field.op.value`` filter or ``[not.]and|or(items)``."""
    if depth > MAX_DEPTH:
        raise ParseFailure(position, f"at most {MAX_DEPTH} levels of nesting")
    position = skip_whitespace(text, position)
    negated = text.startswith("not.", position)
    start = position + 4 if negated else position
    for operator in ("and", "or"):
        if text.startswith(operator + "(", start) or text.startswith(operator + " (", start):
            return _read_children(text, start + len(operator), depth, operator, negated)
    field, position = read_field(text, position)
    if not text.startswith(".", position):
        raise ParseFailure(position, 'delimiter (.) or logic operator (and, or) followed by "("')
    filter_, position = _read_operation(field, text, position + 1, _read_logic_value)
    return filter_, skip_whitespace(text, position)


def _read_children(
    text: str, position: int, depth: int, operator: Literal["and", "or"], negated: bool
) -> tuple[LogicTree, int]:
    position = skip_whitespace(text, position) + 1  # the "(" the caller saw
    children: list[Filter | LogicTree] = []
    while True:
        child, position = _read_tree(text, position, depth + 1)
        children.append(child)
        position = skip_whitespace(text, position)
        if text.startswith(",", position):
            position += 1
            continue
        if text.startswith(")", position):
            tree = LogicTree(operator, tuple(children), negated)
            return tree, skip_whitespace(text, position + 1)
        raise ParseFailure(position, '"," or ")"')
