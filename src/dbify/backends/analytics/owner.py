"""Who owns chDB's data directory: a lock file beside it, held by the one process that
opens it.

chDB lets one process open a data directory; a second one got only "Error initializing
EmbeddedServer". ``own`` takes the lock for the store's lifetime (the system drops it when
the process ends, however it ends) and names the holder's process when it cannot;
``holder`` asks without taking it, so that ``dbify serve`` and ``dbify demo`` can refuse
to start before they change anything (issue keys, reset the demo admin's password). No
chDB import here: the serving process must never load it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from dbify.backends.analytics.base import AnalyticsUnavailable

__all__ = ["holder", "own"]


def own(path: Path) -> int:
    """A descriptor of ``<path>.lock`` holding an exclusive lock; ``AnalyticsUnavailable``
    naming the holder when another process has it."""
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        taken = _pid_in(fd)
        os.close(fd)
        raise AnalyticsUnavailable(_in_use(path, taken)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def holder(path: Path) -> str | None:
    """Why ``path`` cannot be owned now (another process holds it), or None."""
    if not _lock_file(path).exists():
        return None
    try:
        os.close(own(path))  # taken for a moment, released at once
    except AnalyticsUnavailable as error:
        return str(error)
    return None


def _lock_file(path: Path) -> Path:
    return path.with_name(f"{path.name}.lock")


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(_lock_file(path), os.O_RDWR | os.O_CREAT, 0o600)


def _pid_in(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None


def _in_use(path: Path, pid: int | None) -> str:
    by = f" (process {pid})" if pid is not None else ""
    return (
        f"the analytics data directory {path} is in use by another process{by}: chDB lets "
        "one process open it. Give each server its own DBIFY_DATA_DIR, or, to run several, "
        "a ClickHouse server (DBIFY_ANALYTICS__STORE=clickhouse)"
    )
