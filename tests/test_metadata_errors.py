"""A metadata store that cannot be used: one line naming it (password hidden) and why,
exit status 1, no traceback; from the CLI and from ``dbify serve`` alike."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from tests.fixtures.database import _run, server_url


def _refused_port() -> int:
    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def powerless_role() -> Iterator[str]:
    """A login role that may create nothing in ``public`` (PostgreSQL 15's default)."""
    role = f"dbify_meta_{secrets.token_hex(4)}"
    anyio.run(_run, server_url(), f'CREATE ROLE "{role}" LOGIN')
    yield role
    anyio.run(_run, server_url(), f'DROP ROLE IF EXISTS "{role}"')


def _url(user: str, port: int, database: str) -> str:
    return f"postgresql://{user}:s3cret@127.0.0.1:{port}/{database}"


def _dbify(tmp_path: Path, metadata_url: str | None, *arguments: str) -> tuple[int, str]:
    env = {**os.environ, "DBIFY_DATA_DIR": str(tmp_path / "data")}
    env.pop("DBIFY_METADATA__URL", None)
    if metadata_url is not None:
        env["DBIFY_METADATA__URL"] = metadata_url
    done = subprocess.run(
        [sys.executable, "-m", "dbify", *arguments],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout.decode() + done.stderr.decode()


CASES: dict[str, Callable[[Path, str, int], tuple[str | None, str]]] = {
    "refused": lambda _, __, port: (_url("postgres", port, "meta"), "Connection refused"),
    "no database": lambda _, __, ___: (
        _url("postgres", 5432, "dbify_no_such_metadata"),
        'database "dbify_no_such_metadata" does not exist',
    ),
    "no rights": lambda _, role, __: (_url(role, 5432, "postgres"), "permission denied"),
    "unsupported": lambda _, __, ___: ("mysql://me:s3cret@db/meta", "use sqlite or postgresql"),
    "no data dir": lambda tmp, _, __: (None, f"{tmp / 'data'} exists and is not a directory"),
}


@pytest.mark.parametrize("command", [("migrate",), ("serve", "--port", "0")])
@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_metadata_store_is_one_line(
    tmp_path: Path, powerless_role: str, case: str, command: tuple[str, ...]
) -> None:
    url, reason = CASES[case](tmp_path, powerless_role, _refused_port())
    if url is None:  # the SQLite file's directory cannot be made: a file is in the way
        (tmp_path / "data").write_text("not a directory")
    status, output = _dbify(tmp_path, url, *command)
    assert status == 1, output
    assert "Error: The metadata store " in output
    assert "cannot be used: " in output
    assert reason in output
    assert "Traceback" not in output
    assert "s3cret" not in output
    assert "CREATE TABLE" not in output  # the driver's message, never the SQL it ran


def test_an_unusable_master_key_file_is_one_line(
    tmp_path: Path, make_database: Callable[..., str]
) -> None:
    """With the metadata in PostgreSQL, the data directory still holds the generated
    master key; one that cannot be made is the same kind of one-line error."""
    (tmp_path / "data").write_text("not a directory")
    status, output = _dbify(tmp_path, make_database(), "keys", "list", "p1")
    assert status == 1, output
    assert f"Error: the master key file {tmp_path / 'data' / 'master.key'} cannot be used" in output
    assert "Traceback" not in output
