"""The control-plane CLI against the metadata store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbify.cli import main


@pytest.fixture
def cli_env(metadata_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DBIFY_DATA_DIR": str(tmp_path / "data"),
        "DBIFY_METADATA__URL": metadata_url,
        "DBIFY_SERVER__PUBLIC_URL": "https://dbify.example",
    }


def _invoke(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_project_and_key_lifecycle(cli_env: dict[str, str], fixture_database_url: str) -> None:
    assert "up to date" in _invoke(cli_env, "migrate")
    created = json.loads(
        _invoke(
            cli_env,
            "projects",
            "create",
            "--name",
            "shop",
            "--database-url",
            fixture_database_url,
            "--json",
        )
    )
    assert set(created) == {"id", "rest_url", "anon_key", "service_key"}
    assert created["rest_url"] == f"https://dbify.example/p/{created['id']}/rest/v1"

    listed = _invoke(cli_env, "projects", "list")
    assert created["id"] in listed
    shown = json.loads(_invoke(cli_env, "projects", "show", created["id"]))
    assert shown["name"] == "shop"
    assert shown["status"]["reachable"] is True

    key = json.loads(_invoke(cli_env, "keys", "create", created["id"], "--name", "ci", "--json"))
    keys = json.loads(_invoke(cli_env, "keys", "list", created["id"], "--json"))
    assert {k["name"] for k in keys} == {"anon", "service", "ci"}
    assert key["key"] not in json.dumps(keys)
    _invoke(cli_env, "keys", "revoke", created["id"], key["id"])
    keys = json.loads(_invoke(cli_env, "keys", "list", created["id"], "--json"))
    assert key["id"] not in {k["id"] for k in keys}

    _invoke(cli_env, "projects", "delete", created["id"], "--yes")
    assert created["id"] not in _invoke(cli_env, "projects", "list")


def test_errors_are_clear(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main,
        [
            "projects",
            "create",
            "--name",
            "x",
            "--database-url",
            "postgresql://postgres:hunter22@127.0.0.1:1/db",
        ],
        env=cli_env,
    )
    assert result.exit_code == 1
    assert "Connection refused" in result.output
    assert "hunter22" not in result.output
    result = CliRunner().invoke(main, ["projects", "show", "nope"], env=cli_env)
    assert result.exit_code == 1
    assert "not found" in result.output


def test_create_admin(cli_env: dict[str, str]) -> None:
    output = _invoke(
        cli_env, "users", "create-admin", "--email", "root@example.com", "--password", "s3cret-pw"
    )
    assert "root@example.com" in output


def test_create_with_owner(cli_env: dict[str, str], fixture_database_url: str) -> None:
    """``--owner EMAIL`` makes an existing user the project's owner (they get its emails)."""
    import asyncio

    from dbify.control.projects.store import ProjectStore
    from dbify.metadata import open_metadata_store

    _invoke(cli_env, "migrate")
    _invoke(cli_env, "users", "create-admin", "--email", "boss@example.com",
            "--password", "correct horse")  # fmt: skip
    args = ["projects", "create", "--name", "shop", "--database-url", fixture_database_url]
    missing = CliRunner().invoke(main, [*args, "--owner", "nobody@example.com"], env=cli_env)
    assert missing.exit_code == 1
    assert "No user with the email" in missing.output
    created = json.loads(_invoke(cli_env, *args, "--owner", "Boss@example.com", "--json"))

    async def members() -> list[tuple[str, str]]:
        store = open_metadata_store(cli_env["DBIFY_METADATA__URL"])
        try:
            found = await ProjectStore(store.engine).members(created["id"])
        finally:
            await store.close()
        return [(m.email, m.role) for m in found]

    assert asyncio.run(members()) == [("boss@example.com", "owner")]


