"""The insert cache serves exactly what planning and building afresh would.

For a range of insert shapes (representation with embeds, upserts, ``columns=``,
``missing=default``, bulk bodies, CSV), a second insert of the same shape with other
values gets the same plan and statement as ``plan_mutate``+``build_mutate`` of it; other
shapes never share an entry. The same for PATCH and DELETE with masked filter operands;
PUT is never cached.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dbify.dataplane.grammar import parse_request
from dbify.dataplane.grammar.payload import Payload, parse_payload
from dbify.dataplane.grammar.raw_shape import RawShape, raw_request_shape, with_operands
from dbify.dataplane.grammar.types import ApiRequest
from dbify.dataplane.plan.mutate import MutatePlan, plan_mutate
from dbify.dataplane.sql.mutate import build_mutate
from dbify.dataplane.sql.statement import Statement
from dbify.dataplane.write_cache import NotMemoized, Reparse, WriteCache
from dbify.errors import DbifyError
from dbify.schema.model import SchemaSnapshot


@pytest.fixture
def snapshot(fixture_snapshot: SchemaSnapshot) -> SchemaSnapshot:
    return fixture_snapshot


def _write(
    method: str, target: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[ApiRequest, Payload]:
    path, _, query = target.partition("?")
    headers = {"content-type": "application/json", **(headers or {})}
    request = parse_request(method, "/" + path, query, headers, body, exposed_schemas=("public",))
    payload = parse_payload(
        request.body,
        request.content_type,
        columns=request.columns,
        allow_mixed_keys=request.preferences.missing == "default",
        max_rows=1000,
    )
    return request, payload


def _fresh(
    request: ApiRequest, snapshot: SchemaSnapshot, payload: Payload | None
) -> tuple[MutatePlan, Statement]:
    plan = plan_mutate(request, snapshot, payload, allow_unfiltered=False, policy=None)
    return plan, build_mutate(plan, media_type=request.media_type)


def _same(served: tuple[MutatePlan, Statement], fresh: tuple[MutatePlan, Statement]) -> bool:
    """The same statement, and the same plan but for the body, which a cached plan does
    not carry (None, never another request's)."""
    (plan, statement), (fresh_plan, fresh_statement) = served, fresh
    if plan.body not in (None, fresh_plan.body):
        return False
    return statement == fresh_statement and replace(plan, body=None) == replace(
        fresh_plan, body=None
    )


_SHAPES: list[tuple[str, bytes, bytes, dict[str, str]]] = [
    ("books", b'{"title": "A", "author_id": 1}', b'{"title": "B", "author_id": 2}', {}),
    ("books", b'{"title": "A", "author_id": 1}', b'{"title": "Z", "author_id": 3}',
     {"prefer": "return=representation"}),
    ("books?select=id,title,authors(name)", b'{"title": "A", "author_id": 1}',
     b'{"title": "C", "author_id": 2}', {"prefer": "return=representation"}),
    ("books", b'[{"title": "A", "author_id": 1}, {"title": "B", "author_id": 2}]',
     b'[{"title": "C", "author_id": 1}, {"title": "D", "author_id": 2}, {"title": "E", "author_id": 1}]',
     {"prefer": "return=representation"}),
    ("books?columns=title,author_id", b'{"title": "A", "author_id": 1, "x": 1}',
     b'{"title": "B", "author_id": 2, "y": 2}', {}),
    ("books", b'[{"title": "A"}, {"title": "B", "author_id": 1}]',
     b'[{"title": "C", "author_id": 2}, {"title": "D"}]', {"prefer": "missing=default"}),
    ("authors?on_conflict=id", b'{"id": 1, "name": "X"}', b'{"id": 2, "name": "Y"}',
     {"prefer": "resolution=merge-duplicates,return=representation"}),
    ("authors", b'{"id": 1, "name": "X"}', b'{"id": 9, "name": "Q"}',
     {"prefer": "resolution=ignore-duplicates"}),
    ("books", b"title,author_id\nA,1\n", b"title,author_id\nB,2\n",
     {"content-type": "text/csv"}),
    ("books", b'{"title": "A", "author_id": 1}', b'{"title": "B", "author_id": 2}',
     {"accept": "application/vnd.pgrst.object+json", "prefer": "return=representation"}),
]  # fmt: skip


@pytest.mark.parametrize(("target", "first", "second", "headers"), _SHAPES)
def test_cached_inserts_equal_fresh_plans(
    snapshot: SchemaSnapshot, target: str, first: bytes, second: bytes, headers: dict[str, str]
) -> None:
    cache = WriteCache()
    for body in (first, second, first):
        request, payload = _write("POST", target, body, headers)
        served = cache.plan_and_statement(
            request, snapshot, payload, allow_unfiltered=False, policy=None
        )
        assert _same(served, _fresh(request, snapshot, payload))
    assert len(cache) == 1
    assert next(iter(cache._entries.values())) is not None, "this shape should be cacheable"


def test_other_key_sets_get_their_own_entries(snapshot: SchemaSnapshot) -> None:
    cache = WriteCache()
    for body in (b'{"title": "A"}', b'{"title": "A", "author_id": 1}', b'{"author_id": 1}'):
        request, payload = _write("POST", "books", body)
        served = cache.plan_and_statement(
            request, snapshot, payload, allow_unfiltered=False, policy=None
        )
        assert _same(served, _fresh(request, snapshot, payload))
    assert len(cache) == 3


def test_writes_without_a_raw_shape_and_put_are_not_cached(snapshot: SchemaSnapshot) -> None:
    cache = WriteCache()
    request, payload = _write("PATCH", "books?id=eq.1", b'{"title": "A"}')
    cache.plan_and_statement(request, snapshot, payload, allow_unfiltered=False, policy=None)
    request, payload = _write("PUT", "authors?id=eq.1", b'{"id": 1, "name": "X"}')
    cache.plan_and_statement(request, snapshot, payload, allow_unfiltered=False, policy=None)
    assert len(cache) == 0


def test_a_new_snapshot_empties_the_cache(snapshot: SchemaSnapshot) -> None:
    cache = WriteCache()
    request, payload = _write("POST", "books", b'{"title": "A"}')
    cache.plan_and_statement(request, snapshot, payload, allow_unfiltered=False, policy=None)
    other = replace(snapshot)
    served = cache.plan_and_statement(request, other, payload, allow_unfiltered=False, policy=None)
    assert served == _fresh(request, other, payload)
    assert len(cache) == 1  # only the entry made against `other`


def test_size_zero_disables_it(snapshot: SchemaSnapshot) -> None:
    cache = WriteCache(size=0)
    request, payload = _write("POST", "books", b'{"title": "A"}')
    served = cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None
    )
    assert served == _fresh(request, snapshot, payload)
    assert len(cache) == 0


