"""SQL over every sealed value in the metadata store, whatever feature owns it.

``SEALED_COLUMNS`` is the catalogue of columns holding ``SecretBox`` ciphertext; a
feature that adds one must list it here, or rotation would skip it and the start-up
check would not notice it going unreadable (``tests/control/test_secrets.py`` checks
the catalogue against the tables: every ``*_sealed`` column is listed). Rewrites are
compare-and-set (``WHERE column = old``) inside one transaction per table, with the
rows locked on PostgreSQL, so a concurrent change of a project's URL is never undone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dbify.metadata.tables import projects, webhook_endpoints

__all__ = ["SEALED_COLUMNS", "Resealer", "SealedColumn", "SealedValue", "SealedValueStore"]


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """One column of ciphertext; ``name`` reads ``table.column``."""

    table: sa.Table
    column: str

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


@dataclass(frozen=True, slots=True)
class SealedValue:
    column: SealedColumn
    row_id: str
    token: str


# Current values of one table -> the new ciphertext of those that change.
Resealer = Callable[[list["SealedValue"]], Mapping["SealedValue", str]]

SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(projects, "database_url_sealed"),
    SealedColumn(projects, "jwt_secret_sealed"),
    SealedColumn(webhook_endpoints, "secret_sealed"),
)


def _tables() -> list[sa.Table]:
    seen: list[sa.Table] = []
    for sealed in SEALED_COLUMNS:
        if sealed.table not in seen:
            seen.append(sealed.table)
    return seen


class SealedValueStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    def tables() -> list[sa.Table]:
        return _tables()

    async def _read(
        self, connection: AsyncConnection, table: sa.Table, *, lock: bool
    ) -> list[SealedValue]:
        columns = [s for s in SEALED_COLUMNS if s.table is table]
        query = sa.select(table.c.id, *(table.c[s.column] for s in columns)).order_by(table.c.id)
        if lock:  # ignored by SQLite, whose write transaction already excludes writers
            query = query.with_for_update()
        values: list[SealedValue] = []
        for row in (await connection.execute(query)).mappings():
            for sealed in columns:
                token = row[sealed.column]
                if token is not None:  # an unset optional secret (no project JWT secret)
                    values.append(SealedValue(sealed, row["id"], token))
        return values

    async def all_values(self) -> list[SealedValue]:
        values: list[SealedValue] = []
        async with self._engine.connect() as connection:
            for table in _tables():
                values.extend(await self._read(connection, table, lock=False))
        return values

    async def rewrite_table(self, table: sa.Table, reseal: Resealer) -> tuple[int, int]:
        """Re-seal ``table``'s values in one transaction; returns (rewritten, seen).

        ``reseal`` maps the table's current values to their replacements (only those
        that change); if it raises, nothing of the table is written. A value changed
        meanwhile by someone else (possible on SQLite, which does not lock on read) is
        left as they wrote it and not counted: it is sealed under some configured key,
        and the next run re-seals it."""
        async with self._engine.begin() as connection:
            values = await self._read(connection, table, lock=True)
            rewritten = 0
            for value, token in reseal(values).items():
                column = table.c[value.column.column]
                result = await connection.execute(
                    sa.update(table)
                    .where(table.c.id == value.row_id, column == value.token)
                    .values({value.column.column: token})
                )
                rewritten += result.rowcount
            return rewritten, len(values)
