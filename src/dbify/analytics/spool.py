"""The on-disk spool: queue messages the broker could not take, kept until it returns.

One file per message, named by a growing sequence number so replay keeps the order.
The spool is bounded by ``max_bytes``; ``put`` returns False when a message does not
fit (the caller counts it as dropped). Files are written to a temporary name and
renamed, so a crash never leaves half a message to replay.

The spool belongs to one process (its data directory): it counts its files in memory,
so the publisher's check before every flush ("anything to replay?", ~20 times a second
under load) touches the disk only when something was spooled.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Spool"]


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        files = self._files()
        self.size = sum(path.stat().st_size for path in files)
        self._count = len(files)
        self._next = int(files[-1].stem) + 1 if files else 1

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.msg"))

    def __len__(self) -> int:
        return self._count

    def put(self, body: bytes) -> bool:
        if self.size + len(body) > self.max_bytes:
            return False
        path = self.directory / f"{self._next:020d}.msg"
        self._next += 1
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(body)
        os.replace(temporary, path)
        self.size += len(body)
        self._count += 1
        return True

    def oldest(self, limit: int) -> list[tuple[Path, bytes]]:
        if not self._count:
            return []
        return [(path, path.read_bytes()) for path in self._files()[:limit]]

    def remove(self, paths: list[Path]) -> None:
        for path in paths:
            self.size -= path.stat().st_size
            path.unlink()
            self._count -= 1
