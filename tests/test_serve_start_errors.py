"""``dbify serve`` on a port another process listens on: one line, exit status 1, and
its cleanup ran (pools and the metadata store closed: no "Task was destroyed")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_a_taken_port_is_one_line_and_a_clean_exit(
    tmp_path: Path, fixture_database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "dbify", "serve", "--database-url", fixture_database_url,
             "--port", str(port)],
            env={**os.environ, "DBIFY_DATA_DIR": str(tmp_path)},
            capture_output=True, timeout=120,
        )  # fmt: skip
    errors = done.stderr.decode()
    assert done.returncode == 1, errors
    assert f"Error: Could not listen on 127.0.0.1:{port}" in errors
    assert "address already in use" in errors  # uvicorn's own line says why
    assert "Traceback" not in errors
    assert "Task was destroyed" not in errors
    assert done.stdout == b""  # no banner
