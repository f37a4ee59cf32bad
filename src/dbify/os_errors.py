"""One line for the user out of an ``OSError`` met while starting up (a data directory
that cannot be made, a server refusing connections): the system's words for its errno
and the path it concerns, the same whichever layer raised it (asyncio says "Connect call
failed" for a refused connection, ``mkdir(exist_ok=True)`` "File exists" for a file in
the way)."""

from __future__ import annotations

import os

__all__ = ["os_error_line"]


def os_error_line(error: OSError) -> str:
    """
    >>> os_error_line(NotADirectoryError(20, "Not a directory", "/srv/x"))
    'Not a directory: /srv/x'
    >>> os_error_line(ConnectionRefusedError(111, "Connect call failed ('h', 5)"))
    'Connection refused'
    """
    if isinstance(error, FileExistsError):
        return f"{error.filename} exists and is not a directory"
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"{reason}: {error.filename}" if error.filename else reason
