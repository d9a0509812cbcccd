"""A demo city on a throw-away PostgreSQL database with the repository's grants applied: what the
sharing integration tests and the attacker suite (``tests/security``) run against.

Every consumer login gets a random password (quotes and dollars included, so they must not break the
DDL); the database and the test's roles (a unique prefix) are dropped afterwards.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text

from exchange.access.changes import login_role, password_env
from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.workspace.demo import run_demo
from exchange.workspace.sharing import load_grants, sync_grants
from tests.conftest import REPO
from tests.integration.conftest import PG_ADMIN_URL, unavailable

KEY = "integration-pseudonym-key-" + "0" * 16


@dataclasses.dataclass
class City:
    settings: Settings
    url: str  # the admin URL of the test database
    dbname: str
    prefix: str
    grants: Any
    passwords: dict[str, str]

    def consumer(self, agency: str) -> psycopg.Connection:
        g = self.grants.get(agency)
        role = login_role(self.prefix, agency, g.logins[0])
        return psycopg.connect(host="127.0.0.1", port=5432, dbname=self.dbname, user=role,
                               password=self.passwords[role], autocommit=True)

    def admin(self) -> Any:
        return create_engine(self.url)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        engine = self.admin()
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()

    def execute(self, *statements: str) -> None:
        engine = self.admin()
        try:
            with engine.begin() as conn:
                for stmt in statements:
                    conn.exec_driver_sql(stmt)
        finally:
            engine.dispose()


def denied(conn: psycopg.Connection, query: str) -> bool:
    """Whether the server refuses ``query`` to this connection for lack of privilege."""
    from psycopg import errors as pg_errors

    try:
        conn.execute(query).fetchall()
    except pg_errors.InsufficientPrivilege:
        return True
    return False


def _pg_admin() -> Any:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def demo_city(work: Path, *, persons: int = 300, seed: int = 7) -> Iterator[City]:
    """Create the database, load the demo city, apply the grants; yield; drop everything."""
    admin = _pg_admin()
    dbname = f"exchange_sharing_{uuid.uuid4().hex[:10]}"
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "service missing"
        admin.dispose()
        unavailable("PostgreSQL", exc, "Start it (127.0.0.1:5432, user postgres, trust auth) or set "
                    "EXCHANGE_TEST_PG, then `make test`.")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{dbname}"
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("EXCHANGE_PSEUDONYM_KEY", KEY)
        mp.setenv("EXCHANGE_GRANT_ROLE_PREFIX", prefix)
        settings = Settings(root=REPO, warehouse_url=url, landing_dir=work / "landing",
                            staging_dir=work / "staging", reports_dir=work / "reports")
        catalog = load_catalog(REPO)
        grants = load_grants(settings, catalog)
        passwords = {}
        for g in grants:
            for lg in g.logins:
                pw = secrets.token_urlsafe(12) + "'$x$\\"
                passwords[login_role(prefix, g.consumer, lg)] = pw
                mp.setenv(password_env(g.consumer, lg), pw)
        run_demo(settings, catalog, persons=persons, seed=seed, say=lambda _m: None)
        sync_grants(apply=True, settings=settings, catalog=catalog, by="integration-test")
        yield City(settings, url, dbname, prefix, grants, passwords)
    finally:
        mp.undo()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
            roles = [r[0] for r in conn.execute(text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p) "
                                                     "ORDER BY rolcanlogin DESC"), {"p": prefix})]
            for role in roles:
                conn.execute(text(f'REASSIGN OWNED BY "{role}" TO postgres'))
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
