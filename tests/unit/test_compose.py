"""docker-compose.yml as a platform team would review it. No Compose here to run ``docker compose
config`` (Debian 12 packages only docker-compose 1.29, which predates the file's features), so the
file is read with a YAML parser (merge keys resolved, as Compose does) and its rules checked:
loopback-bound ports, no secret on a command line, secrets only where used, exact image tags, the
workers waiting for the API server, the build context and one source for the DAGs and the package."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}")
SECRETS = ("POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "EXCHANGE_DB_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY",
           "AIRFLOW_API_SECRET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD", "FLOWER_BASIC_AUTH")


def defaults(text: str) -> str:
    """``${VAR:-default}`` → default (what an unset variable gives)."""
    return VAR.sub(lambda m: m.group(2) if m.group(2) is not None and "set " not in m.group(2) else f"<{m.group(1)}>",
                   text)


def secrets_of(service: dict[str, Any]) -> set[str]:
    env = service.get("environment") or {}
    return {name for value in env.values() for name in VAR.findall(str(value)) for name in [name[0]]
            if name in SECRETS}


def test_published_ports_listen_on_loopback_by_default() -> None:
    published = {name: [defaults(str(p)) for p in s.get("ports", [])] for name, s in SERVICES.items()}
    assert published["airflow-apiserver"] == ["127.0.0.1:8080:8080"]
    assert published["flower"] == ["127.0.0.1:5555:5555"]
    assert all(p.startswith("127.0.0.1:") for ports in published.values() for p in ports)


def test_no_secret_on_a_command_line() -> None:
    for name, service in SERVICES.items():
        words = [*(service.get("command") or []), *(service.get("entrypoint") or [])] if isinstance(
            service.get("command"), list) else [str(service.get("command") or ""), str(service.get("entrypoint") or "")]
        words.append(str((service.get("healthcheck") or {}).get("test")))
        used = {v[0] for w in words for v in VAR.findall(str(w))}
        assert not used & set(SECRETS), f"{name}: {used & set(SECRETS)} on a command line"


@pytest.mark.parametrize(("service", "allowed"), [
    ("airflow-worker", {"AIRFLOW_JWT_SECRET", "REDIS_PASSWORD", "AIRFLOW_DB_PASSWORD", "EXCHANGE_DB_PASSWORD"}),
    ("airflow-dag-processor", {"AIRFLOW_JWT_SECRET", "AIRFLOW_DB_PASSWORD"}),
    ("airflow-scheduler", {"AIRFLOW_JWT_SECRET", "AIRFLOW_DB_PASSWORD", "AIRFLOW_FERNET_KEY", "REDIS_PASSWORD"}),
    ("airflow-triggerer", {"AIRFLOW_JWT_SECRET", "AIRFLOW_DB_PASSWORD", "AIRFLOW_FERNET_KEY"}),
    ("airflow-apiserver", {"AIRFLOW_JWT_SECRET", "AIRFLOW_DB_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_API_SECRET_KEY",
                           "EXCHANGE_DB_PASSWORD"}),
    ("flower", {"AIRFLOW_JWT_SECRET", "REDIS_PASSWORD", "AIRFLOW_DB_PASSWORD", "FLOWER_BASIC_AUTH"}),
    ("redis", {"REDIS_PASSWORD"}),
    ("postgres", {"POSTGRES_PASSWORD"}),
])
def test_each_service_gets_only_the_secrets_it_uses(service: str, allowed: set[str]) -> None:
    assert secrets_of(SERVICES[service]) == allowed
    assert ("env_file" in SERVICES[service]) == (service == "airflow-worker"), "agency connections: workers only"


def test_images_are_pinned_to_exact_versions() -> None:
    images = {name: defaults(s["image"]) for name, s in SERVICES.items() if "image" in s}
    for name, image in images.items():
        tag = image.rsplit(":", 1)[-1]
        assert re.match(r"\d+\.\d+(\.\d+)?(-|$)", tag), f"{name}: {image} is not an exact version"  # PostgreSQL: 16.6
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"ARG AIRFLOW_VERSION=\d+\.\d+\.\d+", dockerfile)


def test_airflow_components_wait_for_the_api_server_and_flower_needs_a_password() -> None:
    for name in ("airflow-worker", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "flower"):
        assert SERVICES[name]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}, name
    assert "FLOWER_BASIC_AUTH" in str(SERVICES["flower"]["environment"]["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"])


def test_the_dags_and_the_package_come_from_one_image_and_the_build_context_is_small() -> None:
    mounts = [str(v) for s in SERVICES.values() for v in s.get("volumes", [])]
    assert not any(m.startswith("./dags") for m in mounts), "DAG files are baked in with the package"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY --chown=airflow:0 dags /opt/airflow/dags" in dockerfile
    rules = [line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "everything is left out unless named"
    assert set(rules[1:]) >= {"!exchange/", "!connectors/", "!dags/", "!pyproject.toml"}
    assert not {r for r in rules if r.startswith("!") and (".venv" in r or "var" in r or "env" in r)}
