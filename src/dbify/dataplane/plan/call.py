"""Planning a function call: ``ApiRequest`` for ``/rpc/f`` + ``SchemaSnapshot`` → ``CallPlan``.

A chain of small passes, as PostgREST's ``callReadPlan``: find the overloads of the
name, pick the one the argument names select (``findProc``'s rules), bind each given
argument to its parameter (the others take their defaults), decide the transaction
mode, and shape the result: a function returning rows (``SETOF books``, ``books``,
``TABLE (...)``, OUT parameters) becomes a ``ReadPlan`` whose root reads from the call,
so ``select``, filters, ``order``, ranges, counts and embeds work as on a table.

This module does no I/O and builds no SQL.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Literal

from dbify.dataplane.grammar.arguments import CallArguments, parse_call_arguments
from dbify.dataplane.grammar.types import ApiRequest, MediaType, Range
from dbify.dataplane.plan.access import AccessPolicy, require_function
from dbify.dataplane.plan.read import UNDEFINED_COLUMN, plan_read
from dbify.dataplane.plan.types import CallArgument, FunctionCall, ReadPlan
from dbify.errors import Codes, DbifyError
from dbify.schema.model import (
    Column,
    Function,
    FunctionParameter,
    QualifiedName,
    Relation,
    SchemaSnapshot,
)

ResultShape = Literal["rows", "scalar", "record", "void"]
"""``rows``: columns known (a table's row type, ``TABLE``/OUT parameters), read through
a ``ReadPlan``; ``scalar``: one value per row (base types, arrays, enums); ``record``:
a composite whose columns Dbify does not know, returned whole; ``void``: nothing."""

# The body types a single unnamed parameter accepts, by the body's media (PostgREST's
# ``hasSingleUnnamedParam``).
_UNNAMED_TYPES = {"json": ("json", "jsonb"), "text": ("text",), "xml": ("xml",)}
_OUTPUT_MODES = ("out", "inout", "table")


@dataclass(frozen=True, slots=True)
class CallPlan:
    """A resolved call.

    ``read`` is set for ``rows`` results (its root's ``call`` is ``call``); ``range``
    applies to ``scalar`` and ``record`` sets. ``read_only`` runs the call in a READ
    ONLY transaction: every GET/HEAD, and a POST to a STABLE or IMMUTABLE function.
    """

    call: FunctionCall
    shape: ResultShape
    returns_set: bool
    read_only: bool
    read: ReadPlan | None = None
    range: Range = field(default_factory=Range)

    def body_media_type(self, requested: MediaType) -> MediaType:
        """The body to build: a set of rows as the client asked, a single row as one
        object (PostgREST returns a composite as an object, not an array) or CSV,
        scalars and opaque records as JSON."""
        if self.shape != "rows":
            return "json"
        if self.returns_set:
            return requested
        return "csv" if requested == "csv" else "object"

    def response_media_type(self, requested: MediaType) -> MediaType:
        """The ``Content-Type`` of the answer: JSON unless rows were asked as CSV or as
        one object."""
        if self.shape == "rows" and requested in ("csv", "object"):
            return requested
        return "json"


def plan_call(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    *,
    max_rows: int | None = None,
    policy: AccessPolicy | None = None,
) -> CallPlan:
    """Resolve a call of ``request.target`` against ``snapshot``.

    Raises ``DbifyError``: PGRST202 (404) no function of that name takes these
    arguments, PGRST203 (300) several do, PGRST102/PGRST107 for a body the call cannot
    take, and the read plan's errors for ``select``/filters on a result with columns.
    With an access role (``policy``), a function it may not call is a 42501 before
    anything about the function is revealed; embeds on the result are checked as reads.
    """
    name = request.target.name
    require_function(policy, QualifiedName(request.schema, name))
    overloads = snapshot.function_overloads(request.schema, name)
    arguments = parse_call_arguments(
        request.method, request.raw_params, request.body, request.content_type
    )
    function, positional = _choose_overload(request, snapshot, overloads, arguments)
    call = _bind(function, arguments, positional)
    read_only = request.method in ("GET", "HEAD") or function.volatility != "volatile"
    shape, columns = _shape(function, snapshot)
    if shape == "rows" and columns is not None:
        read = plan_read(
            request, snapshot, max_rows=max_rows, source=columns, policy=policy, root_privilege=None
        )
        read = replace(read, call=call)
        return CallPlan(call, shape, function.returns_set, read_only, read=read)
    _refuse_columns_parameters(request, function)
    top = request.range_at(()) or Range()
    if max_rows is not None and function.returns_set:
        top = Range(top.offset, max_rows if top.limit is None else min(top.limit, max_rows))
    return CallPlan(call, shape, function.returns_set, read_only, range=top)


# --- overload resolution ------------------------------------------------------------


def _choose_overload(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    overloads: tuple[Function, ...],
    arguments: CallArguments,
) -> tuple[Function, bool]:
    """The function the arguments select, and whether it takes the body positionally."""
    if request.preferences.params == "single-object" and arguments.media == "json":
        single = [f for f in overloads if _single_json_parameter(f) is not None]
        if len(single) == 1:
            return single[0], True
    keys = frozenset(arguments.names)
    posted_raw = request.method == "POST" and arguments.media in ("text", "xml")
    named = [f for f in overloads if not posted_raw and _matches(f, keys, arguments)]
    unnamed = [f for f in overloads if _takes_body_unnamed(f, request.method, arguments)]
    if len(named) == 1:
        return named[0], False
    if len(named) > 1:
        raise _ambiguous(named)
    if len(unnamed) == 1:
        return unnamed[0], True
    if len(unnamed) > 1:
        raise _ambiguous(unnamed)
    raise _not_found(request, snapshot, overloads, arguments)


def _matches(function: Function, keys: frozenset[str], arguments: CallArguments) -> bool:
    """PostgREST's ``matchesParams``: the required parameters are all given and every
    other key names an optional one."""
    parameters = function.input_parameters
    if not parameters:
        return not keys
    if any(not p.name for p in parameters):
        return False
    if arguments.media == "json" and not arguments.is_object:
        return False
    required = {p.name for p in parameters if not p.has_default}
    optional = {p.name for p in parameters if p.has_default}
    return keys - optional == required


def _takes_body_unnamed(function: Function, method: str, arguments: CallArguments) -> bool:
    parameters = function.input_parameters
    if method != "POST" or len(parameters) != 1 or parameters[0].name:
        return False
    return parameters[0].data_type in _UNNAMED_TYPES.get(arguments.media, ())


def _single_json_parameter(function: Function) -> FunctionParameter | None:
    parameters = function.input_parameters
    if len(parameters) == 1 and parameters[0].data_type in ("json", "jsonb"):
        return parameters[0]
    return None


def _signature(function: Function) -> str:
    inner = ", ".join(f"{p.name} => {p.data_type}" for p in function.input_parameters)
    return f"{function.name}({inner})"


def _ambiguous(candidates: list[Function]) -> DbifyError:
    listed = ", ".join(_signature(f) for f in candidates)
    return DbifyError(
        Codes.AMBIGUOUS_FUNCTION,
        f"Could not choose the best candidate function between: {listed}",
        hint="Try renaming the parameters or the function itself in the database so"
        " function overloading can be resolved",
    )


def _not_found(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    overloads: tuple[Function, ...],
    arguments: CallArguments,
) -> DbifyError:
    """PostgREST's ``NoRpc``: message and details name the keys, the hint a close
    function name or a close parameter list."""
    function = f"{request.schema}.{request.target.name}"
    keys = sorted(arguments.names)
    raw_body = request.method == "POST" and arguments.media in ("text", "xml")
    listed = f"({', '.join(keys)})" if keys else " without parameters"
    searched = f" with parameter{'s' if len(keys) > 1 else ''} {', '.join(keys)}"
    searched = searched if keys else " without parameters"
    if raw_body:
        listed, searched = "", f" with a single unnamed {arguments.media} parameter"
    elif request.method == "POST" and arguments.media == "json":
        searched += " or with a single unnamed json/jsonb parameter"
    hint = None if raw_body else _not_found_hint(request, snapshot, overloads, keys)
    return DbifyError(
        Codes.FUNCTION_NOT_FOUND,
        f"Could not find the function {function}{listed} in the schema cache",
        f"Searched for the function {function}{searched}, but no matches were found in"
        " the schema cache.",
        hint,
    )


def _not_found_hint(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    overloads: tuple[Function, ...],
    keys: list[str],
) -> str | None:
    prefix = f"Perhaps you meant to call the function {request.schema}."
    if not overloads:
        names = sorted({q.name for q in snapshot.functions if q.schema == request.schema})
        close = difflib.get_close_matches(request.target.name, names, n=1)
        return prefix + close[0] if close else None
    lists = {
        "(" + ", ".join(sorted(p.name for p in f.input_parameters)) + ")": f for f in overloads
    }
    close = difflib.get_close_matches("(" + ", ".join(keys) + ")", list(lists), n=1, cutoff=0)
    return prefix + request.target.name + close[0] if close else None


# --- binding ------------------------------------------------------------------------


def _bind(function: Function, arguments: CallArguments, positional: bool) -> FunctionCall:
    """The arguments given, in declaration order; each GET/form value is the last one
    given for its name, except a variadic parameter's, which collects them all."""
    parameters = function.input_parameters
    if positional:
        value = arguments.raw if arguments.media != "json" else arguments.json
        return FunctionCall(function, (CallArgument(parameters[0], value or ""),), positional=True)
    given = set(arguments.names)
    bound: list[CallArgument] = []
    for parameter in parameters:
        if parameter.name not in given:
            continue
        if arguments.media == "json":
            bound.append(CallArgument(parameter))
            continue
        values = tuple(v for k, v in arguments.texts if k == parameter.name)
        bound.append(
            CallArgument(parameter, values if parameter.mode == "variadic" else values[-1])
        )
    body = arguments.json if arguments.media == "json" and bound else None
    return FunctionCall(function, tuple(bound), body=body)


# --- result shape -------------------------------------------------------------------


def _shape(function: Function, snapshot: SchemaSnapshot) -> tuple[ResultShape, Relation | None]:
    """How the result is returned, and the relation describing its columns if known."""
    if function.return_type == "void":
        return "void", None
    if function.returns_scalar:
        return "scalar", None
    if function.return_relation is not None:
        relation = snapshot.relations.get(function.return_relation)
        if relation is not None:
            return "rows", relation
    outputs = [p for p in function.parameters if p.mode in _OUTPUT_MODES]
    if outputs:
        return "rows", _output_relation(function, outputs)
    return "record", None


def _output_relation(function: Function, outputs: list[FunctionParameter]) -> Relation:
    """The columns of a ``RETURNS TABLE (...)`` or OUT-parameter result, as a relation
    named like the function (filters and ``select`` resolve against it)."""
    columns = tuple(
        Column(
            name=p.name,
            position=i,
            data_type=p.data_type,
            type_name=p.data_type,
            type_category="A" if p.data_type.endswith("[]") else "X",
            nullable=True,
        )
        for i, p in enumerate(outputs, start=1)
    )
    return Relation(function.name, "view", columns)


def _refuse_columns_parameters(request: ApiRequest, function: Function) -> None:
    """``select``, filters and ``order`` need columns; a scalar or opaque result has none."""
    name = function.name.name
    for _, item in request.filters:
        raise DbifyError(UNDEFINED_COLUMN, f"column {name}.{item.field.name} does not exist")
    if request.logic or request.order:
        raise DbifyError(
            Codes.INVALID_QUERY_PARAM,
            f"The result of {function.name} has no columns to filter or order by",
        )
