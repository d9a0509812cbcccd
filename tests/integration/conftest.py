"""Real services for integration tests: each test gets its own uniquely named database,
dropped afterwards. Under ``CI=true`` a missing service is a failure, never a skip; on a
developer's machine the tests skip with a message that says how to run them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.spec.settings import Settings
from tests.conftest import write
from tests.integration.crash import FEED, Children, use_project

PG_ADMIN_URL = os.environ.get("EXCHANGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN_URL = os.environ.get("EXCHANGE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/mysql")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(service: str, exc: BaseException, how: str) -> None:
    message = f"{service} is not reachable ({type(exc).__name__}: {exc}). {how}"
    if IN_CI:
        pytest.fail(f"CI=true: integration tests must not skip: {message}")
    pytest.skip(message)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (URL with the psycopg 3 driver), dropped after the test."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = unique_name("exchange_test")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "service missing"
        admin.dispose()
        unavailable("PostgreSQL", exc, "Start it (127.0.0.1:5432, user postgres, trust auth) or set "
                    "EXCHANGE_TEST_PG to an admin URL, then `make test`.")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def children() -> Iterator[Children]:
    """``exchange run`` children stopped at fault points (tests/integration/crash.py). A child paused
    at a fault point must never outlive its test (it would hold locks and connections that block
    every later DROP DATABASE on the server): whatever still runs is killed at the end."""
    kids = Children()
    try:
        yield kids
    finally:
        kids.reap()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh MariaDB/MySQL database (PyMySQL driver), dropped after the test."""
    from sqlalchemy import create_engine, text

    admin = create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = unique_name("exchange_test")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        unavailable("MariaDB", exc, "Start it (127.0.0.1:3306, root, empty password) or set "
                    "EXCHANGE_TEST_MARIADB, then `make test`.")
    try:
        yield MARIADB_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


OTHER_FEED = (FEED.replace("agency: police", "agency: justice").replace("feed: residents", "feed: other")
              .replace("police/*.csv", "other/*.csv"))


@pytest.fixture
def pg_project(project: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    write(project / "feeds" / "justice" / "other.yaml", OTHER_FEED)
    return use_project(project, tmp_path, monkeypatch, pg_url, batch_rows=2000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
