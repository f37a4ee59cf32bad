"""``deploy/`` cannot run here (no Docker daemon): check what can be checked.

The compose file is valid YAML with the scale-out services, every ``DBIFY_*`` variable
in the env example and the compose file is a real setting, and the PgBouncer config
generator renders a transaction-mode config (started for real in
``tests/dataplane/test_pgbouncer.py``'s layout)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel

from dbify.settings import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _is_setting(variable: str) -> bool:
    path = variable.removeprefix("DBIFY_").lower().split("__")
    model: type[BaseModel] = Settings
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_compose_file_has_the_scale_out_stack() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = set(compose["services"])
    assert {"metadata-db", "pgbouncer", "redis", "rabbitmq", "clickhouse", "dbify",
            "worker", "nginx", "migrate"} <= services  # fmt: skip


def test_every_dbify_variable_in_deploy_is_a_setting() -> None:
    text = (DEPLOY / "dbify.env.example").read_text() + (DEPLOY / "docker-compose.yml").read_text()
    variables = set(re.findall(r"\bDBIFY_[A-Z_]+", text))
    assert variables
    unknown = sorted(v for v in variables if not _is_setting(v) and v != "DBIFY_CONFIG")
    assert unknown == []


def test_pgbouncer_config_generator_renders_transaction_mode() -> None:
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "pgbouncer" / "generate.py"), "--upstream", "db:5432",
         "--statement-timeout-ms", "5000"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "pool_mode = transaction" in out
    assert "* = host=db port=5432 connect_query='SET statement_timeout = 5000'" in out
    assert "ignore_startup_parameters = extra_float_digits" in out
