"""The schema linter: rules over a project's snapshot, each finding with level and remedy."""

from dbify.lint.facts import CatalogFacts, read_catalog_facts
from dbify.lint.findings import Finding
from dbify.lint.rules import RULES, lint_snapshot

__all__ = ["RULES", "CatalogFacts", "Finding", "lint_snapshot", "read_catalog_facts"]
