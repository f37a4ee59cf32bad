"""The demo database: created and loaded once on the local server, or embedded."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

import dbify.demo
from dbify.demo import DemoDatabase, prepare_demo_database
from dbify.errors import DbifyError
from tests.fixtures.database import server_url

pytestmark = pytest.mark.anyio

EXPECTED_COUNTS = {
    "categories": 12,
    "products": 200,
    "tags": 10,
    "product_tags": 334,
    "customers": 500,
    "orders": 5000,
    "order_items": 12500,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def database_name() -> AsyncIterator[str]:
    """A demo database name unique to the test, dropped afterwards."""
    name = f"dbify_test_demo_{secrets.token_hex(4)}"
    yield name
    connection = await asyncpg.connect(server_url())
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        return {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in EXPECTED_COUNTS
        }
    finally:
        await connection.close()


def test_public_names_are_exported() -> None:
    assert sorted(dbify.demo.__all__) == [
        "DEMO_DATABASE_NAME",
        "DemoDatabase",
        "prepare_demo_database",
    ]


async def test_creates_and_loads_the_sample(tmp_path: Path, database_name: str) -> None:
    demo = await prepare_demo_database(
        server_url=server_url(), data_dir=tmp_path, database_name=database_name
    )

    assert not demo.embedded
    assert demo.url.endswith(f"/{database_name}")
    assert await _counts(demo.url) == EXPECTED_COUNTS
    connection = await asyncpg.connect(demo.url)
    try:
        statuses = await connection.fetch(
            "SELECT status::text, count(*) FROM orders GROUP BY 1 ORDER BY 1"
        )
        assert {row[0] for row in statuses} == {
            "pending",
            "paid",
            "shipped",
            "delivered",
            "cancelled",
        }
        mismatched = await connection.fetchval(
            "SELECT count(*) FROM orders o WHERE total <>"
            " (SELECT sum(quantity * unit_price) FROM order_items i WHERE i.order_id = o.id)"
        )
        assert mismatched == 0
        assert (
            await connection.fetchval("SELECT count(*) FROM customers WHERE phone IS NULL") == 125
        )
        assert await connection.fetchval("SELECT count(*) FROM order_summaries") == 5000
        assert await connection.fetchval("SELECT count(*) FROM products_in_category('books')") > 0
        colour = await connection.fetchval(
            "SELECT attributes->>'colour' FROM products WHERE id = 1"
        )
        assert colour == "green"
    finally:
        await connection.close()
    assert _is_empty(tmp_path), "no embedded server when the local one answers"


async def test_second_call_reuses_the_loaded_database(tmp_path: Path, database_name: str) -> None:
    first = await prepare_demo_database(
        server_url=server_url(), data_dir=tmp_path, database_name=database_name
    )
    connection = await asyncpg.connect(first.url)
    try:
        # A row the sample does not have: a reload would drop it.
        await connection.execute("INSERT INTO tags (name) VALUES ('kept')")
    finally:
        await connection.close()

    second = await prepare_demo_database(
        server_url=server_url(), data_dir=tmp_path, database_name=database_name
    )

    assert second == first
    counts = await _counts(second.url)
    assert counts["tags"] == EXPECTED_COUNTS["tags"] + 1


async def test_an_interrupted_load_is_redone(tmp_path: Path, database_name: str) -> None:
    connection = await asyncpg.connect(server_url())
    try:
        await connection.execute(f'CREATE DATABASE "{database_name}"')  # exists, no marker
    finally:
        await connection.close()

    demo = await prepare_demo_database(
        server_url=server_url(), data_dir=tmp_path, database_name=database_name
    )

    assert await _counts(demo.url) == EXPECTED_COUNTS


async def test_an_unreachable_explicit_server_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DbifyError) as raised:
        await prepare_demo_database(
            server_url="postgresql://postgres@127.0.0.1:1/postgres", data_dir=tmp_path
        )
    assert raised.value.code == "PGRST000"
    assert "127.0.0.1" not in raised.value.message


async def test_closing_a_machine_database_does_nothing() -> None:
    await DemoDatabase(url="postgresql://postgres@127.0.0.1:5432/x").close()


@pytest.mark.skipif(importlib.util.find_spec("pgserver") is None, reason="pgserver not installed")
@pytest.mark.skipif(
    os.environ.get("DBIFY_TEST_SKIP_EMBEDDED") == "1", reason="DBIFY_TEST_SKIP_EMBEDDED=1"
)
async def test_embedded_server_serves_the_sample(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    demo = await prepare_demo_database(server_url=None, data_dir=data_dir, embedded=True)
    try:
        assert demo.embedded
        assert "host=" in demo.url, "the embedded server listens on a unix socket"
        assert await _counts(demo.url) == EXPECTED_COUNTS
        version = await _server_version(demo.url)
        assert version.startswith("16")
    finally:
        await demo.close()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(demo.url, timeout=2)

    # The data directory is kept: the next start finds the sample already loaded.
    again = await prepare_demo_database(server_url=None, data_dir=data_dir, embedded=True)
    try:
        assert again.url == demo.url
        assert (await _counts(again.url))["orders"] == 5000
    finally:
        await again.close()


def _is_empty(directory: Path) -> bool:
    return not any(directory.iterdir())


async def _server_version(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        version: str = await connection.fetchval("SHOW server_version")
        return version
    finally:
        await connection.close()
