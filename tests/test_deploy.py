"""``deploy/`` cannot run here (no Docker daemon): check what can be checked.

The compose file validates against the Compose specification's JSON schema (vendored by
check-jsonschema; ``docker compose config`` needs the compose plugin, absent here) and
has the whole scale-out stack, every Dbify container runs a real CLI command, every
``DBIFY_*`` variable in the env example and the compose file is a real setting, the
Dockerfile builds a slim non-root image (hadolint is not installable from PyPI, npm or
Debian, so its main rules are checked here), and the PgBouncer config generator renders
a transaction-mode config (started for real in ``tests/dataplane/test_pgbouncer.py``'s
layout)."""

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


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return compose


def test_compose_file_has_the_scale_out_stack() -> None:
    services = _compose()["services"]
    assert {"metadata-db", "pgbouncer", "redis", "rabbitmq", "clickhouse", "elasticsearch",
            "dbify", "worker", "scheduler", "nginx", "migrate"} <= set(services)  # fmt: skip
    commands = {
        name: s["command"] for name, s in services.items() if s.get("image") == "dbify:latest"
    }
    assert commands["worker"][:3] == ["worker", "request-log", "webhooks"]
    assert "--metrics-port" in commands["worker"]  # scraped like the replicas
    assert commands["scheduler"][0] == "scheduler"
    # Exactly one kind of process does each background job: replicas only serve.
    for replica in ("dbify", "watcher"):
        env = services[replica]["environment"]
        for job in ("ANALYTICS__WORKER_ENABLED", "WEBHOOKS__WORKER_ENABLED", "SCHEDULER__ENABLED"):
            assert env[f"DBIFY_{job}"] == "false", (replica, job)
    # nginx balances over the replicas; the replicas are not published themselves.
    upstream = (DEPLOY / "nginx" / "dbify.conf").read_text()
    assert "server dbify:8000" in upstream
    assert [name for name, s in services.items() if s.get("ports")] == ["nginx"]
    from click.testing import CliRunner

    from dbify.cli import main

    for name, command in commands.items():
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0, (name, command, result.output)


def test_compose_file_follows_the_compose_specification() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(DEPLOY / "docker-compose.yml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # The schema is not vacuous: a misspelt key is refused.
    broken = _compose()
    broken["services"]["worker"]["comand"] = ["worker"]
    out = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         "-"],
        input=yaml.safe_dump(broken), capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr


def test_dockerfile_builds_a_slim_non_root_image() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert stages
    assert all(image.endswith("-slim") for image in stages), stages
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0"), users
    user_at = max(i for i, line in enumerate(final) if line.startswith("USER "))
    assert all(not line.startswith("RUN ") for line in final[user_at:])  # nothing as root after
    # hadolint DL3042 / DL3059-style hygiene: no pip cache in the image, no `latest` bases.
    assert all("--no-cache-dir" in line for line in final if "pip install" in line)
    assert all(":" in image and not image.endswith(":latest") for image in stages)
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in final)
    assert any(line.startswith("ENTRYPOINT") and "dbify" in line for line in final)
    root = DEPLOY.parent
    for line in lines:  # every COPY from the build context exists
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source


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


def test_kubernetes_worker_exposes_metrics_and_health_on_its_metrics_port() -> None:
    worker = next(d for d in _kubernetes() if d["metadata"]["name"] == "dbify-worker")
    (container,) = _containers(worker)
    args: list[str] = container["args"]
    port = int(args[args.index("--metrics-port") + 1])
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    # /healthz and /metrics are what the worker's metrics server answers
    # (tests/workers/test_worker_metrics.py runs it for real).
    from dbify.metrics import Metrics
    from dbify.workers.metrics import WorkerMetricsServer

    async def statuses() -> dict[str, int]:
        server = WorkerMetricsServer(Metrics(), [])
        bound = await server.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound}") as client:
                paths = ("/healthz", annotations["prometheus.io/path"])
                return {path: (await client.get(path)).status_code for path in paths}
        finally:
            await server.stop()

    assert asyncio.run(statuses()) == {"/healthz": 200, "/metrics": 200}


def test_every_dbify_variable_in_the_kubernetes_manifests_is_a_setting() -> None:
    variables: set[str] = set()
    for document in _kubernetes():
        if document["kind"] in ("ConfigMap", "Secret"):
            variables |= set(document.get("data", {})) | set(document.get("stringData", {}))
        for container in _containers(document):
            variables |= {e["name"] for e in container.get("env", [])}
    assert {"DBIFY_MASTER_KEY", "DBIFY_METADATA__URL"} <= variables
    assert sorted(v for v in variables if not _is_setting(v)) == []
