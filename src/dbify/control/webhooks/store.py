"""SQL for webhook endpoints, the delivery queue and the attempt log (metadata store).

The queue is a table rather than a broker because the message, its retry schedule and
its delivery log are one record that the management API lists and redelivers, and it
works the same on SQLite (all-in-one) and PostgreSQL (scale-out) with no extra service.
Workers ``claim`` due messages by a lease (``locked_until``): candidates are chosen
fairly (at most ``per_endpoint`` each, by a window function, so a backlog on one
endpoint cannot crowd out the others) and then locked with a conditional UPDATE, so
two workers never both win a row; a worker that dies loses its lease and the message
is delivered again (at-least-once, same ``webhook-id``). Rules live in ``service.py``.

Writes that make a message sendable (queued, requeued, an endpoint updated: it may be
enabled again) call this process's listeners (``listen``), shared by every store on
one engine, so an idle worker sleeps instead of polling; ``next_due`` tells it when
the earliest retry or expired lease comes due.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dbify.metadata.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from dbify.metadata.write_listeners import NotifiesWrites

__all__ = ["AttemptRecord", "DeliveryRecord", "EndpointRecord", "WebhookStore"]


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: str
    project_id: str
    url: str
    secret_sealed: str
    events: tuple[str, ...]
    tables: tuple[str, ...] | None
    enabled: bool
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: str
    endpoint_id: str
    project_id: str
    event_type: str
    payload: str
    status: str  # pending, succeeded, dead
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    ordering_key: str | None = None  # the row it is about: see ``claim``


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: str
    delivery_id: str
    attempt: int
    started_at: datetime
    duration_ms: float
    request_headers: dict[str, str]
    status_code: int | None
    response_excerpt: str | None
    error: str | None


def _endpoint(row: sa.Row[Any]) -> EndpointRecord:
    m = row._mapping
    return EndpointRecord(
        id=m["id"],
        project_id=m["project_id"],
        url=m["url"],
        secret_sealed=m["secret_sealed"],
        events=tuple(m["events"]),
        tables=None if m["tables"] is None else tuple(m["tables"]),
        enabled=m["enabled"],
        description=m["description"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _delivery(row: sa.Row[Any]) -> DeliveryRecord:
    m = row._mapping
    return DeliveryRecord(**{f: m[f] for f in DeliveryRecord.__slots__})


class WebhookStore(NotifiesWrites):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # Endpoints

    async def insert_endpoint(self, record: EndpointRecord) -> None:
        values = {f: getattr(record, f) for f in EndpointRecord.__slots__}
        values["events"] = list(record.events)
        values["tables"] = None if record.tables is None else list(record.tables)
        async with self._engine.begin() as conn:
            await conn.execute(webhook_endpoints.insert().values(**values))

    async def endpoint(self, project_id: str, endpoint_id: str) -> EndpointRecord | None:
        query = webhook_endpoints.select().where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.project_id == project_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _endpoint(row)

    async def endpoints(self, project_id: str | None = None) -> list[EndpointRecord]:
        query = webhook_endpoints.select().order_by(webhook_endpoints.c.created_at)
        if project_id is not None:
            query = query.where(webhook_endpoints.c.project_id == project_id)
        async with self._engine.connect() as conn:
            return [_endpoint(r) for r in await conn.execute(query)]

    async def update_endpoint(self, endpoint_id: str, **values: Any) -> None:
        for key in ("events", "tables"):
            if values.get(key) is not None:
                values[key] = list(values[key])
        async with self._engine.begin() as conn:
            await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(**values)
            )
        self._changed()  # re-enabled: its waiting messages are due

    async def delete_endpoint(self, project_id: str, endpoint_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                webhook_endpoints.delete().where(
                    webhook_endpoints.c.id == endpoint_id,
                    webhook_endpoints.c.project_id == project_id,
                )
            )
        return bool(result.rowcount)

    # The queue

    async def enqueue(self, deliveries: list[DeliveryRecord]) -> None:
        if not deliveries:
            return
        rows = [{f: getattr(d, f) for f in DeliveryRecord.__slots__} for d in deliveries]
        async with self._engine.begin() as conn:
            await conn.execute(webhook_deliveries.insert(), rows)
        self._changed()

    async def next_due(self, after: datetime) -> datetime | None:
        """When the earliest pending message that is not due at ``after`` comes due: its
        next attempt, or the end of its lease if later (None: nothing waits). Messages
        already due at ``after`` are left out: the claim at ``after`` saw them, and what
        holds them back (a busy or disabled endpoint, an earlier message of their row)
        ends with an attempt or a write, which wakes a worker of this process at once
        and one elsewhere by its ``poll_seconds``."""
        d = webhook_deliveries
        due_at = sa.case(
            (d.c.locked_until > d.c.next_attempt_at, d.c.locked_until), else_=d.c.next_attempt_at
        )
        query = sa.select(sa.func.min(due_at)).where(d.c.status == "pending", due_at > after)
        async with self._engine.connect() as conn:
            earliest: datetime | None = (await conn.execute(query)).scalar_one()
        return earliest

    async def claim(
        self, now: datetime, lease_until: datetime, limit: int, per_endpoint: int,
        busy: Collection[str] = (),
    ) -> list[tuple[DeliveryRecord, EndpointRecord]]:  # fmt: skip
        """Lock up to ``limit`` due messages of enabled endpoints (not those in ``busy``).

        A message with an ``ordering_key`` waits while an older message of the same key
        to the same endpoint is pending (in flight or retrying): messages about one row
        arrive in the order of the writes, and a failing one holds back only its row.
        """
        d, e = webhook_deliveries, webhook_endpoints
        free = sa.or_(d.c.locked_until.is_(None), d.c.locked_until < now)
        earlier = d.alias("earlier")
        first_of_its_row = sa.or_(
            d.c.ordering_key.is_(None),
            ~sa.exists().where(
                earlier.c.endpoint_id == d.c.endpoint_id,
                earlier.c.ordering_key == d.c.ordering_key,
                earlier.c.status == "pending",
                sa.or_(
                    earlier.c.created_at < d.c.created_at,
                    sa.and_(earlier.c.created_at == d.c.created_at, earlier.c.id < d.c.id),
                ),
            ),
        )
        due = sa.and_(
            d.c.status == "pending", d.c.next_attempt_at <= now, free, e.c.enabled,
            first_of_its_row,
        )  # fmt: skip
        if busy:
            due = sa.and_(due, d.c.endpoint_id.not_in(list(busy)))
        rank = (
            sa.func.row_number()
            .over(partition_by=d.c.endpoint_id, order_by=(d.c.next_attempt_at, d.c.created_at))
            .label("rank")
        )
        ranked = (
            sa.select(d.c.id, d.c.next_attempt_at, rank)
            .select_from(d.join(e, e.c.id == d.c.endpoint_id))
            .where(due)
            .subquery()
        )
        candidates = (
            sa.select(ranked.c.id)
            .where(ranked.c.rank <= per_endpoint)
            .order_by(ranked.c.next_attempt_at)
            .limit(limit)
        )
        async with self._engine.begin() as conn:
            ids = list((await conn.execute(candidates)).scalars())
            if not ids:
                return []
            won = await conn.execute(
                d.update()
                .where(d.c.id.in_(ids), free, d.c.status == "pending")
                .values(locked_until=lease_until)
                .returning(d.c.id)
            )
            won_ids = list(won.scalars())
            if not won_ids:
                return []
            rows = await conn.execute(
                sa.select(d, *[c.label(f"e_{c.name}") for c in e.c])
                .join(e, e.c.id == d.c.endpoint_id)
                .where(d.c.id.in_(won_ids))
                .order_by(d.c.next_attempt_at)
            )
            out = []
            for row in rows:
                m = row._mapping
                endpoint = {c.name: m[f"e_{c.name}"] for c in e.c}
                out.append((_delivery(row), _endpoint_from(endpoint)))
        return out

    async def finish_attempt(self, attempt: AttemptRecord, **delivery: Any) -> None:
        """Log ``attempt`` and update its message (status, schedule) in one transaction."""
        values = {f: getattr(attempt, f) for f in AttemptRecord.__slots__}
        async with self._engine.begin() as conn:
            await conn.execute(webhook_attempts.insert().values(**values))
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == attempt.delivery_id)
                .values(locked_until=None, **delivery)
            )

    async def deliveries(
        self, endpoint_id: str, limit: int, offset: int, status: str | None = None
    ) -> tuple[list[DeliveryRecord], int]:
        d = webhook_deliveries
        where = [d.c.endpoint_id == endpoint_id]
        if status is not None:
            where.append(d.c.status == status)
        query = (
            d.select().where(*where).order_by(d.c.created_at.desc(), d.c.id).limit(limit)
        ).offset(offset)
        count = sa.select(sa.func.count()).select_from(d).where(*where)
        async with self._engine.connect() as conn:
            rows = [_delivery(r) for r in await conn.execute(query)]
            total = (await conn.execute(count)).scalar_one()
        return rows, int(total)

    async def delivery(self, endpoint_id: str, delivery_id: str) -> DeliveryRecord | None:
        d = webhook_deliveries
        query = d.select().where(d.c.id == delivery_id, d.c.endpoint_id == endpoint_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _delivery(row)

    async def attempts(self, delivery_id: str) -> list[AttemptRecord]:
        a = webhook_attempts
        query = a.select().where(a.c.delivery_id == delivery_id).order_by(a.c.attempt)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [AttemptRecord(**{f: r._mapping[f] for f in AttemptRecord.__slots__}) for r in rows]

    async def requeue(self, delivery_id: str, now: datetime) -> None:
        """Manual redelivery: pending again, due now, same id (receivers may dedupe)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(status="pending", next_attempt_at=now, locked_until=None, finished_at=None)
            )
        self._changed()


def _endpoint_from(values: dict[str, Any]) -> EndpointRecord:
    return EndpointRecord(
        id=values["id"],
        project_id=values["project_id"],
        url=values["url"],
        secret_sealed=values["secret_sealed"],
        events=tuple(values["events"]),
        tables=None if values["tables"] is None else tuple(values["tables"]),
        enabled=values["enabled"],
        description=values["description"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )
