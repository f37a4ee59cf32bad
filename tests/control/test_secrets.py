"""Secrets at rest: several master keys, `dbify secrets new-key|rotate|check`, and the
start-up refusal when a stored secret cannot be decrypted (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import orjson
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from dbify.cli import main
from dbify.control import open_control_plane
from dbify.control.secrets import SEALED_COLUMNS
from dbify.control.webhooks.store import WebhookStore
from dbify.metadata.tables import metadata
from dbify.secrets_box import SecretBox, SecretBoxError, add_key_to_file, load_secret_box
from dbify.settings import Settings
from tests.fixtures.control import open_control, sign_up_and_token
from tests.fixtures.server import start_server, stop_server

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
JWT_SECRET = "j" * 48


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


async def _async_cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    """``_cli`` from a test already in an event loop (the commands run their own)."""
    return await anyio.to_thread.run_sync(lambda: _cli(env, *args, code=code))


def test_every_sealed_column_is_in_the_catalogue() -> None:
    found = {
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_sealed")
    }
    assert found == {sealed.name for sealed in SEALED_COLUMNS}


def test_key_file_keeps_several_keys_newest_first(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    old = load_secret_box(settings)
    sealed = old.encrypt("postgresql://u:pw@h/db")
    path = tmp_path / "d" / "master.key"
    first = path.read_text().split()[0]

    env = {"DBIFY_DATA_DIR": str(tmp_path / "d")}
    said = _cli(env, "secrets", "new-key")
    assert "2 keys" in said
    assert first not in said
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rotating = load_secret_box(settings)
    assert rotating.key_count == 2
    assert rotating.decrypt(sealed) == "postgresql://u:pw@h/db"  # the old key still opens
    assert not rotating.is_current(sealed)
    assert rotating.is_current(rotating.rotate(sealed))
    assert path.read_text().splitlines()[-1] == first  # retired, below the new one
    assert add_key_to_file(path) == 3

    # With DBIFY_MASTER_KEY the key is only printed, to prepend by hand; no file written.
    configured = {"DBIFY_DATA_DIR": str(tmp_path / "e"), "DBIFY_MASTER_KEY": KEY_A}
    result = CliRunner().invoke(main, ["secrets", "new-key"], env=configured)
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    assert SecretBox([printed.encode()]).decrypt(SecretBox([printed.encode()]).encrypt("x"))
    assert KEY_A not in result.output
    assert not (tmp_path / "e" / "master.key").exists()


async def _seal_everything(settings: Settings, database_url: str) -> dict[str, Any]:
    """A project with a JWT secret and a webhook, all sealed under ``settings``' keys."""
    async with open_control(settings) as c:
        token = await sign_up_and_token(c.api)
        response = await c.api.post(
            "/projects", json={"name": "p", "database_url": database_url}, headers=_auth(token)
        )
        assert response.status_code == 201, response.text
        project: dict[str, Any] = response.json()
        patched = await c.api.patch(
            f"/projects/{project['id']}", json={"jwt_secret": JWT_SECRET}, headers=_auth(token)
        )
        assert patched.status_code == 200, patched.text
        hook = await c.api.post(
            f"/projects/{project['id']}/webhooks",
            json={"url": "http://127.0.0.1:9/in"},
            headers=_auth(token),
        )
        assert hook.status_code == 201, hook.text
        project["webhook"] = hook.json()
        return project


