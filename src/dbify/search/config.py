"""What a search index is, as the search runtime sees it (the control plane stores it).

    IndexConfig(project_id="abc", table="books", key="id",
                text_columns={"title": 2.0, "blurb": 1.0}, return_columns=("id", "title"))

``key`` is the table's single-column primary key: hits are ids of that column. The
index's name in the backends is ``p<project>_<index id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dbify.backends.search import IndexSpec

__all__ = ["BuildProgress", "IndexConfig", "IndexStatus"]


@dataclass(frozen=True, slots=True)
class IndexConfig:
    id: str
    project_id: str
    schema: str
    table: str
    key: str
    key_type: str
    text_columns: Mapping[str, float]
    return_columns: tuple[str, ...]
    semantic: bool = False

    @property
    def name(self) -> str:
        return f"p{self.project_id}_{self.id}".lower()

    @property
    def spec(self) -> IndexSpec:
        return IndexSpec(self.name, dict(self.text_columns))


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """Reported after each build or refresh; ``watermark`` is the oldest transaction id
    still running when the rows were read (the next refresh reads rows changed since)."""

    index_id: str
    state: str  # building | ready | failed
    rows_indexed: int
    error: str | None = None
    watermark: int | None = None


@dataclass(frozen=True, slots=True)
class BuildProgress:
    """How far a running backfill is: ``rows_done`` of ``rows_total`` row passes (a
    semantic index reads each row twice, once for text and once for vectors, so its
    total is twice the table's row count)."""

    rows_done: int
    rows_total: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.rows_done / self.rows_total) if self.rows_total else 1.0
