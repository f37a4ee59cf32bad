"""Rules for secrets at rest: every sealed value must open, and rotation re-seals them.

``check_sealed_values`` runs when the control plane opens (``dbify serve``, the CLI):
a value no configured master key can decrypt means the wrong keys are configured (or
a key was dropped before ``dbify secrets rotate``), and starting anyway would take
projects offline one by one with obscure errors. The error names the columns and row
IDs, never a key or a secret. ``SecretsService.rotate`` re-seals, one transaction per
table, every value not yet under the newest key; values already there are left alone,
so a second run reports nothing rotated (idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dbify.control.secrets.store import SealedValue, SealedValueStore
from dbify.secrets_box import SecretBox, SecretBoxError

__all__ = ["RotationReport", "SecretsService", "UnreadableSecret", "check_sealed_values"]

_SHOWN = 5  # row IDs named in an error; the count says how many more


@dataclass(frozen=True, slots=True)
class UnreadableSecret:
    """A sealed value no configured key opens: where it is, not what it is."""

    column: str  # table.column
    row_id: str


@dataclass(slots=True)
class RotationReport:
    """Per table: values re-sealed under the newest key, and values seen."""

    rotated: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def total_rotated(self) -> int:
        return sum(self.rotated.values())


def _describe(unreadable: list[UnreadableSecret]) -> str:
    shown = ", ".join(f"{u.column} of {u.row_id}" for u in unreadable[:_SHOWN])
    more = f" and {len(unreadable) - _SHOWN} more" if len(unreadable) > _SHOWN else ""
    return (
        f"{len(unreadable)} secret(s) in the metadata store cannot be decrypted by any "
        f"configured master key ({shown}{more}). Configure the key they were sealed with "
        "(DBIFY_MASTER_KEY, comma-separated newest first, or data_dir/master.key); drop an "
        "old key only after `dbify secrets rotate` has succeeded."
    )


class SecretsService:
    def __init__(self, store: SealedValueStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

    async def unreadable(self) -> list[UnreadableSecret]:
        return [
            UnreadableSecret(v.column.name, v.row_id)
            for v in await self._store.all_values()
            if not self._box.can_open(v.token)
        ]

    async def check(self) -> None:
        """Raise ``SecretBoxError`` if some sealed value cannot be decrypted."""
        unreadable = await self.unreadable()
        if unreadable:
            raise SecretBoxError(_describe(unreadable))

    async def rotate(self) -> RotationReport:
        """Re-seal every value under the newest key. Checks first, so a rotation never
        starts on a store it could only half rewrite."""
        await self.check()
        report = RotationReport()
        for table in self._store.tables():
            rotated, seen = await self._store.rewrite_table(table, self._reseal)
            name = str(table.name)  # a plain str: SQLAlchemy's quoted_name subclasses it
            report.rotated[name] = rotated
            report.seen[name] = seen
        return report

    def _reseal(self, values: list[SealedValue]) -> Mapping[SealedValue, str]:
        # ``rotate`` raises SecretBoxError on a value written meanwhile under an unknown
        # key: the table's transaction then rolls back, nothing half-done.
        return {v: self._box.rotate(v.token) for v in values if not self._box.is_current(v.token)}


async def check_sealed_values(store: SealedValueStore, box: SecretBox) -> None:
    await SecretsService(store, box).check()
