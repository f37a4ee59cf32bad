"""Fixtures of the schema-watch tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def user_database(make_database: Callable[..., str]) -> str:
    """A fresh database (created outside the test's event loop: the factory runs its own)."""
    return make_database()
