"""Wires the fixtures of ``tests/fixtures``; fixtures themselves live there."""

import gc

import pytest

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.server",
    "tests.fixtures.pgbouncer",
    "tests.fixtures.control",
]


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported lives as long as the session: frozen, as ``dbify serve``
    freezes what it loaded (``http_server.py``), the garbage collector stops rescanning
    it. With every timing module collected in one process, a full collection over it
    landed inside an in-process latency test: a webhook sent 0.43-0.56 s after it was
    queued (bound 0.3 s; 0.07-0.12 s otherwise), failing three runs of three; frozen,
    it passed."""
    gc.collect()
    gc.freeze()
