"""Write plans and statements cached by request shape, so repeated writes skip planning.

A write's SQL depends on the target, the body's keys, the filters' columns and operators
and the request's preferences, ``select``, ``columns`` and ``on_conflict``, never on the
body's values (the whole body is ONE parameter, a JSON array expanded in SQL) nor on the
filters' operands (bound parameters). Planning and building it afresh cost ~110 µs of
Python per request (``plan_mutate`` ~90 µs, ``build_mutate`` ~17 µs), several times the
rest of the request.

The first write of a shape is planned and built twice: as it came, and with a sentinel
body and, for PATCH and DELETE, sentinel filter operands (the request re-parsed with
them, ``grammar.raw_shape.with_operands``). The shape is cacheable when the two statements
have the same SQL and every parameter is either the body, exactly one operand, or the
same constant in both; the plans must also agree. Later writes of the shape get the
recorded statement with their own body and operands put in place. A shape that fails
the check is remembered as not cacheable and always planned afresh.

Cached: ``POST`` without filters (inserts, upserts), and ``PATCH``/``DELETE`` whose
filters are all masked by ``raw_request_shape`` (``id=eq.5``...). ``PUT`` is always
planned afresh. The plan returned for a cached write is the first request's without its
body (``body`` is None; the request's body is its payload's): for PATCH/DELETE its filter
values are the first request's, and only what does not depend on them is read after
building (``respond_write``, ``write_check``, row changes: mutation, relation, returning,
check, resolution, location key). Handing out the recorded plan as it is, not a copy
with this request's body, saved ~2 % of a cached PATCH's Python (cProfile).

Repeated writes also skip parsing. When a shape's entry is recorded as cacheable and the
request came with its raw shape (``grammar.raw_shape``: method, path, masked query string
and every header the parser reads), the parsed request is remembered under that raw
shape, without its body. ``memoized_request`` answers a later request of the same raw
shape with it; its filter values are the first request's and are never read again: with
``memoized=True`` ``plan_and_statement`` serves only a recorded cacheable entry (whose
statement takes this request's operands from its raw shape) and otherwise raises
``NotMemoized``, so the caller parses the request after all. Measured on the shared
harness's PATCH (py-spy, ``parse_request``): ~10 % of the serving thread.

Bare writes skip the request object too. A cacheable shape whose statement is bare
(``counted``: no ``RETURNING``, the result is the command tag), whose body is one JSON
object with the body's own keys (no ``columns=``, no ``missing=default``) or which has
no body (DELETE) is also remembered as a ``BareWrite`` under its raw shape:
``bare_write`` answers a later request of that raw shape with the SQL, the parameter
sources and the keys its body must have, and ``bind`` puts its body and operands in
place (``pipeline._bare_write`` runs it). Instructions per request
(``bench/instructions.sh``, 2,000 sequential one-row writes): POST 429.9 k through the
memoized path, 360.6 k bare; PATCH 430.0 k and 368.6 k (a pk read: 338 k).

One ``WriteCache`` per project, a bounded LRU belonging to one schema snapshot: given
another snapshot it empties itself. This module does no I/O.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from dbify.dataplane.grammar.payload import Payload, is_json_media
from dbify.dataplane.grammar.raw_shape import RawShape
from dbify.dataplane.grammar.types import ApiRequest
from dbify.dataplane.plan.access import AccessPolicy
from dbify.dataplane.plan.mutate import MutatePlan, plan_mutate
from dbify.dataplane.sql.mutate import build_mutate
from dbify.dataplane.sql.statement import Param, Statement
from dbify.errors import DbifyError
from dbify.schema.model import SchemaSnapshot

__all__ = ["BareWrite", "NotMemoized", "Reparse", "WriteCache", "bind"]

# Valid JSON no client body equals (a random key), and operands no client sends (random,
# and plain: letters and digits pass the raw shape's operand check).
_TOKEN = secrets.token_hex(8)
_SENTINEL = f'[{{"dbify-sentinel-{_TOKEN}": null}}]'
_BODY, _CONSTANT = -2, -1

Reparse = Callable[[tuple[str, ...]], ApiRequest]
"""Parses the request again with other filter operands (``with_operands``)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    """A shape's plan and statement; each parameter's source: ``_BODY``, ``_CONSTANT``
    (the recorded value) or the index of a filter operand."""

    plan: MutatePlan
    sql: str
    params: tuple[Param, ...]
    sources: tuple[int, ...]
    counted: bool


