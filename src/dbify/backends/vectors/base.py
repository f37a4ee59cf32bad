"""What a vector store must do; adapters live next to this module.

A collection holds one unit vector per row id (``name`` is the search index's
name). Like the text backends it only ranks ids: rows are re-read from the
database with the caller's role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["VectorHit", "VectorStore", "VectorStoreError"]


class VectorStoreError(Exception):
    """The store failed, translated at the adapter boundary."""


@dataclass(frozen=True, slots=True)
class VectorHit:
    """``score`` is the cosine similarity (1 = same direction)."""

    id: str
    score: float


class VectorStore(Protocol):
    async def rebuild(
        self, name: str, batches: AsyncIterator[Sequence[tuple[str, list[float]]]]
    ) -> int:
        """Replace the collection with these (id, vector) pairs; returns the count."""

    async def upsert(self, name: str, items: Sequence[tuple[str, list[float]]]) -> None: ...

    async def delete(self, name: str, ids: Sequence[str]) -> None: ...

    async def search(self, name: str, vector: list[float], *, limit: int) -> list[VectorHit]:
        """The ``limit`` nearest ids, best first; an unknown collection has none."""

    async def drop(self, name: str) -> None: ...

    async def close(self) -> None: ...
