"""SQL for the WHERE side of a read: fields, filters and logic trees.

How values reach SQL (one form everywhere): each value is a text bind parameter,
written ``$n::text`` so the driver sends a Python ``str``, then cast to the compared
type: ``"books"."id" = $1::text::integer``. The cast of a parameter is evaluated once
per execution, so ``id = $1::text::integer`` is still an index condition. Lists
(``in``, ``any``/``all``) are ``$n::text[]::integer[]``. JSON path keys are parameters
too (``"data"->$2::text``), so the SQL text depends only on the request's shape.
Comparisons on a ``->>`` path are on text; on a ``->`` path on ``jsonb``.

This module does not decide which tables are joined: ``sql/read.py`` does, and gives
each node's alias and each embed's presence expression.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbify.dataplane.plan.types import (
    Condition,
    ConditionTree,
    EmbedPresence,
    FieldRef,
    Predicate,
)
from dbify.dataplane.sql.identifiers import quote_ident
from dbify.dataplane.sql.statement import Param
from dbify.errors import Codes, DbifyError


class BindParams:
    """The parameters of one statement being built, numbered ``$1``, ``$2``... in
    the order they are added. One instance per build call: never shared."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[Param] = []

    def add(self, value: Param) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


_BINARY = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "isdistinct": "IS DISTINCT FROM",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
}
_PATTERN = {"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}
_TEXT_SEARCH = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
_IS = {
    "null": "IS NULL",
    "not_null": "IS NOT NULL",
    "true": "IS TRUE",
    "false": "IS FALSE",
    "unknown": "IS UNKNOWN",
}


def field_sql(ref: FieldRef, alias: str, params: BindParams) -> str:
    """``"alias"."column"`` followed by its JSON path, keys as parameters."""
    sql = f"{alias}.{quote_ident(ref.column.name)}"
    for step in ref.json_path:
        key = params.add(str(step.key))
        cast = "::text" if isinstance(step.key, str) else "::text::integer"
        sql += f"{step.arrow}{key}{cast}"
    return sql


def predicate_sql(
    predicate: Predicate, alias: str, presence: Mapping[str, str], params: BindParams
) -> str:
    """The boolean SQL of one predicate of the node aliased ``alias``.

    ``presence`` maps an embed label to an expression that is NULL when the embed has
    no row (``EmbedPresence``).
    """
    if isinstance(predicate, EmbedPresence):
        test = "IS NOT NULL" if predicate.present else "IS NULL"
        return f"{presence[predicate.label]} {test}"
    if isinstance(predicate, ConditionTree):
        joiner = " AND " if predicate.operator == "and" else " OR "
        parts = [predicate_sql(c, alias, presence, params) for c in predicate.children]
        empty = "TRUE" if predicate.operator == "and" else "FALSE"
        inner = joiner.join(parts) if parts else empty
        return f"NOT ({inner})" if predicate.negated else f"({inner})"
    sql = _condition_sql(predicate, alias, params)
    return f"NOT ({sql})" if predicate.negated else sql


def _condition_sql(cond: Condition, alias: str, params: BindParams) -> str:
    lhs = field_sql(cond.field, alias, params)
    if cond.field.json_path and not cond.field.is_text_path:
        lhs, value_type = f"({lhs})::jsonb", "jsonb"
    elif cond.field.json_path:
        value_type = "text"
    else:
        value_type = cond.field.column.data_type
    op = cond.operator
    if op == "is":
        test = _IS.get(cond.value) if isinstance(cond.value, str) else None
        if test is None:
            raise DbifyError(Codes.INVALID_FILTERS, f"Invalid value for is: '{cond.value}'")
        return f"{lhs} {test}"
    if op in _TEXT_SEARCH:
        return _text_search_sql(cond, lhs, value_type, params)
    if op == "in":
        items = list(cond.value) if isinstance(cond.value, tuple) else [cond.value]
        return f"{lhs} = ANY({params.add(items)}::text[]::{value_type}[])"
    if op in _PATTERN:
        sql_op, value_type = _PATTERN[op], "text"
    else:
        sql_op = _BINARY[op]
    if cond.quantifier is not None:
        items = list(cond.value) if isinstance(cond.value, tuple) else [cond.value]
        if op in ("like", "ilike"):
            items = [i.replace("*", "%") for i in items]
        quantifier = cond.quantifier.upper()
        return f"{lhs} {sql_op} {quantifier}({params.add(items)}::text[]::{value_type}[])"
    value = cond.value if isinstance(cond.value, str) else ",".join(cond.value)
    if op in ("like", "ilike"):
        value = value.replace("*", "%")
    placeholder = params.add(value)
    if op == "cs" and _is_range_element(cond, value):
        return f"{lhs} @> {_singleton_range(placeholder, value_type)}"
    rhs = f"{placeholder}::text" if value_type == "text" else f"{placeholder}::text::{value_type}"
    return f"{lhs} {sql_op} {rhs}"


def _text_search_sql(cond: Condition, lhs: str, value_type: str, params: BindParams) -> str:
    function = _TEXT_SEARCH[cond.operator]
    language = None
    if cond.language is not None:
        language = f"{params.add(cond.language)}::text::regconfig"
    if value_type != "tsvector":
        lhs = f"to_tsvector({language}, {lhs})" if language else f"to_tsvector({lhs})"
    value = cond.value if isinstance(cond.value, str) else ",".join(cond.value)
    query = params.add(value)
    args = f"{language}, {query}::text" if language else f"{query}::text"
    return f"{lhs} @@ {function}({args})"


def _is_range_element(cond: Condition, value: str) -> bool:
    """``during=cs.2020-01-01``: a range column tested for one element, not a range."""
    stripped = value.strip()
    return (
        cond.field.column.type_category == "R"
        and not cond.field.json_path
        and not stripped.startswith(("[", "("))
        and stripped.lower() != "empty"
    )


def _singleton_range(placeholder: str, range_type: str) -> str:
    """``[v,v]`` of ``range_type``: containing it is containing the element ``v``, and it
    needs no knowledge of the range's subtype. The bound is double-quoted (escaping
    ``\\`` and ``"``) so any element text is read verbatim."""
    # E'' strings read the same whatever standard_conforming_strings says.
    escaped = rf"""replace(replace({placeholder}::text, E'\\', E'\\\\'), '"', E'\\"')"""
    bound = f"""'"' || {escaped} || '"'"""
    return f"('[' || {bound} || ',' || {bound} || ']')::{range_type}"
