"""Background asyncio tasks: stopping one cleanly.

Workers, watchers, publishers and bus readers each own a long-running task; on stop they
cancel it and wait for it to finish, and the cancellation they caused is not an error.
This module does not start or supervise tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (nothing to do for None) and wait until it has finished."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
