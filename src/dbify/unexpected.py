"""One log line for an exception nobody expected, instead of a stack trace.

A bug that reaches the server's edge (the data API's direct path, the ASGI app) or a
background loop is logged as its type and the innermost frame it was raised in
(``KeyError at dbify/dataplane/respond.py:88 in respond_read``): enough to find it, and
nothing from the request or the database. Its message is left out on purpose: an
exception's text can carry a filter value, a row, a header or a connection URL, and the
stack's frames can hold the same in their source lines. The client gets the catalogue's
``DBIFY500`` JSON error.
"""

from __future__ import annotations

import logging

from dbify.errors import Codes, DbifyError

__all__ = ["INTERNAL_ERROR", "describe_unexpected", "log_unexpected"]

INTERNAL_ERROR = DbifyError(Codes.INTERNAL, "Internal server error")  # rendered, never raised

_log = logging.getLogger("dbify.unexpected")


def describe_unexpected(exc: BaseException) -> str:
    """``module.Type at file:line in function`` of the frame that raised ``exc``.

    >>> try:
    ...     {}["secret value"]
    ... except KeyError as error:
    ...     line = describe_unexpected(error)
    >>> line.startswith("builtins.KeyError at ") and "secret" not in line
    True
    """
    kind = type(exc)
    name = f"{kind.__module__}.{kind.__qualname__}"
    frame = exc.__traceback__
    if frame is None:
        return name
    while frame.tb_next is not None:
        frame = frame.tb_next
    code = frame.tb_frame.f_code
    return f"{name} at {_short_path(code.co_filename)}:{frame.tb_lineno} in {code.co_name}"


def log_unexpected(what: str, exc: BaseException, logger: logging.Logger | None = None) -> None:
    """Log ``what`` failed, with ``describe_unexpected(exc)``, as one error line."""
    (logger or _log).error("%s: %s", what, describe_unexpected(exc))


def _short_path(filename: str) -> str:
    """The path from the package on (``dbify/...``, ``asyncpg/...``), not the machine's."""
    for marker in ("/site-packages/", "/src/", "/lib/python"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    return filename.rsplit("/", 1)[-1]
