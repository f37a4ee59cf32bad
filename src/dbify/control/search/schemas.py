"""API shapes of search indexes (``/api/v1/projects/{id}/search-indexes``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SearchIndexCreate(BaseModel):
    """Enable search on one table: text columns with weights, columns returned by hits."""

    table: str = Field(description="Table or view to search.")
    schema_name: str = Field("public", alias="schema", description="Its schema.")
    text_columns: dict[str, float] = Field(
        description='Indexed text columns and their weights, e.g. {"title": 2, "body": 1}.',
        min_length=1,
    )
    return_columns: list[str] | None = Field(
        None, description="Columns hits return (and filters use); default: all columns."
    )
    semantic: bool = Field(False, description="Also embed rows for mode=semantic|hybrid.")

    model_config = {"populate_by_name": True}


class SearchIndexProgress(BaseModel):
    """A running backfill: row passes done of the total (a semantic index reads each row
    twice: text, then vectors)."""

    rows_done: int
    rows_total: int
    percent: float = Field(description="0 to 100.")


class SearchIndexOut(BaseModel):
    id: str
    project_id: str
    schema_name: str = Field(serialization_alias="schema")
    table: str
    key_column: str
    text_columns: dict[str, float]
    return_columns: list[str]
    semantic: bool
    state: str = Field(description="building, ready or failed.")
    rows_indexed: int
    last_error: str | None
    created_at: datetime
    indexed_at: datetime | None
    lag_seconds: float | None = Field(description="Seconds since the last successful sync.")
    progress: SearchIndexProgress | None = Field(
        None, description="While state is building: how far the backfill is."
    )
