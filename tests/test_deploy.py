"""``deploy/`` cannot run here (no Docker daemon): check what can be checked.

The compose file is valid YAML with the scale-out services, every ``DBIFY_*`` variable
in the env example and the compose file is a real setting, and the PgBouncer config
generator renders a transaction-mode config (started for real in
``tests/dataplane/test_pgbouncer.py``'s layout)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
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


def _kubernetes() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {}).get("template", {}).get("spec", {})
    containers: list[dict[str, Any]] = spec.get("containers", [])
    return containers


def test_kubernetes_manifests_have_serve_worker_scheduler_probes_and_autoscaling() -> None:
    documents = _kubernetes()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert {("Deployment", "dbify-serve"), ("Deployment", "dbify-worker"),
            ("Deployment", "dbify-scheduler"), ("Service", "dbify"),
            ("HorizontalPodAutoscaler", "dbify-serve"), ("ConfigMap", "dbify-config"),
            ("Secret", "dbify-secrets"), ("Job", "dbify-migrate")} <= kinds  # fmt: skip
    by_name = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for deployment in by_name.values():  # every Deployment selects its own pods
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for container in _containers(deployment):
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
    hpa = next(d for d in documents if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] in by_name
    # The commands are real CLI commands.
    from click.testing import CliRunner

    from dbify.cli import main

    for deployment in [*by_name.values(), *(d for d in documents if d["kind"] == "Job")]:
        for container in _containers(deployment):
            result = CliRunner().invoke(main, [*container["args"], "--help"])
            assert result.exit_code == 0, (container["args"], result.output)


def test_kubernetes_probes_point_at_real_paths() -> None:
    serve = next(d for d in _kubernetes() if d["metadata"]["name"] == "dbify-serve")
    (container,) = _containers(serve)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probes = {k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    from dbify.app import DbifyApp
    from dbify.dataplane.project import StaticProjectDirectory

    app = DbifyApp(StaticProjectDirectory([]), public_url="http://test", max_body_bytes=1024)

    async def statuses() -> dict[str, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return {p["path"]: (await client.get(p["path"])).status_code for p in probes.values()}

    for probe in probes.values():
        assert probe["port"] in ports
    assert asyncio.run(statuses()) == {"/healthz": 200, "/readyz": 200}


def test_every_dbify_variable_in_the_kubernetes_manifests_is_a_setting() -> None:
    variables: set[str] = set()
    for document in _kubernetes():
        if document["kind"] in ("ConfigMap", "Secret"):
            variables |= set(document.get("data", {})) | set(document.get("stringData", {}))
        for container in _containers(document):
            variables |= {e["name"] for e in container.get("env", [])}
    assert {"DBIFY_MASTER_KEY", "DBIFY_METADATA__URL"} <= variables
    assert sorted(v for v in variables if not _is_setting(v)) == []
