"""The grammar stage: an HTTP request to the data API → a typed ``ApiRequest``.

PostgREST's query grammar, parsed without I/O or the schema snapshot. One module per
part of the request::

    request.py        method, path, profile headers → target, action, schema; assembles
    query_params.py   the query string → select, filters, logic, order, ranges, ...
    select.py         select=...
    filters.py        col=op.value, or=(...), and=(...)
    order.py          order=...
    syntax.py         names, quoted values, JSON paths, the parse error
    ranges.py         Range header + limit/offset
    preferences.py    Prefer
    media_types.py    Accept
    types.py          the values all of the above produce
    raw_shape.py      the query string with simple filters' operands masked (cache keys)

>>> parse_request("GET", "/books", "select=title", {}, None, exposed_schemas=("public",)).select
(ColumnItem(field=Field(name='title', json_path=()), alias=None, cast=None),)
"""

from dbify.dataplane.grammar.request import parse_request

__all__ = ["parse_request"]
