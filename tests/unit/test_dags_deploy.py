"""docker-compose.yml, Dockerfile and .env.example agree with each other and with the project.

Docker cannot run on the CI machines (the Celery path itself is tested natively in
tests/integration/test_airflow_celery.py); these checks keep the production stack's files
consistent: every service the stack needs, secrets only from the environment, every variable
documented, the image's Airflow version the one the project pins.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker")


def test_the_stack_has_every_service_of_the_celery_executor() -> None:
    services = COMPOSE["services"]
    assert {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                        "airflow-worker": "celery worker"}
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker, "workers scale with --scale airflow-worker=N"
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET"), "one shared JWT secret"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_project_folders_are_mounted_and_the_project_is_in_the_image() -> None:
    volumes = COMPOSE["services"]["airflow-worker"]["volumes"]
    for folder, target in (("feeds", "/opt/exchange/feeds"), ("schemas", "/opt/exchange/schemas"),
                           ("grants", "/opt/exchange/grants")):
        assert f"./{folder}:{target}:ro" in volumes
        assert (REPO / folder).is_dir() or folder == "grants"
    assert "COPY --chown=airflow:0 dags /opt/airflow/dags" in DOCKERFILE, "the DAG files ship with the package"
    env = COMPOSE["services"]["airflow-worker"]["environment"]
    assert env["EXCHANGE_HOME"] == "/opt/exchange" and env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
    assert "COPY --chown=airflow:0 exchange ./exchange" in DOCKERFILE and "/opt/exchange" in DOCKERFILE
    pinned = re.search(r"ARG AIRFLOW_VERSION=(\S+)", DOCKERFILE).group(1)
    assert pinned == version("apache-airflow"), "the image runs the Airflow the project is tested with"


def test_metadata_and_warehouse_are_separate_databases() -> None:
    env = COMPOSE["services"]["airflow-init"]["environment"]  # it migrates both
    metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    warehouse = env["EXCHANGE_WAREHOUSE_URL"]
    assert metadata.endswith("@postgres:5432/airflow") and warehouse.endswith("@postgres:5432/exchange")
    init = COMPOSE["configs"]["postgres-init"]["content"]
    assert "CREATE DATABASE airflow OWNER airflow" in init and "CREATE DATABASE exchange OWNER exchange" in init


def test_secrets_come_from_the_environment_and_every_variable_is_documented() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_TEXT))  # $${X}: the container's own
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))
    assert used - documented == set(), "variables of docker-compose.yml missing from .env.example"
    for secret in ("POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "EXCHANGE_DB_PASSWORD", "REDIS_PASSWORD",
                   "AIRFLOW_FERNET_KEY", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"):
        assert re.search(rf"^{secret}=$", ENV_EXAMPLE, flags=re.MULTILINE), f"{secret}: no value in the example"
        assert f"${{{secret}:?" in COMPOSE_TEXT, f"{secret}: compose must refuse to start without it"
    assert ".env" in (REPO / ".gitignore").read_text().split()
