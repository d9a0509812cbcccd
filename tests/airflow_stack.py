"""The integration tests' Airflow: ``AirflowStack`` (processes and REST API), ``running``, the demo city."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")
FEED = "police.residents"
FEED_DAG = f"feed.{FEED}"
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
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "dags" / "plugins"),
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
