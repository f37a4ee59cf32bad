"""Wires the fixtures of ``tests/fixtures``; fixtures themselves live there."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.server",
    "tests.fixtures.pgbouncer",
    "tests.fixtures.control",
]
