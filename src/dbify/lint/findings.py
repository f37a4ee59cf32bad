"""What a lint rule reports: one ``Finding`` per problem, with level and remedy.

Findings are plain frozen values so the CLI, the management API and tests can sort,
filter and serialize them the same way. This module holds no rules (``rules.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Category", "Finding", "Level"]

Level = Literal["error", "warning", "info"]
Category = Literal["api", "security", "performance", "naming"]
_LEVEL_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: ``rule`` is a stable identifier (``no_primary_key``), ``subject``
    the object it is about (``public.logs`` or ``public.logs.password``),
    ``message`` explains why it matters and ``remedy`` says how to fix it."""

    rule: str
    level: Level
    category: Category
    subject: str
    message: str
    remedy: str

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (_LEVEL_ORDER[self.level], self.rule, self.subject)

    def as_json(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "level": self.level,
            "category": self.category,
            "subject": self.subject,
            "message": self.message,
            "remedy": self.remedy,
        }