@pytest.mark.anyio
async def test_rotate_then_drop_the_old_key(
    control_settings: Callable[..., Settings],
    metadata_url: str,
    tmp_path: Path,
    fixture_database_url: str,
) -> None:
    project = await _seal_everything(
        control_settings(master_key=KEY_A, webhooks={"allowed_hosts": ["127.0.0.1/32"]}),
        fixture_database_url,
    )
    env = {"DBIFY_DATA_DIR": str(tmp_path / "data"), "DBIFY_METADATA__URL": metadata_url}

    # B configured first, A retired: rotate re-seals the 3 values, a re-run none.
    both = {**env, "DBIFY_MASTER_KEY": f"{KEY_B},{KEY_A}"}
    report = orjson.loads(await _async_cli(both, "secrets", "rotate", "--json"))
    assert report == {
        "rotated": {"projects": 2, "webhook_endpoints": 1},
        "seen": {"projects": 2, "webhook_endpoints": 1},
    }
    again = orjson.loads(await _async_cli(both, "secrets", "rotate", "--json"))
    assert again["rotated"] == {"projects": 0, "webhook_endpoints": 0}
    assert "0 secret(s)" in await _async_cli(both, "secrets", "rotate")

    # Only B now: everything decrypts, the data API (anon key, project JWT) works.
    async with open_control(control_settings(master_key=KEY_B)) as c:
        rows = f"/p/{project['id']}/rest/v1/publishers"
        response = await c.data.get(rows, headers={"apikey": project["anon_key"]})
        assert response.status_code == 200, response.text
        signed = jwt.encode({"sub": "u1", "exp": int(time.time()) + 60}, JWT_SECRET)
        response = await c.data.get(rows, headers=_auth(signed))
        assert response.status_code == 200, response.text
        endpoint = await WebhookStore(c.plane.store.engine).endpoint(
            project["id"], project["webhook"]["id"]
        )
        assert endpoint is not None
        assert (
            SecretBox([KEY_B.encode()]).decrypt(endpoint.secret_sealed)
            == (project["webhook"]["secret"])
        )
    assert "Every stored secret" in await _async_cli(
        {**env, "DBIFY_MASTER_KEY": KEY_B}, "secrets", "check"
    )

    # Only the old key: refused, saying where and what to do, never a key or a secret.
    with pytest.raises(SecretBoxError) as refused:
        await open_control_plane(control_settings(master_key=KEY_A))
    message = str(refused.value)
    assert "3 secret(s)" in message
    assert "cannot be decrypted" in message
    assert f"projects.database_url_sealed of {project['id']}" in message
    for secret in (KEY_A, KEY_B, JWT_SECRET, project["webhook"]["secret"], fixture_database_url):
        assert secret not in message
    said = await _async_cli({**env, "DBIFY_MASTER_KEY": KEY_A}, "secrets", "rotate", code=1)
    assert "cannot be decrypted" in said
    assert KEY_A not in said


def test_server_after_rotation(tmp_path: Path, fixture_database_url: str) -> None:
    """The real `dbify serve`: sealed with A, rotated to B, served with B alone; A alone
    is refused at start with a clear message and no traceback."""
    store = {"DBIFY_METADATA__URL": f"sqlite:///{tmp_path / 'metadata.db'}"}
    first = start_server(fixture_database_url, env={**store, "DBIFY_MASTER_KEY": KEY_A})
    stop_server(first)
    env = {**store, "DBIFY_DATA_DIR": str(tmp_path / "data")}
    assert "Re-encrypted 1 secret(s)" in _cli(
        {**env, "DBIFY_MASTER_KEY": f"{KEY_B},{KEY_A}"}, "secrets", "rotate"
    )

    server = start_server(fixture_database_url, env={**store, "DBIFY_MASTER_KEY": KEY_B})
    try:
        assert server.id == first.id  # the same project, its URL decrypted with B
        response = httpx.get(
            f"{server.rest_url}/publishers", headers={"apikey": server.service_key}, timeout=30
        )
        assert response.status_code == 200, response.text
    finally:
        stop_server(server)

    with pytest.raises(RuntimeError) as refused:
        start_server(fixture_database_url, env={**store, "DBIFY_MASTER_KEY": KEY_A})
    log = str(refused.value)
    assert "cannot be decrypted by any configured master key" in log
    assert "Traceback" not in log
    assert KEY_A not in log
    assert KEY_B not in log
