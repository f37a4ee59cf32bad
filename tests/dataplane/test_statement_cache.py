"""The statement cache serves exactly what planning and building afresh would.

Property: for every compatibility case (``tests/compat/test_reads.py``), under several
media types and count preferences, a statement served from the cache for a second set
of values equals ``build_read(plan_read(...))`` of that request; and requests that
differ in anything but bound values never share a statement. The same for reads served
from a remembered raw shape (``memoized_read``) against parsing afresh.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.compat.test_reads import CASES

from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.raw_shape import RawShape, raw_request_shape
from dbify.dataplane.grammar.types import ApiRequest, Filter, LogicTree, Range
from dbify.dataplane.plan import plan_read
from dbify.dataplane.sql import ReadStatement, build_read
from dbify.dataplane.statement_cache import StatementCache
from dbify.errors import DbifyError
from dbify.schema.model import SchemaSnapshot

_HEADERS: list[dict[str, str]] = [
    {},
    {"accept": "text/csv"},
    {"accept": "application/vnd.pgrst.object+json"},
    {"prefer": "count=exact"},
    {"prefer": "count=planned"},
]


@pytest.fixture
def snapshot(fixture_snapshot: SchemaSnapshot) -> SchemaSnapshot:
    return fixture_snapshot


def _request(query: str, headers: dict[str, str] | None = None) -> ApiRequest:
    path, _, query_string = query.partition("?")
    return parse_request(
        "GET", "/" + path, query_string, headers or {}, None, exposed_schemas=("public",)
    )


def _fresh(request: ApiRequest, snapshot: SchemaSnapshot, max_rows: int | None) -> ReadStatement:
    plan = plan_read(request, snapshot, max_rows=max_rows)
    return build_read(plan, media_type=request.media_type, count=request.preferences.count)


def _vary_value(value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value + "7"
    return (*value, "8")


def _vary_filter(item: Filter) -> Filter:
    return replace(item, value=_vary_value(item.value)) if item.operator != "is" else item


def _vary_tree(tree: LogicTree) -> LogicTree:
    children = tuple(
        _vary_tree(c) if isinstance(c, LogicTree) else _vary_filter(c) for c in tree.children
    )
    return replace(tree, children=children)


def _vary(request: ApiRequest) -> ApiRequest:
    """The same shape with other values (every string, list, limit and offset)."""
    ranges = tuple(
        (p, Range(r.offset and r.offset + 3, None if r.limit is None else r.limit + 2))
        for p, r in request.ranges
    )
    return replace(
        request,
        filters=tuple((p, _vary_filter(f)) for p, f in request.filters),
        logic=tuple((p, _vary_tree(t)) for p, t in request.logic),
        ranges=ranges,
    )


def _served(
    cache: StatementCache, request: ApiRequest, snapshot: SchemaSnapshot, max_rows: int | None
) -> ReadStatement | DbifyError:
    try:
        return cache.read_statement(request, snapshot, max_rows=max_rows)
    except DbifyError as error:
        return error


def _expected(
    request: ApiRequest, snapshot: SchemaSnapshot, max_rows: int | None
) -> ReadStatement | DbifyError:
    try:
        return _fresh(request, snapshot, max_rows)
    except DbifyError as error:
        return error


def _same(a: ReadStatement | DbifyError, b: ReadStatement | DbifyError) -> bool:
    if isinstance(a, DbifyError) or isinstance(b, DbifyError):
        return type(a) is type(b) and str(a) == str(b)
    return a == b


@pytest.mark.parametrize("headers", _HEADERS, ids=lambda h: ",".join(h.values()) or "plain")
@pytest.mark.parametrize("max_rows", [None, 3])
def test_cached_statements_equal_fresh_builds(
    snapshot: SchemaSnapshot, headers: dict[str, str], max_rows: int | None
) -> None:
    cache = StatementCache()
    hits = 0
    for case in CASES:
        first = _request(case.query, headers)
        second = _vary(first)
        for request in (first, second, first):
            served = _served(cache, request, snapshot, max_rows)
            assert _same(served, _expected(request, snapshot, max_rows)), case.query
        hits += cache._entries.get(next(reversed(cache._entries))) is not None
    assert hits >= len(CASES) * 3 // 4  # most shapes are cacheable


@pytest.mark.parametrize(
    ("first", "second", "headers"),
    [
        ("books?in_stock=is.null", "books?in_stock=is.true", {}),
        ("books?id=in.(1,2)", "books?id=eq.1", {}),
        ("books?id=eq.1", "books?id=neq.1", {}),
        ("books?id=eq.1", "books?id=not.eq.1", {}),
        ("books?id=eq.1", "books?title=eq.1", {}),
        ("books?id=eq.1", "books?id=eq.1", {"accept": "text/csv"}),
        ("books?id=eq.1", "books?id=eq.1", {"prefer": "count=exact"}),
        ("books?id=eq.1", "books?id=eq.1", {"accept-profile": "public"}),
        ("books?limit=5", "books?limit=5&offset=2", {}),
        ("books?limit=5", "books", {}),
        ("books?select=id&id=eq.1", "books?select=title&id=eq.1", {}),
        ("books?title=like.A*", "books?title=like.B", {}),
        ("books?order=id", "books?order=id.desc", {}),
        ("orders?quantity_range=cs.5", "orders?quantity_range=cs.[1,3]", {}),
        ("orders?quantity_range=cs.[1,3]", "orders?quantity_range=cs.5", {}),
        ("orders?quantity_range=cs.(1,3)", "orders?quantity_range=cs.[2,9]", {}),
    ],
)
def test_other_shapes_are_never_served(
    snapshot: SchemaSnapshot, first: str, second: str, headers: dict[str, str]
) -> None:
    cache = StatementCache()
    cache.read_statement(_request(first), snapshot, max_rows=None)
    request = _request(second, headers)
    assert cache.read_statement(request, snapshot, max_rows=None) == _fresh(request, snapshot, None)


def test_a_hit_substitutes_values(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache()
    cache.read_statement(_request("books?id=in.(1,2)&limit=5&offset=1"), snapshot, max_rows=None)
    served = cache.read_statement(
        _request("books?id=in.(3,4,5)&limit=6&offset=9"), snapshot, max_rows=None
    )
    assert len(cache) == 1
    assert served.main.params == (["3", "4", "5"], "6", "9")


def test_max_rows_keeps_the_root_limit_in_the_shape(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache()
    for query in ("books?limit=2", "books?limit=50", "books"):
        request = _request(query)
        assert cache.read_statement(request, snapshot, max_rows=10) == _fresh(request, snapshot, 10)
    assert len(cache) == 3


def test_a_new_snapshot_empties_the_cache(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache()
    cache.read_statement(_request("books?id=eq.1"), snapshot, max_rows=None)
    other = replace(snapshot, relations={})
    with pytest.raises(DbifyError):
        cache.read_statement(_request("books?id=eq.1"), other, max_rows=None)
    assert len(cache) == 0


def test_the_cache_is_bounded(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache(size=2)
    for column in ("id", "title", "price"):
        cache.read_statement(_request(f"books?{column}=eq.1"), snapshot, max_rows=None)
    assert len(cache) == 2


def test_size_zero_disables_it(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache(size=0)
    request = _request("books?id=eq.1")
    assert cache.read_statement(request, snapshot, max_rows=None) == _fresh(request, snapshot, None)
    assert len(cache) == 0


# --- raw shapes: repeated reads answered without parsing --------------------------------


def _raw(query: str, headers: dict[str, str]) -> tuple[str, str, RawShape | None]:
    path, _, query_string = query.partition("?")
    return "/" + path, query_string, raw_request_shape("GET", "/" + path, query_string, headers)


def _vary_operands(query_string: str) -> str:
    """Each masked operand (of eq, neq, gt, gte, lt, lte) with a digit appended."""
    parts = []
    for part in query_string.split("&"):
        key, _, value = part.partition("=")
        prefix = "not." if value.startswith("not.") else ""
        operator, _, operand = value.removeprefix(prefix).partition(".")
        if operator in ("eq", "neq", "gt", "gte", "lt", "lte") and key not in ("select",):
            part = f"{key}={prefix}{operator}.{operand}7"
        parts.append(part)
    return "&".join(parts)


@pytest.mark.parametrize("headers", _HEADERS, ids=lambda h: ",".join(h.values()) or "plain")
@pytest.mark.parametrize("max_rows", [None, 3])
def test_memoized_reads_equal_parsing_afresh(
    snapshot: SchemaSnapshot, headers: dict[str, str], max_rows: int | None
) -> None:
    """For every compatibility case: once a raw shape was read, the same shape with other
    operands is served from the memo exactly as parsing, planning and building would."""
    cache = StatementCache()
    memoized = 0
    for case in CASES:
        path, query_string, raw = _raw(case.query, headers)
        if raw is None:
            continue
        try:
            first = parse_request(
                "GET", path, query_string, headers, None, exposed_schemas=("public",)
            )
            cache.read_statement(first, snapshot, max_rows=max_rows, raw=raw)
        except DbifyError:
            assert cache.memoized_read(raw, snapshot, max_rows=max_rows) is None
            continue
        varied = _vary_operands(query_string)
        varied_raw = raw_request_shape("GET", path, varied, headers)
        assert varied_raw is not None
        assert varied_raw[0] == raw[0], case.query
        served = cache.memoized_read(varied_raw, snapshot, max_rows=max_rows)
        if served is None:
            continue
        memoized += 1
        request = parse_request("GET", path, varied, headers, None, exposed_schemas=("public",))
        assert served[1] == _fresh(request, snapshot, max_rows), case.query
        memo_request = served[0]
        assert memo_request.media_type == request.media_type
        assert memo_request.preferences == request.preferences
        assert memo_request.action == request.action
        assert memo_request.range_at(()) == request.range_at(())
    assert memoized >= 30  # the cases with simple filters only are memoized


@pytest.mark.parametrize(
    "query",
    [
        "books?title=like.A*",
        "books?id=in.(1,2)",
        "books?in_stock=is.true",
        "books?title=eq.a%20b",
        "books?title=eq.a+b",
        'books?title=eq."x"',
        "books?id=eq.",
        "books?or=(id.eq.1,id.eq.2)&id=eq(any).{1,2}",
    ],
)
def test_filters_that_are_not_masked_take_the_parsing_path(query: str) -> None:
    assert _raw(query, {})[2] is None


def test_equal_operands_are_not_memoized(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache()
    path, query_string, raw = _raw("books?id=eq.5&author_id=eq.5", {})
    assert raw is not None
    request = parse_request("GET", path, query_string, {}, None, exposed_schemas=("public",))
    cache.read_statement(request, snapshot, max_rows=None, raw=raw)
    assert cache.memoized_read(raw, snapshot, max_rows=None) is None
    # The same shape with distinct operands is memoized, and fills them in their places.
    _, query_string, raw = _raw("books?id=eq.5&author_id=eq.6", {})
    assert raw is not None
    request = parse_request("GET", path, query_string, {}, None, exposed_schemas=("public",))
    cache.read_statement(request, snapshot, max_rows=None, raw=raw)
    _, varied, other = _raw("books?id=eq.8&author_id=eq.9", {})
    assert other is not None
    served = cache.memoized_read(other, snapshot, max_rows=None)
    assert served is not None
    fresh = parse_request("GET", path, varied, {}, None, exposed_schemas=("public",))
    assert served[1] == _fresh(fresh, snapshot, None)


def test_memo_keys_hold_headers_max_rows_and_snapshot(snapshot: SchemaSnapshot) -> None:
    cache = StatementCache()
    path, query_string, raw = _raw("books?id=eq.5", {})
    assert raw is not None
    request = parse_request("GET", path, query_string, {}, None, exposed_schemas=("public",))
    cache.read_statement(request, snapshot, max_rows=None, raw=raw)
    assert cache.memoized_read(raw, snapshot, max_rows=None) is not None
    assert cache.memoized_read(raw, snapshot, max_rows=10) is None
    assert _raw("books?id=eq.5", {"accept": "text/csv"})[2] != raw
    assert cache.memoized_read(raw, replace(snapshot), max_rows=None) is None
