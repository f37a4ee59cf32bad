"""The SQL of request-log retention: which rows and day partitions are past their time.

A project may keep its logs for fewer days than the instance (``log_retention_days``);
the table-wide TTL (``analytics.retention_days``) stays the upper bound where the engine
has TTL. Rows of day ``D`` are removed once ``D`` is more than ``N`` days before today
(UTC), so every event is kept at least ``N`` whole days. Nothing here runs a statement:
the functions return SQL text for ``AnalyticsStore.select`` with every value rendered by
``literal``, and ``{db}`` for the store's database. The statements are the subset
ClickHouse 18.16 and chDB both understand: ``ALTER TABLE … DELETE WHERE`` (a mutation,
which the engine applies in the background) and ``DROP PARTITION ID``.

Running them (when, how often, against which projects) is the job of
``workers/request_log_retention.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dbify.backends.analytics.base import literal

__all__ = [
    "PENDING_DELETES_SQL",
    "ProjectCutoff",
    "delete_expired_sql",
    "drop_partition_sql",
    "expired_counts_sql",
    "expired_partitions_sql",
    "oldest_kept_day",
    "project_cutoffs",
]

# Deletes this table is still applying: a new one would rewrite the same parts again.
PENDING_DELETES_SQL = (
    "SELECT count() FROM system.mutations "
    "WHERE database = '{db}' AND table = 'request_log' AND is_done = 0"
)


@dataclass(frozen=True, slots=True)
class ProjectCutoff:
    """Rows of ``project_id`` from days before ``keep_from`` are expired."""

    project_id: str
    keep_from: date


def oldest_kept_day(today: date, days: int) -> date:
    """The first day still kept when logs are kept ``days`` days.

    >>> oldest_kept_day(date(2024, 3, 10), 7)
    datetime.date(2024, 3, 3)
    """
    return today - timedelta(days=days)


def project_cutoffs(
    days_by_project: Mapping[str, int], instance_days: int | None, today: date
) -> list[ProjectCutoff]:
    """Cutoffs of the projects that keep logs for less than the instance does.

    A project at or above the instance's limit needs no delete of its own: the TTL (or
    the partition drop, on servers without TTL) removes its rows as anyone's.

    >>> project_cutoffs({"b": 3, "a": 30, "c": 1}, 30, date(2024, 3, 10))
    [ProjectCutoff(project_id='b', keep_from=datetime.date(2024, 3, 7)), \
ProjectCutoff(project_id='c', keep_from=datetime.date(2024, 3, 9))]
    """
    return [
        ProjectCutoff(project, oldest_kept_day(today, days))
        for project, days in sorted(days_by_project.items())
        if instance_days is None or days < instance_days
    ]


def _expired(cutoffs: Sequence[ProjectCutoff]) -> str:
    return " OR ".join(
        f"(project_id = {literal(cut.project_id)} "
        f"AND day < toDate({literal(cut.keep_from.isoformat())}))"
        for cut in cutoffs
    )


def expired_counts_sql(cutoffs: Sequence[ProjectCutoff]) -> str:
    """``(project_id, rows)`` of the projects that have expired rows.

    Asked before deleting: a mutation rewrites every part it touches (on 18.16, every
    part of the table), so it is only issued when there is something to remove.
    """
    return (
        "SELECT project_id, count() FROM {db}.request_log "
        f"WHERE {_expired(cutoffs)} GROUP BY project_id ORDER BY project_id"
    )


def delete_expired_sql(cutoffs: Sequence[ProjectCutoff]) -> str:
    """One mutation removing the expired rows of every project in ``cutoffs``.

    >>> print(delete_expired_sql([ProjectCutoff("p1", date(2024, 3, 7))]))
    ALTER TABLE {db}.request_log DELETE WHERE (project_id = 'p1' AND day < toDate('2024-03-07'))
    """
    return f"ALTER TABLE {{db}}.request_log DELETE WHERE {_expired(cutoffs)}"


def expired_partitions_sql(keep_from: date) -> str:
    """IDs of the day partitions older than ``keep_from`` (``PARTITION BY day``: YYYYMMDD)."""
    return (
        "SELECT DISTINCT partition_id FROM system.parts "
        "WHERE database = '{db}' AND table = 'request_log' AND active "
        f"AND partition_id < {literal(keep_from.strftime('%Y%m%d'))} ORDER BY partition_id"
    )


def drop_partition_sql(partition_id: str) -> str:
    """Drop one day partition: instant, unlike a mutation.

    >>> drop_partition_sql("20240301")
    "ALTER TABLE {db}.request_log DROP PARTITION ID '20240301'"
    """
    if not (len(partition_id) == 8 and partition_id.isdigit()):
        raise ValueError(f"not a day partition: {partition_id!r}")
    return f"ALTER TABLE {{db}}.request_log DROP PARTITION ID {literal(partition_id)}"