# --- PATCH and DELETE: filter operands are slots too ------------------------------------


def _filtered(
    method: str, target: str, body: bytes | None, headers: dict[str, str] | None = None
) -> tuple[ApiRequest, Payload | None, RawShape | None, Reparse]:
    path, _, query = target.partition("?")
    headers = {"content-type": "application/json", **(headers or {})}
    request = parse_request(method, "/" + path, query, headers, body, exposed_schemas=("public",))
    payload = None
    if body is not None:
        payload = parse_payload(
            body, request.content_type, columns=request.columns, allow_mixed_keys=False,
            max_rows=1000,
        )  # fmt: skip

    def reparse(operands: tuple[str, ...]) -> ApiRequest:
        return parse_request(
            method, "/" + path, with_operands(query, operands), headers, body,
            exposed_schemas=("public",),
        )  # fmt: skip

    return request, payload, raw_request_shape(method, "/" + path, query, headers), reparse


_FILTERED: list[tuple[str, str, str, bytes | None, bytes | None, dict[str, str]]] = [
    ("PATCH", "books?id=eq.1", "books?id=eq.2", b'{"price": 1}', b'{"price": 7}', {}),
    ("PATCH", "books?id=eq.1", "books?id=eq.3", b'{"price": 1, "title": "x"}',
     b'{"price": 2, "title": "y"}', {"prefer": "return=representation"}),
    ("PATCH", "books?author_id=eq.1&id=gt.3&order=id&limit=2", "books?author_id=eq.2&id=gt.9&order=id&limit=2",
     b'{"price": 1}', b'{"price": 3}', {}),
    ("PATCH", "books?id=not.eq.1&author_id=lte.2", "books?id=not.eq.5&author_id=lte.4",
     b'{"price": 1}', b'{"price": 3}', {"prefer": "count=exact"}),
    ("DELETE", "books?id=eq.1", "books?id=eq.2", None, None, {}),
    ("DELETE", "books?id=gte.10&id=lt.12", "books?id=gte.20&id=lt.30", None, None,
     {"prefer": "return=representation"}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "first", "second", "body1", "body2", "headers"), _FILTERED)
def test_cached_patches_and_deletes_equal_fresh_plans(
    snapshot: SchemaSnapshot,
    method: str,
    first: str,
    second: str,
    body1: bytes | None,
    body2: bytes | None,
    headers: dict[str, str],
) -> None:
    cache = WriteCache()
    for target, body in ((first, body1), (second, body2), (first, body1)):
        request, payload, raw, reparse = _filtered(method, target, body, headers)
        assert raw is not None
        plan, statement = cache.plan_and_statement(
            request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw,
            reparse=reparse,
        )  # fmt: skip
        fresh_plan, fresh_statement = _fresh(request, snapshot, payload)
        assert statement == fresh_statement, target
        assert plan.body in (None, fresh_plan.body)  # a cached plan has none: no stale body
        assert (plan.mutation, plan.relation, plan.returning, plan.check, plan.location_key) == (
            fresh_plan.mutation, fresh_plan.relation, fresh_plan.returning, fresh_plan.check,
            fresh_plan.location_key,
        )  # fmt: skip
    assert len(cache) == 1
    assert next(iter(cache._entries.values())) is not None, "this shape should be cacheable"


def test_equal_operands_still_bind_in_their_places(snapshot: SchemaSnapshot) -> None:
    """The probe's sentinels are distinct even when the first request's operands are not."""
    cache = WriteCache()
    for target in ("books?id=eq.5&author_id=eq.5", "books?id=eq.8&author_id=eq.9"):
        request, payload, raw, reparse = _filtered("PATCH", target, b'{"price": 1}')
        _, statement = cache.plan_and_statement(
            request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw,
            reparse=reparse,
        )  # fmt: skip
        assert statement == _fresh(request, snapshot, payload)[1]


def test_unfiltered_and_unmasked_writes_are_refused_or_planned_afresh(
    snapshot: SchemaSnapshot,
) -> None:
    cache = WriteCache()
    request, payload, raw, reparse = _filtered("PATCH", "books?title=like.A*", b'{"price": 1}')
    assert raw is None
    cache.plan_and_statement(request, snapshot, payload, allow_unfiltered=False, policy=None)
    request, payload, raw, reparse = _filtered("PATCH", "books", b'{"price": 1}')
    with pytest.raises(DbifyError):
        cache.plan_and_statement(
            request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw,
            reparse=reparse,
        )  # fmt: skip
    assert len(cache) == 0


# --- the parsed request, memoized by raw shape --------------------------------------


_MEMOIZED: list[tuple[str, str, str, bytes | None, bytes | None]] = [
    ("POST", "books", "books", b'{"title": "A", "author_id": 1}',
     b'{"title": "B", "author_id": 2}'),
    ("PATCH", "books?id=eq.1", "books?id=eq.2", b'{"price": 1}', b'{"price": 7}'),
    ("DELETE", "books?id=gte.1&id=lt.3", "books?id=gte.5&id=lt.9", None, None),
]  # fmt: skip


@pytest.mark.parametrize("case", _MEMOIZED, ids=[case[0] for case in _MEMOIZED])
def test_a_memoized_request_serves_what_parsing_would(
    snapshot: SchemaSnapshot, case: tuple[str, str, str, bytes | None, bytes | None]
) -> None:
    method, first, second, body1, body2 = case
    cache = WriteCache()
    request, payload, raw, reparse = _filtered(method, first, body1)
    assert raw is not None
    assert cache.memoized_request(raw, snapshot) is None
    cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse
    )
    request, payload, raw, reparse = _filtered(method, second, body2)
    assert raw is not None
    memo = cache.memoized_request(raw, snapshot)
    assert memo is not None
    assert memo.body is None
    plan, statement = cache.plan_and_statement(
        memo, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse,
        memoized=True,
    )  # fmt: skip
    fresh_plan, fresh_statement = _fresh(request, snapshot, payload)
    assert statement == fresh_statement
    assert plan.body is None
    assert (plan.mutation, plan.returning, plan.location_key) == (
        fresh_plan.mutation, fresh_plan.returning, fresh_plan.location_key
    )  # fmt: skip


