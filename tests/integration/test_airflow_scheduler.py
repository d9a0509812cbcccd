"""A real Airflow: scheduler, DAG processor and API server run the feed DAGs end to end.

Airflow 3 runs natively here with a temporary AIRFLOW_HOME and its metadata in a fresh
PostgreSQL database (dropped afterwards); the exchange writes to a temporary SQLite warehouse
fed by the demo city's files. Through the REST API v2 (token from the Simple auth manager's
``POST /auth/token``) the test unpauses and triggers ``feed.police.residents`` with an explicit
data interval, waits for success, then checks the warehouse rows and ``audit.batch`` against
the demo city's seeded truth, that the downstream DAGs ran because of the ``core.person`` asset
event, and that a backfill over a date range runs one DAG run per day without loading anything
twice. Every Airflow process is stopped (its whole process group), also when the test fails.

``AirflowStack`` is shared with ``test_airflow_celery.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")
FEED = "police.residents"
FEED_DAG = f"feed.{FEED}"
LINK_DAG, PUBLISH_DAG = "exchange.link_persons", "exchange.publish_shares"
PERSONS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowStack:
    """Airflow's processes for one test, started natively, always stopped (process groups)."""

    def __init__(self, root: Path, metadata_url: str, *, executor: str = "LocalExecutor",
                 env: dict[str, str] | None = None) -> None:
        self.root = root
        self.home = root / "airflow_home"
        self.logs = root / "process_logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self._token: str | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EXCHANGE_"))}
        self.env.update({
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # Airflow spawns `airflow` by name
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.base,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # one secret for every component
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "EXCHANGE_DAGS_STRICT": "1",
            "GX_ANALYTICS_ENABLED": "False",
            **(env or {}),
        })

    # --- processes ---------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=self.root)
        if proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return proc.stdout

    def prepare(self) -> None:
        """Create the metadata database and serialise the DAGs (before any component starts)."""
        self.cli("db", "migrate")
        self.cli("dags", "reserialize")

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([AIRFLOW, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.root, start_new_session=True)
        log.close()

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after a grace period."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: executor workers and task processes too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def diagnostics(self) -> str:
        parts = [f"--- {name} ---\n{self.log_tail(name)}" for name in self.procs]
        task_logs = sorted((self.home / "logs").glob("**/*.log"), key=lambda p: p.stat().st_mtime)[-4:]
        parts += [f"--- {p.relative_to(self.home)} ---\n{p.read_text(errors='replace')[-3000:]}" for p in task_logs]
        return "\n".join(parts)

    # --- REST API v2 --------------------------------------------------------------------------

    def wait_for_api(self, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/v2/monitor/health", timeout=5).status_code == 200:
                    return
            time.sleep(1)
        raise AssertionError(f"the API server did not answer within {timeout}s\n{self.diagnostics()}")

    def token(self) -> str:
        """A JWT from the Simple auth manager: the admin's password is in its generated file."""
        import httpx

        if self._token is None:
            passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
            resp = httpx.post(f"{self.base}/auth/token", json={"username": "admin", "password": passwords["admin"]},
                              timeout=30)
            assert resp.status_code == 201, resp.text
            self._token = resp.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        resp = httpx.request(method, f"{self.base}/api/v2{path}", headers={"Authorization": f"Bearer {self.token()}"},
                             timeout=60, **kwargs)
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def unpause(self, dag_id: str) -> None:
        assert self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})["is_paused"] is False

    def trigger(self, dag_id: str, start: dt.datetime, end: dt.datetime) -> str:
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={
            "logical_date": start.isoformat(), "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(), "conf": {}})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        tis = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti for ti in tis}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        entry = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                         params={"deserialize": True, "stringify": False})
        return entry["value"]

    def wait_until(self, what: str, check: Callable[[], Any], timeout: float = 600) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            found = check()
            if found:
                return found
            time.sleep(2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.diagnostics()}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        run = self.wait_until(f"{dag_id} run {run_id}", finished, timeout)
        if run["state"] != "success":
            tis = {t: ti["state"] for t, ti in self.task_instances(dag_id, run_id).items()}
            raise AssertionError(f"{dag_id} run {run_id} {run['state']}: {tis}\n{self.diagnostics()}")
        return run


@contextlib.contextmanager
def running(stack: AirflowStack, *components: tuple[str, ...]) -> Iterator[AirflowStack]:
    """Start the components (each ``(name, *airflow args)``), yield when the API answers, always stop."""
    try:
        for name, *args in components:
            stack.start(name, *args)
        stack.wait_for_api()
        yield stack
    finally:
        stack.stop()


def demo_city(root: Path) -> tuple[dict[str, str], Any]:
    """A temporary warehouse and landing zone with the demo city's files; the exchange's env."""
    from exchange.demo import generate_city

    landing = root / "landing"
    truth = generate_city(landing, persons=PERSONS)
    env = {"EXCHANGE_HOME": str(REPO), "EXCHANGE_WAREHOUSE_URL": f"sqlite:///{root / 'warehouse' / 'exchange.db'}",
           "EXCHANGE_LANDING_DIR": str(landing), "EXCHANGE_STAGING_DIR": str(root / "staging"),
           "EXCHANGE_REPORTS_DIR": str(root / "reports")}
    return env, truth


def warehouse_rows(env: dict[str, str], sql: str) -> list[tuple]:
    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine

    engine = make_engine(env["EXCHANGE_WAREHOUSE_URL"])
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def airflow_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutil.rmtree(tmp_path / "airflow_home" / "logs", ignore_errors=True)


@pytest.mark.integration
@pytest.mark.slow
def test_scheduler_runs_a_feed_dag_and_the_asset_triggered_downstream_dags(airflow_root: Path, pg_url: str) -> None:
    t0 = time.monotonic()
    env, truth = demo_city(airflow_root)
    stack = AirflowStack(airflow_root, pg_url, env=env)
    stack.prepare()
    with running(stack, ("api-server", "api-server"), ("scheduler", "scheduler"),
                 ("dag-processor", "dag-processor")):
        assert stack.api("GET", "/importErrors")["total_entries"] == 0
        dag = stack.api("GET", f"/dags/{FEED_DAG}")
        assert dag["is_paused"] is True and "police-data-team" in dag["owners"]
        for dag_id in (LINK_DAG, PUBLISH_DAG):
            stack.unpause(dag_id)
        start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        run_id = stack.trigger(FEED_DAG, start, start + dt.timedelta(days=1))
        stack.unpause(FEED_DAG)  # also lets the scheduler create the latest scheduled run
        stack.wait_for_run(FEED_DAG, run_id)
        tis = stack.task_instances(FEED_DAG, run_id)
        assert set(tis) == {"extract", "validate", "stage", "load", "publish"}
        extract = stack.xcom(FEED_DAG, run_id, "extract")
        assert extract["interval"] == ["2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00"], \
            "the run's data interval reaches the connector"
        batch_id = extract["batch_id"]

        # every run of the feed (the triggered one and the scheduled one the unpause created) done
        stack.wait_until("every feed run finished", lambda: all(
            r["state"] in ("success", "failed") for r in stack.runs(FEED_DAG)) and len(stack.runs(FEED_DAG)) >= 2,
            timeout=600)
        assert {r["state"] for r in stack.runs(FEED_DAG)} == {"success"}

        # the warehouse and the batch ledger match the demo city's seeded truth
        expected = truth.feeds[FEED]
        assert warehouse_rows(env, "SELECT count(*) FROM core.person WHERE source_agency = 'police'") == \
            [(expected.expected_loaded,)]
        batches = warehouse_rows(env, "SELECT batch_id, state, rows_in, rows_loaded, rows_quarantined "
                                      f"FROM audit.batch WHERE feed = '{FEED}'")
        assert batches == [(batch_id, "published", expected.rows, expected.expected_loaded, len(expected.quarantined))]
        assert expected.rows == expected.expected_loaded + len(expected.quarantined)

        # exactly one asset event for core.person (the run that loaded), consumed downstream
        events = stack.api("GET", "/assets/events", params={"source_dag_id": FEED_DAG})["asset_events"]
        assert len(events) == 1, events
        event = events[0]
        assert event["uri"] == "exchange://warehouse/core/person" and event["source_task_id"] == "load"
        assert event["extra"]["batch_id"] == batch_id and event["extra"]["inserted"] == expected.expected_loaded

        downstream = {}
        for dag_id, task_id in ((PUBLISH_DAG, "publish_catalog"), (LINK_DAG, "link_persons")):
            runs = stack.wait_until(f"{dag_id} triggered by the asset event", lambda d=dag_id: [
                r for r in stack.runs(d) if r["state"] in ("success", "failed")], timeout=300)
            assert len(runs) == 1 and runs[0]["state"] == "success", runs
            assert runs[0]["run_type"] == "asset_triggered"
            consumed = stack.api("GET", f"/dags/{dag_id}/dagRuns/{runs[0]['dag_run_id']}/upstreamAssetEvents")
            assert [(e["source_dag_id"], e["source_run_id"]) for e in consumed["asset_events"]] == \
                [(FEED_DAG, event["source_run_id"])]
            assert stack.task_instances(dag_id, runs[0]["dag_run_id"])[task_id]["state"] == "success"
            downstream[dag_id] = stack.xcom(dag_id, runs[0]["dag_run_id"], task_id)
        assert downstream[LINK_DAG]["triggered_by"] == [batch_id]
        assert downstream[LINK_DAG]["persons"] > 0
        assert warehouse_rows(env, "SELECT count(*) FROM mdm.person")[0][0] == downstream[LINK_DAG]["persons"]
        mdm_events = stack.api("GET", "/assets/events", params={"source_dag_id": LINK_DAG})["asset_events"]
        assert [e["uri"] for e in mdm_events] == ["exchange://warehouse/mdm/person"]
        assert downstream[PUBLISH_DAG]["rows"]["person"] == expected.expected_loaded
        snapshot = json.loads((airflow_root / "reports" / "catalog.json").read_text())
        assert snapshot["entities"]["person"]["rows"] == expected.expected_loaded
        assert snapshot["entities"]["person"]["last_published_batch"]["batch_id"] == batch_id

        # a backfill over a date range: one run per day, nothing loaded twice, no new asset event
        backfill = stack.api("POST", "/backfills", json={
            "dag_id": FEED_DAG, "from_date": "2026-03-01T00:00:00Z", "to_date": "2026-03-03T00:00:00Z",
            "max_active_runs": 1, "reprocess_behavior": "none", "run_backwards": False, "dag_run_conf": {}})

        def backfill_runs() -> list[dict[str, Any]]:
            return [r for r in stack.runs(FEED_DAG) if r["run_type"] == "backfill"]

        stack.wait_until("the backfill's runs", lambda: (
            stack.api("GET", f"/backfills/{backfill['id']}")["completed_at"] is not None
            and all(r["state"] in ("success", "failed") for r in backfill_runs())), timeout=600)
        runs = backfill_runs()
        assert len(runs) >= 2 and {r["state"] for r in runs} == {"success"}, runs
        intervals = sorted(tuple(stack.xcom(FEED_DAG, r["dag_run_id"], "extract")["interval"]) for r in runs)
        assert intervals[0][0].startswith("2026-03-01") and len(set(intervals)) == len(runs)
        for r in runs:
            assert stack.task_instances(FEED_DAG, r["dag_run_id"])["load"]["state"] == "skipped"
        assert warehouse_rows(env, f"SELECT count(*) FROM audit.batch WHERE feed = '{FEED}'") == [(1,)]
        assert warehouse_rows(env, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person "
                                   "WHERE source_agency = 'police'") == \
            [(expected.expected_loaded, expected.expected_loaded)]
        assert len(stack.api("GET", "/assets/events", params={"source_dag_id": FEED_DAG})["asset_events"]) == 1
    print(f"\nAirflow scheduler test: {time.monotonic() - t0:.0f}s")
    for proc in stack.procs.values():
        assert proc.poll() is not None, "every Airflow process is stopped"
