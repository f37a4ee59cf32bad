"""Insert plans and statements cached by request shape, so repeated inserts skip planning.

An insert's SQL depends on the target, the body's keys and the request's preferences,
``select``, ``columns`` and ``on_conflict``, never on the body's values: the whole body
is ONE parameter (a JSON array expanded in SQL). Planning and building it afresh cost
~110 µs of Python per request (``plan_mutate`` ~90 µs, ``build_mutate`` ~17 µs),
several times the rest of the request.

The first insert of a shape is planned and built twice, with its body and with a
sentinel body; the shape is cacheable when the two plans differ only in ``body`` and the
two statements only in one parameter, the body's. Later inserts of the shape get the
recorded plan and statement with their own body put in that place. A shape that fails
the check is remembered as not cacheable and always planned afresh.

Only ``POST`` without filters (plain inserts and upserts) is cached; PATCH, PUT and
DELETE carry values in their filters and are always planned afresh. One ``InsertCache``
per project, a bounded LRU belonging to one schema snapshot: given another snapshot it
empties itself. This module does no I/O.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

from dbify.dataplane.grammar.payload import Payload
from dbify.dataplane.grammar.types import ApiRequest
from dbify.dataplane.plan.access import AccessPolicy
from dbify.dataplane.plan.mutate import MutatePlan, plan_mutate
from dbify.dataplane.sql.mutate import build_mutate
from dbify.dataplane.sql.statement import Param, Statement
from dbify.errors import DbifyError
from dbify.schema.model import SchemaSnapshot

__all__ = ["InsertCache"]

# Valid JSON no client body equals: a random key.
_SENTINEL = f'[{{"dbify-sentinel-{secrets.token_hex(8)}": null}}]'


@dataclass(frozen=True, slots=True)
class _Entry:
    plan: MutatePlan
    sql: str
    params: tuple[Param, ...]
    body_index: int


class InsertCache:
    """A bounded LRU of insert plans and statements by request shape, for one snapshot."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._snapshot: SchemaSnapshot | None = None
        self._entries: OrderedDict[Hashable, _Entry | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def plan_and_statement(
        self,
        request: ApiRequest,
        snapshot: SchemaSnapshot,
        payload: Payload | None,
        *,
        allow_unfiltered: bool,
        policy: AccessPolicy | None,
    ) -> tuple[MutatePlan, Statement]:
        """``plan_mutate`` and ``build_mutate`` of a write, from the cache for a plain
        insert whose shape was seen. Raises what planning raises."""
        if snapshot is not self._snapshot:
            self._entries.clear()
            self._snapshot = snapshot
        if request.method != "POST" or request.filters or request.logic or payload is None:
            return _fresh(request, snapshot, payload, allow_unfiltered, policy)
        if self.size <= 0:
            return _fresh(request, snapshot, payload, allow_unfiltered, policy)
        key = (
            request.target, request.schema, request.select, request.order, request.ranges,
            request.preferences, request.media_type, request.columns, request.on_conflict,
            payload.keys, payload.uniform, payload.row_count == 1, allow_unfiltered, policy,
        )  # fmt: skip
        entries = self._entries
        try:
            entry = entries[key]
        except KeyError:
            plan, statement = _fresh(request, snapshot, payload, allow_unfiltered, policy)
            entries[key] = _record(
                request, snapshot, payload, plan, statement, allow_unfiltered, policy
            )
            if len(entries) > self.size:
                entries.popitem(last=False)
            return plan, statement
        entries.move_to_end(key)
        if entry is None:
            return _fresh(request, snapshot, payload, allow_unfiltered, policy)
        params = list(entry.params)
        params[entry.body_index] = payload.json
        return replace(entry.plan, body=payload.json), Statement(entry.sql, tuple(params))


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
    payload: Payload,
    plan: MutatePlan,
    statement: Statement,
    allow_unfiltered: bool,
    policy: AccessPolicy | None,
) -> _Entry | None:
    """The entry of ``request``'s shape, or None when its body shaped more than a parameter."""
    try:
        probe_plan, probe = _fresh(
            request, snapshot, replace(payload, json=_SENTINEL), allow_unfiltered, policy
        )
    except DbifyError:
        return None
    if replace(plan, body=_SENTINEL) != probe_plan or probe.sql != statement.sql:
        return None
    if len(probe.params) != len(statement.params):
        return None
    differing = [
        index
        for index, (mine, theirs) in enumerate(zip(statement.params, probe.params, strict=True))
        if mine != theirs
    ]
    if len(differing) != 1:
        return None
    index = differing[0]
    if probe.params[index] != _SENTINEL or statement.params[index] != payload.json:
        return None
    return _Entry(probe_plan, probe.sql, tuple(probe.params), index)