@dataclass(slots=True, eq=False)
class BareWrite:
    """A bare write's shape, remembered under its raw shape (see the module docstring).

    ``request`` and ``plan`` are the first request's (without body); ``keys`` are the
    keys a body must have, in order (None: the write takes no body); ``policy`` and
    ``allow_unfiltered`` must be the caller's. ``pipeline._bare_write`` keeps what it learns
    of the shape in the last two fields: whether the write needs no check before
    commit (None: not looked at yet) and its responses by rows written."""

    request: ApiRequest
    plan: MutatePlan
    sql: str
    params: tuple[Param, ...]
    sources: tuple[int, ...]
    keys: tuple[str, ...] | None
    policy: AccessPolicy | None
    allow_unfiltered: bool
    unchecked: bool | None = None
    responses: dict[int, tuple[int, list[tuple[bytes, bytes]]]] = field(default_factory=dict)


class NotMemoized(LookupError):
    """A memoized request's shape has no cacheable entry (yet, or any more): parse it."""


class WriteCache:
    """A bounded LRU of write plans and statements by request shape, for one snapshot."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._snapshot: SchemaSnapshot | None = None
        self._entries: OrderedDict[Hashable, _Entry | None] = OrderedDict()
        self._requests: OrderedDict[Hashable, ApiRequest] = OrderedDict()
        self._bare: OrderedDict[Hashable, BareWrite] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _use(self, snapshot: SchemaSnapshot) -> None:
        if snapshot is not self._snapshot:
            self._entries.clear()
            self._requests.clear()
            self._bare.clear()
            self._snapshot = snapshot

    def memoized_request(self, raw: RawShape, snapshot: SchemaSnapshot) -> ApiRequest | None:
        """The parsed request remembered for ``raw`` (without body; its filter values
        are another request's), or None. Pass it to ``plan_and_statement`` with
        ``raw`` and ``memoized=True``."""
        self._use(snapshot)
        return self._requests.get(raw[0])

    def bare_write(self, raw: RawShape, snapshot: SchemaSnapshot) -> BareWrite | None:
        """The bare write remembered for ``raw``, or None."""
        self._use(snapshot)
        return self._bare.get(raw[0])

    def plan_and_statement(
        self,
        request: ApiRequest,
        snapshot: SchemaSnapshot,
        payload: Payload | None,
        *,
        allow_unfiltered: bool,
        policy: AccessPolicy | None,
        raw: RawShape | None = None,
        reparse: Reparse | None = None,
        memoized: bool = False,
    ) -> tuple[MutatePlan, Statement]:
        """``plan_mutate`` and ``build_mutate`` of a write, from the cache when its
        shape was seen. ``raw`` (the request's ``raw_request_shape``) and ``reparse`` make a
        PATCH or DELETE cacheable, and let the request be memoized. ``memoized``: the
        request came from ``memoized_request``; raises ``NotMemoized`` unless its shape
        has a cacheable entry. Raises what planning raises."""
        self._use(snapshot)
        key, operands = self._key(request, payload, allow_unfiltered, policy, raw, reparse)
        entry = self._entries.get(key, _MISSING) if key is not None else None
        if memoized and not isinstance(entry, _Entry):
            raise NotMemoized
        if entry is _MISSING:
            plan, statement = _fresh(request, snapshot, payload, allow_unfiltered, policy)
            recorded = _record(
                request, snapshot, payload, (plan, statement), allow_unfiltered, policy,
                operands, reparse,
            )  # fmt: skip
            self._entries[key] = recorded
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            if recorded is not None and raw is not None:
                self._requests[raw[0]] = replace(request, body=None)
                if len(self._requests) > self.size:
                    self._requests.popitem(last=False)
                bare = _bare(self._requests[raw[0]], payload, recorded, allow_unfiltered, policy)
                if bare is not None:
                    self._bare[raw[0]] = bare
                    if len(self._bare) > self.size:
                        self._bare.popitem(last=False)
            return plan, statement
        if not isinstance(entry, _Entry):  # no key, or a shape that is not cacheable
            return _fresh(request, snapshot, payload, allow_unfiltered, policy)
        self._entries.move_to_end(key)
        body = payload.json if payload is not None else None
        params = bind(entry.sources, entry.params, body, operands)
        return entry.plan, Statement(entry.sql, params, entry.counted)

    def _key(
        self,
        request: ApiRequest,
        payload: Payload | None,
        allow_unfiltered: bool,
        policy: AccessPolicy | None,
        raw: RawShape | None,
        reparse: Reparse | None,
    ) -> tuple[Hashable | None, tuple[str, ...]]:
        """The entry's key (None: not cacheable) and the operands its statement binds."""
        method = request.method
        operands: tuple[str, ...] = ()
        if self.size <= 0:
            return None, operands
        if method == "POST" and payload is not None and not request.filters and not request.logic:
            key: Hashable = (
                request.target, request.schema, request.select, request.order, request.ranges,
                request.columns, request.on_conflict,
            )  # fmt: skip
        elif method in ("PATCH", "DELETE") and raw is not None and reparse is not None:
            key, operands = raw
            key = (key, request.schema, request.select, request.columns)
        else:
            return None, operands
        key = (
            key, request.preferences, request.media_type, allow_unfiltered, policy,
            None if payload is None else (payload.keys, payload.uniform, payload.row_count == 1),
        )  # fmt: skip
        return key, operands


_MISSING: Any = object()


def bind(
    sources: tuple[int, ...],
    recorded: tuple[Param, ...],
    body: str | None,
    operands: tuple[str, ...],
) -> tuple[Param, ...]:
    """A recorded statement's parameters with this request's body and operands."""
    return tuple(
        body if source == _BODY else fixed if source == _CONSTANT else operands[source]
        for source, fixed in zip(sources, recorded, strict=True)
    )


def _bare(
    request: ApiRequest,
    payload: Payload | None,
    entry: _Entry,
    allow_unfiltered: bool,
    policy: AccessPolicy | None,
) -> BareWrite | None:
    """The bare write of a cacheable shape, or None when it is not one."""
    if not entry.counted or request.columns is not None or request.preferences.missing:
        return None
    if payload is None:
        keys = None
    elif payload.row_count == 1 and payload.uniform and is_json_media(request.content_type):
        keys = payload.keys
    else:
        return None
    return BareWrite(
        request, entry.plan, entry.sql, entry.params, entry.sources, keys, policy,
        allow_unfiltered,
    )  # fmt: skip


def _fresh(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    payload: Payload | None,
    allow_unfiltered: bool,
    policy: AccessPolicy | None,
) -> tuple[MutatePlan, Statement]:
    plan = plan_mutate(request, snapshot, payload, allow_unfiltered=allow_unfiltered, policy=policy)
    return plan, build_mutate(plan, media_type=request.media_type)


def _record(
    request: ApiRequest,
    snapshot: SchemaSnapshot,
    payload: Payload | None,
    planned: tuple[MutatePlan, Statement],
    allow_unfiltered: bool,
    policy: AccessPolicy | None,
    operands: tuple[str, ...],
    reparse: Reparse | None,
) -> _Entry | None:
    """The entry of ``request``'s shape, or None when a value shaped more than a parameter."""
    plan, statement = planned
    sentinels = tuple(f"dbifyslot{_TOKEN}x{index}" for index in range(len(operands)))
    try:
        probe_request = reparse(sentinels) if operands and reparse is not None else request
        probe_payload = replace(payload, json=_SENTINEL) if payload is not None else None
        probe_plan, probe = _fresh(probe_request, snapshot, probe_payload, allow_unfiltered, policy)
    except DbifyError:
        return None
    if probe.sql != statement.sql or len(probe.params) != len(statement.params):
        return None
    if _plan_shape(probe_plan) != _plan_shape(plan) or len(probe_plan.where) != len(plan.where):
        return None
    slot_of = {sentinel: index for index, sentinel in enumerate(sentinels)}
    sources: list[int] = []
    for mine, theirs in zip(statement.params, probe.params, strict=True):
        if payload is not None and theirs == _SENTINEL:
            if mine != payload.json:
                return None
            sources.append(_BODY)
        elif isinstance(theirs, str) and theirs in slot_of:
            if mine != operands[slot_of[theirs]]:
                return None
            sources.append(slot_of[theirs])
        elif _TOKEN in repr(theirs) or mine != theirs:
            return None  # a sentinel transformed on its way, or a value shaped a constant
        else:
            sources.append(_CONSTANT)
    if set(range(len(operands))) - set(sources):
        return None  # an operand is bound nowhere: it shaped the SQL instead
    if (payload is not None) != (_BODY in sources):
        return None
    return _Entry(
        replace(plan, body=None), statement.sql, tuple(statement.params), tuple(sources),
        statement.counted,
    )  # fmt: skip


def _plan_shape(plan: MutatePlan) -> MutatePlan:
    """What of a plan must not depend on values: all but the body and filter values."""
    return replace(plan, body=None, where=())
