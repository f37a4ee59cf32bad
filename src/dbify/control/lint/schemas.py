"""API shapes of a lint report (``GET /api/v1/projects/{id}/lint``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FindingOut(BaseModel):
    rule: str = Field(description="Stable rule identifier, e.g. no_primary_key.")
    level: Literal["error", "warning", "info"]
    category: Literal["api", "security", "performance", "naming"]
    subject: str = Field(description="The object concerned, e.g. public.users.password.")
    message: str = Field(description="What is wrong and what API clients will see.")
    remedy: str = Field(description="How to fix it in the database.")


class LintReport(BaseModel):
    """Every finding, most severe first; ``counts`` per level."""

    project_id: str
    schemas: list[str]
    counts: dict[str, int]
    findings: list[FindingOut]
