"""Row changes the data API made, told to whoever listens (webhooks) off the request path.

After a write commits, the pipeline hands a ``RowChange`` to the ``ChangeSink`` it was
given. ``row_changed`` is synchronous and must not block or do I/O: the sink queues the
change and a task of its own does the rest, so a request pays one call.
What is known without extra queries: the rows the client asked back
(``return=representation``: ``rows_json``), else the body it sent (``payload_json``: new
rows of an insert, the new values of an update) and the primary keys of up to two rows.
Old rows of an update/delete are not read (that would cost a query per write).
Several listeners (webhooks, search indexes) share one sink through ``fan_out``.
``watches`` tells, without I/O, whether a sink cares about a table at all, so a write to
a table nobody listens to does not even build its ``RowChange`` (~3 % of a PATCH's
Python, cProfile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["ChangeSink", "Operation", "RowChange", "fan_out"]

Operation = Literal["insert", "update", "delete"]


@dataclass(frozen=True, slots=True)
class RowChange:
    project_id: str
    schema: str
    table: str
    operation: Operation
    affected: int
    rows_json: bytes | None  # the representation body when JSON, else None
    payload_json: str | None  # the request body as a JSON array (insert/update)
    keys: tuple[tuple[str | None, ...], ...]


class ChangeSink(Protocol):
    def watches(self, project_id: str, schema: str, table: str) -> bool:
        """Would ``row_changed`` do anything with a change of this table? No I/O."""
        ...

    def row_changed(self, change: RowChange) -> None: ...


class _FanOut:
    def __init__(self, sinks: tuple[ChangeSink, ...]) -> None:
        self.sinks = sinks

    def watches(self, project_id: str, schema: str, table: str) -> bool:
        return any(sink.watches(project_id, schema, table) for sink in self.sinks)

    def row_changed(self, change: RowChange) -> None:
        for sink in self.sinks:
            if sink.watches(change.project_id, change.schema, change.table):
                sink.row_changed(change)


def fan_out(*sinks: ChangeSink | None) -> ChangeSink | None:
    """One sink telling every given one (Nones skipped; nested fan-outs flattened);
    None when there is none, the sink itself when there is one."""
    flat: list[ChangeSink] = []
    for sink in sinks:
        if isinstance(sink, _FanOut):
            flat.extend(sink.sinks)
        elif sink is not None:
            flat.append(sink)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else _FanOut(tuple(flat))
