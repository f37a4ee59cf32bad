"""Functions added to the library snapshot for call-plan and call-SQL tests, and a helper
that parses a ``/rpc`` request the way the pipeline does."""

from __future__ import annotations

from dataclasses import replace

from tests.dataplane.plan.library import SNAPSHOT

from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.types import ApiRequest
from dbify.schema.model import (
    Function,
    FunctionParameter,
    QualifiedName,
    SchemaSnapshot,
    Volatility,
)


def _function(
    name: str,
    *parameters: FunctionParameter,
    returns: str = "integer",
    returns_set: bool = False,
    scalar: bool = True,
    volatility: Volatility = "stable",
    relation: str | None = None,
) -> Function:
    return Function(
        name=QualifiedName("public", name),
        parameters=parameters,
        return_type=returns,
        returns_set=returns_set,
        returns_scalar=scalar,
        volatility=volatility,
        return_relation=QualifiedName("public", relation) if relation else None,
    )


def _in(name: str, data_type: str = "integer", default: bool = False) -> FunctionParameter:
    return FunctionParameter(name, data_type, default)


FUNCTIONS = [
    _function("add", _in("a"), _in("b")),
    _function("greet", returns="text"),
    _function("greet", _in("name", "text"), returns="text"),
    _function("pick", _in("x", "text"), returns="text"),
    _function("pick", _in("x", "integer"), returns="text"),
    _function("page", _in("size", default=True), _in("from", default=True)),
    _function("find", _in("q", "text"), _in("max", "numeric", default=True)),
    _function(
        "search", _in("q", "text"), returns="books", returns_set=True, scalar=False,
        relation="books",
    ),
    _function("author_of", _in("id"), returns="authors", scalar=False, relation="authors"),
    _function(
        "counts",
        FunctionParameter("min", "integer", True),
        FunctionParameter("author_id", "integer", mode="table"),
        FunctionParameter("n", "bigint", mode="table"),
        returns="record", returns_set=True, scalar=False,
    ),
    _function("total", FunctionParameter("numbers", "integer[]", mode="variadic")),
    _function("echo", _in("", "json"), returns="json"),
    _function("shout", _in("", "text"), returns="text"),
    _function("keys", _in("payload", "jsonb"), returns="text[]"),
    _function("make_tag", _in("name", "text"), volatility="volatile"),
    _function("nothing", returns="void", scalar=False, volatility="volatile"),
    _function("series", _in("n"), returns_set=True),
    _function("opaque", returns="record", scalar=False),
]  # fmt: skip


def _with_functions(snapshot: SchemaSnapshot) -> SchemaSnapshot:
    by_name: dict[QualifiedName, tuple[Function, ...]] = {}
    for f in FUNCTIONS:
        by_name[f.name] = (*by_name.get(f.name, ()), f)
    return replace(snapshot, functions=by_name)


CALL_SNAPSHOT = _with_functions(SNAPSHOT)


def call_request(
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> ApiRequest:
    """``/rpc/<path>`` parsed as the pipeline parses it."""
    name, _, query = path.partition("?")
    return parse_request(
        method, f"/rpc/{name}", query, headers or {}, body, exposed_schemas=("public",)
    )
