"""deploy/*.yaml match the Dockerfile, the CLI and the settings: the manifests a deploy starts from would run."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from starlette.routing import Route

from server import settings as config_module
from server.app import create_app
from server.cli import build_parser
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for name in ("kubernetes.yaml", "migrate-job.yaml"):
        for doc in yaml.safe_load_all((ROOT / "deploy" / name).read_text()):
            found[doc["kind"]] = doc
    return found


def pod(kind: str) -> dict[str, Any]:
    return manifests()[kind]["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_the_commands_are_the_cli_s_and_the_migration_step_is_the_readme_s() -> None:
    serve = pod("Deployment")["containers"][0]["command"]
    migrate = pod("Job")["containers"][0]["command"]
    assert serve[0] == migrate[0] == "customer-graph"
    assert build_parser().parse_args(serve[1:]).command == "serve"
    assert migrate == ["customer-graph", "migrate", "upgrade"]
    assert "`customer-graph migrate upgrade`" in (ROOT / "docs" / "DEPLOY.md").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert cmd and yaml.safe_load(cmd.group(1))[:2] == serve[:2]


def test_port_user_and_probes_match_the_image_and_the_app() -> None:
    spec = pod("Deployment")
    container = spec["containers"][0]
    expose = re.search(r"^EXPOSE (\d+)$", DOCKERFILE, re.M)
    uid = re.search(r"useradd [^\n]*--uid (\d+)", DOCKERFILE)
    assert expose and uid
    assert container["ports"][0]["containerPort"] == int(expose.group(1))
    assert spec["securityContext"]["runAsUser"] == int(uid.group(1)) == pod("Job")["securityContext"]["runAsUser"]
    routes = {r.path for r in create_app(Settings()).routes if isinstance(r, Route)}
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready" in routes
    assert container["livenessProbe"]["httpGet"]["path"] == "/health" in routes


def test_the_configuration_is_real_settings_that_pass_the_production_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    config = manifests()["ConfigMap"]["data"]
    for key in list(os.environ):
        if re.match(r"^(APP|DATABASE|AUTH|STORAGE|EMAIL|AI|LIMITS)_", key):
            monkeypatch.delenv(key)
    known = set()
    for cls in vars(config_module).values():
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings:
            prefix = str(cls.model_config.get("env_prefix", ""))
            known |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    assert set(config) - known == set(), "the ConfigMap names settings that do not exist"
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:secret@10.0.0.5:5432/customer_graph")  # from the Secret
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 64)
    settings = Settings()
    assert settings.is_production
    assert settings.problems() == []
    # every pool together stays under PostgreSQL's max_connections (100, less a reserve for migrations and admins)
    workers = int(pod("Deployment")["containers"][0]["command"][-1])
    replicas = manifests()["Deployment"]["spec"]["replicas"]
    db = settings.database
    total = replicas * workers * (db.pool_size + db.max_overflow + db.read_pool_size)
    assert total <= 80, f"{total} connections at most"


def test_the_migration_job_runs_with_the_servers_configuration() -> None:
    assert pod("Job")["containers"][0]["envFrom"] == pod("Deployment")["containers"][0]["envFrom"]
    assert pod("Job")["restartPolicy"] == "Never"
