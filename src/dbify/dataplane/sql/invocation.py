"""SQL for invoking a function: the FROM item ``"public"."f"("a" := $1::text::integer)``.

Arguments are passed in named notation, only those given, so PostgreSQL fills in the
defaults of the others; a single unnamed parameter (or ``Prefer: params=single-object``)
is passed by position. Values follow the house form (``sql/conditions.py``): a text
parameter cast to the parameter's type, ``$n::text[]::integer[]`` for a variadic list.
A JSON body is one parameter expanded by PostgreSQL, as PostgREST does, so JSON arrays,
objects and numbers become ``integer[]``, ``jsonb`` or ``numeric`` without Dbify parsing
them::

    json_to_record($1::text::json) AS "_dbify_args"("a" integer, "numbers" integer[])
    CROSS JOIN LATERAL "public"."f"("a" := "_dbify_args"."a",
                                    VARIADIC "numbers" := "_dbify_args"."numbers") AS "f"

Type names come from the schema snapshot (``format_type``), never from the request.
This module does not decide which function is called: ``plan/call.py`` does.
"""

from __future__ import annotations

from dbify.dataplane.plan.types import CallArgument, FunctionCall
from dbify.dataplane.sql.conditions import BindParams
from dbify.dataplane.sql.identifiers import quote_ident, quote_qualified

_ARGS = '"_dbify_args"'


def call_source_sql(call: FunctionCall, alias: str, params: BindParams) -> str:
    """FROM items that invoke ``call``, the function's result named ``alias`` (quoted,
    optionally with a column list such as ``"_c"("_value")``)."""
    name = quote_qualified(call.function.name)
    if call.positional:
        (argument,) = call.arguments
        value = argument.value if isinstance(argument.value, str) else ""
        return f"{name}({params.add(value)}::text::{argument.parameter.data_type}) AS {alias}"
    from_body = [a for a in call.arguments if a.value is None]
    head = ""
    if from_body:
        record = ", ".join(
            f"{quote_ident(a.parameter.name)} {a.parameter.data_type}" for a in from_body
        )
        body = params.add(call.body or "{}")
        head = f"json_to_record({body}::text::json) AS {_ARGS}({record}) CROSS JOIN LATERAL "
    arguments = ", ".join(_argument_sql(a, params) for a in call.arguments)
    return f"{head}{name}({arguments}) AS {alias}"


def _argument_sql(argument: CallArgument, params: BindParams) -> str:
    parameter = argument.parameter
    prefix = "VARIADIC " if parameter.mode == "variadic" else ""
    value = argument.value
    if value is None:
        expression = f"{_ARGS}.{quote_ident(parameter.name)}"
    elif isinstance(value, tuple):
        expression = f"{params.add(list(value))}::text[]::{parameter.data_type}"
    else:
        expression = f"{params.add(value)}::text::{parameter.data_type}"
    return f"{prefix}{quote_ident(parameter.name)} := {expression}"