def test_a_memoized_request_without_its_entry_is_refused(snapshot: SchemaSnapshot) -> None:
    """Other body keys (another entry), or an entry evicted: the memo's filter values are
    another request's, so it must never be planned afresh."""
    cache = WriteCache(size=1)
    request, payload, raw, reparse = _filtered("PATCH", "books?id=eq.1", b'{"price": 1}')
    assert raw is not None
    cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse
    )
    _, other_keys, raw2, reparse2 = _filtered("PATCH", "books?id=eq.2", b'{"title": "x"}')
    assert raw2 is not None
    memo = cache.memoized_request(raw2, snapshot)
    assert memo is not None
    with pytest.raises(NotMemoized):
        cache.plan_and_statement(
            memo, snapshot, other_keys, allow_unfiltered=False, policy=None, raw=raw2,
            reparse=reparse2, memoized=True,
        )  # fmt: skip
    with pytest.raises(NotMemoized):  # the right keys, but another policy: another entry
        cache.plan_and_statement(
            memo, snapshot, payload, allow_unfiltered=True, policy=None, raw=raw2,
            reparse=reparse2, memoized=True,
        )  # fmt: skip
    request, payload, raw, reparse = _filtered("POST", "books", b'{"title": "A"}')
    cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse
    )  # evicts the PATCH entry (size 1)
    with pytest.raises(NotMemoized):
        cache.plan_and_statement(
            memo, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw2,
            reparse=reparse2, memoized=True,
        )  # fmt: skip


def test_the_memo_keys_on_the_headers_the_parser_reads(snapshot: SchemaSnapshot) -> None:
    cache = WriteCache()
    request, payload, raw, reparse = _filtered("PATCH", "books?id=eq.1", b'{"price": 1}')
    cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse
    )
    for header in (
        {"content-type": "text/csv"},
        {"content-profile": "other"},
        {"prefer": "return=representation"},
        {"accept": "application/vnd.pgrst.object+json"},
    ):
        raw2 = raw_request_shape("PATCH", "/books", "id=eq.2", header)
        assert raw2 is not None
        assert cache.memoized_request(raw2, snapshot) is None, header
    assert cache.memoized_request(raw, replace(snapshot)) is None  # a new snapshot


# --- bare writes: remembered under their raw shape, served without a request object ----

_BARE: list[tuple[str, str, bytes | None, dict[str, str], tuple[str, ...] | None]] = [
    ("POST", "books", b'{"title": "A", "author_id": 1}', {}, ("title", "author_id")),
    ("PATCH", "books?id=eq.1", b'{"price": 1}', {"prefer": "return=minimal"}, ("price",)),
    ("DELETE", "books?id=eq.1", None, {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("method", "target", "body", "headers", "keys"), _BARE)
def test_bare_writes_are_remembered_with_the_keys_their_body_must_have(
    snapshot: SchemaSnapshot,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
    keys: tuple[str, ...] | None,
) -> None:
    cache = WriteCache()
    request, payload, raw, reparse = _filtered(method, target, body, headers)
    assert raw is not None
    plan, statement = cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse
    )
    bare = cache.bare_write(raw, snapshot)
    assert bare is not None
    assert (bare.keys, bare.sql, bare.plan) == (keys, statement.sql, replace(plan, body=None))
    assert statement.counted
    assert cache.bare_write(raw, replace(snapshot)) is None  # another snapshot: forgotten


_NOT_BARE: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("POST", "books", b'{"title": "A"}', {"prefer": "return=representation"}),
    ("POST", "books?columns=title", b'{"title": "A", "x": 1}', {}),
    ("POST", "books", b'[{"title": "A"}, {"title": "B"}]', {}),
    ("POST", "books", b'{"title": "A"}', {"prefer": "missing=default"}),
    ("POST", "books", b"title\nA\n", {"content-type": "text/csv"}),
    ("POST", "authors", b'{"id": 1, "name": "X"}', {"prefer": "return=headers-only"}),
    ("PATCH", "books?id=eq.1", b'{"price": 1}', {"prefer": "return=representation"}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "target", "body", "headers"), _NOT_BARE)
def test_writes_that_return_or_reshape_rows_are_not_bare(
    snapshot: SchemaSnapshot, method: str, target: str, body: bytes, headers: dict[str, str]
) -> None:
    cache = WriteCache()
    request, payload, raw, reparse = _filtered(method, target, body, headers)
    assert raw is not None
    cache.plan_and_statement(
        request, snapshot, payload, allow_unfiltered=False, policy=None, raw=raw, reparse=reparse
    )
    assert cache.memoized_request(raw, snapshot) is not None  # cacheable, yet not bare
    assert cache.bare_write(raw, snapshot) is None