def test_access_roles_and_project_settings(
    cli_env: dict[str, str], fixture_database_url: str, tmp_path: Path
) -> None:
    _invoke(cli_env, "migrate")
    created = json.loads(
        _invoke(cli_env, "projects", "create", "--name", "p", "--database-url",
                fixture_database_url, "--json")
    )  # fmt: skip
    project = created["id"]
    definition = tmp_path / "role.json"
    definition.write_text(
        json.dumps({"tables": {"publishers": {"privileges": ["select"], "row_filter": "id=eq.1"}}})
    )
    role = json.loads(
        _invoke(cli_env, "access-roles", "create", project, "reader", "--definition",
                f"@{definition}")
    )  # fmt: skip
    assert role["tables"]["publishers"]["row_filter"] == "id=eq.1"
    assert "reader" in _invoke(cli_env, "access-roles", "list", project)
    _invoke(cli_env, "access-roles", "replace", project, "reader", "--definition", '{"tables": {}}')
    assert json.loads(_invoke(cli_env, "access-roles", "show", project, "reader"))["tables"] == {}
    _invoke(cli_env, "access-roles", "delete", project, "reader")
    assert json.loads(_invoke(cli_env, "access-roles", "list", project)) == []

    secret = "s" * 48
    shown = _invoke(
        cli_env, "projects", "update", project, "--jwt-secret", secret, "--cors-origin",
        "https://app.example", "--rate-limit-per-key", "5", "--max-body-bytes", "1000",
    )  # fmt: skip
    assert secret not in shown
    out = json.loads(shown)
    assert out["jwt_secret_set"] is True
    assert out["config"]["cors_origins"] == ["https://app.example"]
    assert out["config"]["rate_limit_per_key"] == 5
    kept = json.loads(_invoke(cli_env, "projects", "update", project, "--log-retention-days", "7"))
    assert kept["config"]["log_retention_days"] == 7
    refused = CliRunner().invoke(
        main, ["projects", "update", project, "--log-retention-days", "31"], env=cli_env
    )
    assert refused.exit_code != 0
    assert "at most 30" in refused.output
    cleared = _invoke(cli_env, "projects", "update", project, "--log-retention-days", "0")
    assert json.loads(cleared)["config"]["log_retention_days"] is None
    key = json.loads(
        _invoke(cli_env, "keys", "create", project, "--name", "k", "--rate-limit", "2", "--json")
    )
    assert key["rate_limit_per_second"] == 2
    updated = json.loads(_invoke(cli_env, "keys", "update", project, key["id"]))
    assert updated["rate_limit_per_second"] is None


def test_config_show_masks_every_secret(tmp_path: Path) -> None:
    """``dbify config show`` prints the effective settings without any secret: secret
    fields are masked and so is the password of every URL (broker, Redis, ClickHouse)."""
    password = "Cfg-Pw-91xq-unlikely"
    env = {
        "DBIFY_DATA_DIR": str(tmp_path / "data"),
        "DBIFY_MASTER_KEY": "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI=",
        "DBIFY_AUTH__JWT_SECRET": password + "-jwt-secret-long-enough",
        "DBIFY_METADATA__URL": f"postgresql://dbify:{password}@db:5432/meta",
        "DBIFY_ANALYTICS__QUEUE_URL": f"amqp://user:{password}@rabbit:5672/",
        "DBIFY_ANALYTICS__CLICKHOUSE_URL": f"clickhouse://default:{password}@ch:9000/dbify",
        "DBIFY_AUTH__RATE_LIMIT_REDIS_URL": f"redis://:{password}@redis:6379/0",
    }
    out = _invoke(env, "config", "show")
    shown = json.loads(out)
    assert password not in out
    assert "Zm9vYmFy" not in out
    assert shown["analytics"]["queue_url"] == "amqp://user:***@rabbit:5672/"
    assert shown["auth"]["rate_limit_redis_url"] == "redis://:***@redis:6379/0"


def test_the_workers_banner_states_the_connections_a_project_may_take(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dbify.control.serve import Listening, print_banner

    listening = Listening("http://127.0.0.1:8080", None, projects=3)
    print_banner(listening, as_json=False, workers=4, pool_size=10)
    out = capsys.readouterr().out
    assert "4 processes on one port" in out
    assert "4 times each project's pool_size" in out
    assert "(default pool_size 10: 40 a project)" in out
    print_banner(listening, as_json=False)  # one process: no such lines
    assert "Connections" not in capsys.readouterr().out
