"""What a full-text search backend must do; adapters live next to this module.

An index holds one document per row of one table: the row's primary key as text
(``id``) and the values of the indexed text columns. Rows themselves are never
returned from the index: the search endpoint re-reads hits from the database with
the caller's role, so the index only ranks ids and suggests highlights.

This module does not read users' databases and does not know about HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Document", "IndexSpec", "SearchBackend", "SearchBackendError", "TextHit"]


class SearchBackendError(Exception):
    """A backend failed (library or server error), translated at the adapter boundary."""


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """``name`` is unique per Dbify instance (``p<project>_<index id>``); ``fields`` maps
    each text column to its weight (boost)."""

    name: str
    fields: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    values: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class TextHit:
    """One ranked match; ``highlights`` maps a field to a fragment with ``<b>`` marks."""

    id: str
    score: float
    highlights: Mapping[str, str] = field(default_factory=dict)


class SearchBackend(Protocol):
    async def rebuild(self, spec: IndexSpec, batches: AsyncIterator[Sequence[Document]]) -> int:
        """Build the index from scratch while searches keep hitting the previous version;
        switch atomically at the end. Returns the number of documents indexed."""

    async def upsert(self, spec: IndexSpec, documents: Sequence[Document]) -> None:
        """Add or replace documents by id; visible to searches when this returns."""

    async def delete(self, spec: IndexSpec, ids: Sequence[str]) -> None:
        """Remove documents by id (unknown ids are ignored)."""

    async def ids(self, spec: IndexSpec) -> set[str]:
        """Every document id in the index (used to detect deleted rows)."""

    async def search(
        self, spec: IndexSpec, query: str, *, limit: int, fuzzy: bool = True
    ) -> list[TextHit]:
        """The best ``limit`` matches of the user's ``query`` text, best first. With
        ``fuzzy`` a term within edit distance 1 matches too (typos). An unbuilt index
        has no matches."""

    async def drop(self, spec: IndexSpec) -> None:
        """Delete the index and all its versions (idempotent)."""

    async def close(self) -> None: ...
