"""Secrets and personal data stay out of logs, XComs and reports: a demo run through a real Airflow.

The demo city's feeds run as Airflow DAGs (scheduler, DAG processor and API server on a
temporary AIRFLOW_HOME, LocalExecutor), with every secret a production run has:

- the market regulation registry is a **MariaDB** database read by a login with a password,
  given as an Airflow connection (``AIRFLOW_CONN_MARKET_REGISTRY``);
- the mediation platform's API takes its token as a **query parameter** (``?key=…``, the
  hardest case: the token is in every request URL), given as ``EXCHANGE_CONN_JUSTICE_MEDIATION``;
- the warehouse and Airflow's metadata are **PostgreSQL** databases owned by roles with
  passwords (``EXCHANGE_WAREHOUSE_URL``, ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``);
- Airflow's JWT secret, API secret key, Fernet key and the UI's admin password; the exchange's
  API admin key and pseudonym key.

The feed DAGs of every source kind and format (:data:`FEEDS`) run once, the downstream DAGs
(person linking, publishing) run on the core tables' asset events; then ``exchange batches``,
``exchange audit report`` and ``exchange audit verify`` run on the same warehouse. What is
scanned, with :class:`exchange.audit.leaks.LeakScanner`:

- every file under ``AIRFLOW_HOME/logs`` (task logs, scheduler and DAG processor logs) and the
  stdout/stderr of every Airflow process and of every CLI command;
- every table of the Airflow metadata database — XComs, asset events and their extras, rendered
  task fields, the event log, DAG runs, task instances, serialized DAGs — except ``connection``
  (where Airflow keeps connections it manages, encrypted);
- every generated report: GX Data Docs pages and stored validation results, ``index.html``,
  ``catalog.json``, the auditors' ``audit-report.html``;
- staging's JSON (``manifest.json``, ``extract.json``, ``validation.json``).

Out of scope, because they *are* the data: the staged Parquet files, the warehouse's tables
(including quarantine's original values), the agencies' own files and databases. The test
asserts those do hold valid ID numbers — so finding none elsewhere means something — and that
the secrets were really used (the feeds behind them loaded rows).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_stack import AIRFLOW, AirflowStack, demo_city, running, warehouse_rows
from tests.integration.conftest import MARIADB_ADMIN_URL, PG_ADMIN_URL, unavailable, unique_name

EXCHANGE = str(Path(sys.executable).parent / "exchange")
# every source kind and file format of the demo, the two feeds behind secrets among them (all ten
# feeds run without Airflow in tests/e2e/test_demo_leaks.py; each Airflow task costs ~10 s of CPU here)
FEEDS = ("police.residents",                 # CSV, ragged rows, bad check characters
         "civil_affairs.members",            # TSV, full-width digits
         "justice.community_correction",     # xlsx, special population (highly sensitive)
         "health.mental_health",             # JSON
         "market_regulation.organizations",  # sql: MariaDB behind a password (an Airflow connection)
         "justice.disputes")                 # http: the token as a ?key= query parameter
DOWNSTREAM = ("exchange.link_persons", "exchange.publish_shares")
# files the scan may leave out: the data (Parquet, DuckDB spill files of a batch) and Data Docs' static assets
DATA_OR_ASSET = re.compile(r"\.(parquet|duckdb)|\.(css|js|png|gif|ico|otf|woff2?|ttf|eot|lock)$|"
                           r"^\.ge_store_backend_id$|^\.gitignore$")
NOT_SCANNED_TABLES = {"connection"}  # Airflow's managed connections (encrypted); none are defined here


# --- services with passwords ------------------------------------------------------------------------


@contextlib.contextmanager
def pg_database_with_password(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database owned by a new login role with a password; both dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name, role, password = unique_name(prefix), unique_name(f"{prefix}_role"), secrets.token_urlsafe(18)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))
            conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "service missing"
        admin.dispose()
        unavailable("PostgreSQL", exc, "Start it (127.0.0.1:5432, user postgres) or set EXCHANGE_TEST_PG.")
    base = make_url(PG_ADMIN_URL)
    try:
        yield base.set(username=role, password=password, database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@contextlib.contextmanager
def registry_in_mariadb(sqlite_registry: Path) -> Iterator[dict[str, Any]]:
    """The demo's market registry copied into a MariaDB database readable by a login with a password."""
    import sqlite3

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name, user, password = unique_name("leak_registry"), unique_name("etl")[:32], secrets.token_urlsafe(18)
    hosts = ("%", "localhost", "127.0.0.1")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            for host in hosts:
                conn.execute(text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"))
                conn.execute(text(f"GRANT SELECT ON `{name}`.* TO '{user}'@'{host}'"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        unavailable("MariaDB", exc, "Start it (127.0.0.1:3306, root, empty password) or set EXCHANGE_TEST_MARIADB.")
    try:
        src = sqlite3.connect(sqlite_registry)
        cols = [r[1] for r in src.execute("PRAGMA table_info(organizations)")]
        rows = src.execute("SELECT * FROM organizations").fetchall()
        src.close()
        defs = ", ".join("`id` BIGINT PRIMARY KEY" if c == "id" else "`updated_at` DATETIME NOT NULL"
                         if c == "updated_at" else f"`{c}` TEXT" for c in cols)
        db = create_engine(make_url(MARIADB_ADMIN_URL).set(database=name, query={"charset": "utf8mb4"}))
        with db.begin() as conn:
            conn.execute(text(f"CREATE TABLE organizations ({defs}) CHARACTER SET utf8mb4"))
            marks = ", ".join(f":c{i}" for i in range(len(cols)))
            conn.execute(text(f"INSERT INTO organizations VALUES ({marks})"),
                         [{f"c{i}": v for i, v in enumerate(r)} for r in rows])
        db.dispose()
        base = make_url(MARIADB_ADMIN_URL)
        yield {"conn_type": "mysql", "host": base.host or "127.0.0.1", "port": base.port or 3306, "login": user,
               "password": password, "schema": name, "rows": len(rows)}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            for host in hosts:
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()


# --- what is scanned -----------------------------------------------------------------------------


def metadata_rows(url: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every row of every table of Airflow's metadata database but :data:`NOT_SCANNED_TABLES`."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                if name in NOT_SCANNED_TABLES:
                    continue
                for i, row in enumerate(conn.execute(select(table)).mappings(), start=1):
                    yield name, i, dict(row)
    finally:
        engine.dispose()


def exchange_cli(env: dict[str, str], out: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the exchange's CLI (debug logging on), keeping its stdout and stderr in ``out`` for the scan."""
    proc = subprocess.run([EXCHANGE, "-v", *args], env=env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=out.parent)
    out.write_text(f"$ exchange -v {' '.join(args)}\n{proc.stdout}\n--- stderr ---\n{proc.stderr}", encoding="utf-8")
    return proc


def airflow_cli(stack: AirflowStack, out: Path, *args: str) -> None:
    """``stack.cli``, keeping stdout and stderr in ``out`` for the scan."""
    proc = subprocess.run([AIRFLOW, *args], env=stack.env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=stack.root)
    out.write_text(f"$ airflow {' '.join(args)}\n{proc.stdout}\n--- stderr ---\n{proc.stderr}", encoding="utf-8")
    assert proc.returncode == 0, f"airflow {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


@pytest.mark.integration
@pytest.mark.slow
def test_no_id_number_or_secret_in_airflow_logs_xcoms_or_reports(tmp_path: Path) -> None:
    from exchange.audit.leaks import LeakScanner, secrets_from_env
    from exchange.demo.sources import HTTP_APIS, SQL_DATABASES, DemoApi
    from exchange.formats import check_resident_id

    t0 = time.monotonic()
    root = tmp_path
    env, truth = demo_city(root)
    landing = Path(env["EXCHANGE_LANDING_DIR"])
    feeds = sorted(FEEDS)
    assert set(feeds) <= set(truth.feeds)
    api = DemoApi(landing / HTTP_APIS["justice_mediation"], secrets.token_urlsafe(24)).start()
    with contextlib.ExitStack() as stack_of:
        stack_of.callback(api.stop)
        registry = stack_of.enter_context(registry_in_mariadb(landing / SQL_DATABASES["market_registry"]))
        warehouse_url = stack_of.enter_context(pg_database_with_password("leak_wh"))
        metadata_url = stack_of.enter_context(pg_database_with_password("leak_meta"))
        env.update({
            "EXCHANGE_WAREHOUSE_URL": warehouse_url,
            "EXCHANGE_CONN_JUSTICE_MEDIATION": api.connection_url("param"),
            "AIRFLOW_CONN_MARKET_REGISTRY": json.dumps({k: v for k, v in registry.items() if k != "rows"}),
            "EXCHANGE_API_ADMIN_KEY": secrets.token_urlsafe(24),
            "EXCHANGE_PSEUDONYM_KEY": secrets.token_urlsafe(24),
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        })
        stack = AirflowStack(root, metadata_url, env=env)

        # the secrets of this run: every one of them is searched for
        run_secrets = secrets_from_env({k: v for k, v in stack.env.items() if k.startswith(("AIRFLOW", "EXCHANGE_"))})
        expected_labels = ("EXCHANGE_WAREHOUSE_URL", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                           "AIRFLOW_CONN_MARKET_REGISTRY", "EXCHANGE_CONN_JUSTICE_MEDIATION",
                           "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY",
                           "EXCHANGE_API_ADMIN_KEY", "EXCHANGE_PSEUDONYM_KEY")
        for label in expected_labels:
            assert any(k.startswith(label) for k in run_secrets), f"{label} is not among the secrets searched for"
        assert registry["password"] in run_secrets.values() and api.token in run_secrets.values()

        (root / "cli").mkdir()
        for args in (("db", "migrate"), ("dags", "reserialize")):  # stack.prepare(), its output kept for the scan
            airflow_cli(stack, root / "cli" / f"airflow-{'-'.join(args)}.txt", *args)
        # the UI's password, set beforehand as docker-compose.yml's airflow-init does (a password the
        # Simple auth manager generates itself is printed to the api-server's log)
        admin_password = secrets.token_urlsafe(18)
        (stack.home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": admin_password}))
        with running(stack, ("api-server", "api-server"), ("scheduler", "scheduler"),
                     ("dag-processor", "dag-processor")):
            assert stack.api("GET", "/importErrors")["total_entries"] == 0
            for dag_id in DOWNSTREAM:
                stack.unpause(dag_id)
            for fid in feeds:
                stack.unpause(f"feed.{fid}")  # the scheduler creates the run of the latest interval

            def feed_runs_done() -> bool:
                runs = {fid: stack.runs(f"feed.{fid}") for fid in feeds}
                return all(r and all(x["state"] in ("success", "failed") for x in r) for r in runs.values())

            stack.wait_until("every feed DAG's run", feed_runs_done, timeout=900)
            failed = {fid: [r["state"] for r in stack.runs(f"feed.{fid}")] for fid in feeds}
            # a run the scheduler starts meanwhile (an hourly feed crossing the hour) may still be running
            assert all("success" in states and "failed" not in states for states in failed.values()), \
                f"{failed}\n{stack.diagnostics()}"
            quiet: dict[str, int] = {}

            def downstream_settled() -> bool:
                counts = {}
                for dag_id in DOWNSTREAM:
                    runs = stack.runs(dag_id)
                    if not runs or any(r["state"] not in ("success", "failed") for r in runs):
                        return False
                    counts[dag_id] = len(runs)
                settled = counts == quiet.get("last")
                quiet["last"] = counts  # type: ignore[assignment]
                return settled  # the same finished runs twice in a row: no asset event left to consume

            stack.wait_until("the downstream DAGs on the asset events", downstream_settled, timeout=600)
            for dag_id in DOWNSTREAM:
                assert {r["state"] for r in stack.runs(dag_id)} == {"success"}, dag_id
        for proc in stack.procs.values():
            assert proc.poll() is not None, "every Airflow process is stopped (its logs are complete)"

        # the exchange's own commands on the same warehouse: the ledger, the auditors' report
        cli_env = {**stack.env}
        assert exchange_cli(cli_env, root / "cli" / "batches.txt", "batches", "--limit", "50").returncode == 0
        report = exchange_cli(cli_env, root / "cli" / "audit-report.txt", "audit", "report", "--since", "2000-01-01")
        assert report.returncode == 0, report.stderr[-3000:]
        verify = exchange_cli(cli_env, root / "cli" / "audit-verify.txt", "audit", "verify")
        assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]

        # --- the data does hold valid ID numbers, and the secrets were used ------------------------
        # every batch of a feed loads the whole city's file; a scheduled feed whose next interval falls
        # due while the test runs gets a second run (a second batch of the same rows, nothing new)
        batches: dict[str, list[int]] = {}
        for fid, rows in warehouse_rows(env, "SELECT feed, rows_loaded FROM audit.batch ORDER BY feed, started_at"):
            batches.setdefault(fid, []).append(int(rows or 0))
        for fid in feeds:
            assert batches.get(fid) and set(batches[fid]) == {truth.feeds[fid].expected_loaded}, (fid, batches)
        loaded = {fid: max(rows) for fid, rows in batches.items()}
        assert loaded["market_regulation.organizations"] > 0, "rows read from MariaDB with the password"
        assert loaded["justice.disputes"] > 0, "rows read from the API with the token"
        ids = [r[0] for r in warehouse_rows(env, "SELECT id_number FROM core.person WHERE id_number IS NOT NULL")]
        assert sum(r is None for r in check_resident_id(ids).to_pylist()) > 100, "core.person holds valid IDs"

        scanner = LeakScanner({**run_secrets, "the UI's admin password": admin_password})
        assert not scanner.ignored_secrets
        in_landing = scanner.scan_paths([landing])
        assert sum(f.kind == "resident_id" for f in in_landing.findings) > 100, \
            "the agencies' files hold valid ID numbers (the scanner finds them)"
        for label, secret in run_secrets.items():
            assert scanner.scan_text(f"x {secret} y"), f"the scanner finds {label}"

        # --- the scan ---------------------------------------------------------------------------
        reports, staging = Path(env["EXCHANGE_REPORTS_DIR"]), Path(env["EXCHANGE_STAGING_DIR"])
        assert (reports / "audit-report.html").is_file() and (reports / "index.html").is_file()
        files = scanner.scan_paths([stack.home / "logs", stack.logs, root / "cli", reports, staging])
        task_logs = [p for p in files.scanned if "/task_id=" in p]
        assert len(task_logs) >= 5 * len(feeds), f"task logs scanned: {len(task_logs)}"
        assert any(p.endswith(".html") and "/validations/" in p for p in files.scanned), "GX Data Docs pages"
        assert sum(p.endswith("validation.json") for p in files.scanned) >= len(feeds)
        unexpected_skips = {p: why for p, why in files.skipped.items() if not DATA_OR_ASSET.search(Path(p).name)}
        assert unexpected_skips == {}, "a file kind the scan does not read"

        findings = list(files.findings)
        xcoms = 0
        for table, n, row in metadata_rows(metadata_url):
            xcoms += table == "xcom"
            findings.extend(scanner.scan_value(row, f"airflow metadata {table} row {n}"))
        assert xcoms >= 5 * len(feeds), f"XComs scanned: {xcoms}"

        assert findings == [], "secrets or ID numbers leaked (masked excerpts):\n" + "\n".join(
            str(f) for f in findings[:60])
    print(f"\nleak scan of an Airflow demo run: {len(files.scanned)} files, {xcoms} XComs, "
          f"{scanner.secret_count} secrets, {time.monotonic() - t0:.0f}s")


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
