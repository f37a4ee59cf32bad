"""API shapes of a project's schema watcher, and the running watch as the API sees it."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

__all__ = ["SchemaWatchHandle", "SchemaWatcherOut", "SchemaWatcherStatus"]


class SchemaWatcherStatus(BaseModel):
    """The project's watcher in this process (part of ``GET /projects/{id}/status``)."""

    running: bool = Field(description="A watcher task runs for the project.")
    mode: Literal["listen", "poll"] | None = Field(
        description="listen: event triggers notify at once; poll: the catalog fingerprint is "
        "compared every interval; null: (re)connecting."
    )
    last_error: str = Field("", description="The last connection or query failure, if any.")


class SchemaWatcherOut(BaseModel):
    """``POST``/``DELETE``/``GET /projects/{id}/schema-watcher``."""

    project_id: str
    installed: bool = Field(description="The dbify_* event triggers exist in the database.")
    watcher: SchemaWatcherStatus | None = Field(
        None, description="The running watcher (null when this process watches no schemas)."
    )


class SchemaWatchHandle(Protocol):
    """What the control plane needs of the running ``schema_watch.SchemaWatch``."""

    def project_health(self, project_id: str) -> dict[str, object] | None: ...

    def check_mode(self, project_id: str) -> None: ...
