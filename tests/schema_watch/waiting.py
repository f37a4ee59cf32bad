"""Polling helpers the schema-watch tests share: wait for a condition, measure how long."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(check: Callable[[], Awaitable[bool]], limit: float = 15.0) -> float:
    """Seconds until ``check()`` held; ``AssertionError`` after ``limit`` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def is_true(value: bool) -> bool:
    return value


async def status_is(status: Awaitable[int], expected: int) -> bool:
    return await status == expected


async def count_is(items: Awaitable[list[dict[str, Any]]], expected: int) -> bool:
    return len(await items) == expected
