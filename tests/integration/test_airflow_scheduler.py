"""A real Airflow: scheduler, DAG processor and API server run the feed DAGs end to end.

Airflow 3 runs natively here with a temporary AIRFLOW_HOME and its metadata in a fresh
PostgreSQL database (dropped afterwards); the exchange writes to a temporary SQLite warehouse
fed by the demo city's files. Through the REST API v2 (token from the Simple auth manager's
``POST /auth/token``) the test unpauses and triggers ``feed.police.residents`` with an explicit
data interval, waits for success, then checks the warehouse rows and ``audit.batch`` against
the demo city's seeded truth, that the downstream DAGs ran because of the ``core.person`` asset
event, and that a backfill over a date range runs one DAG run per day without loading anything
twice. Every Airflow process is stopped (its whole process group), also when the test fails.

``AirflowStack`` (tests/airflow_stack.py) is shared with ``test_airflow_celery.py`` and
``test_no_leaks.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.airflow_stack import (
    FEED,
    FEED_DAG,
    AirflowStack,
    demo_city,
    running,
    warehouse_rows,
)

LINK_DAG, PUBLISH_DAG, OPS_DAG = "exchange.link_persons", "exchange.publish_shares", "exchange.ops_check"
INDEX_DAG = "exchange.index_elements"


@pytest.fixture
def airflow_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutil.rmtree(tmp_path / "airflow_home" / "logs", ignore_errors=True)


@pytest.mark.integration
@pytest.mark.slow
def test_scheduler_runs_a_feed_dag_and_the_asset_triggered_downstream_dags(airflow_root: Path, pg_url: str) -> None:
    t0 = time.monotonic()
    env, truth = demo_city(airflow_root)
    env["EXCHANGE_RUN_DEADLINE"] = "2s"  # every feed run misses its deadline: the alert is raised by Airflow
    stack = AirflowStack(airflow_root, pg_url, env=env)
    stack.prepare()
    with running(stack, ("api-server", "api-server"), ("scheduler", "scheduler"),
                 ("dag-processor", "dag-processor")):
        assert stack.api("GET", "/importErrors")["total_entries"] == 0
        dag = stack.api("GET", f"/dags/{FEED_DAG}")
        assert dag["is_paused"] is True and "police-data-team" in dag["owners"]
        assert (dag["timetable_summary"], dag["timetable_description"]) == ("@daily", "At 00:00"), \
            "the schedule as the spec writes it (exchange_airflow.timetables.WrittenCron, registered by its plugin)"
        for dag_id in (LINK_DAG, PUBLISH_DAG, INDEX_DAG):
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
        for dag_id, task_id in ((PUBLISH_DAG, "publish_catalog"), (LINK_DAG, "link_persons"),
                                (INDEX_DAG, "index_elements")):
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
        # the element index took the batch off the feed's path: its watermark holds it, with its elements
        assert downstream[INDEX_DAG]["triggered_by"] == [batch_id]
        assert warehouse_rows(env, "SELECT batch_id, elements FROM mdm.search_indexed") == [
            (batch_id, downstream[INDEX_DAG]["elements"]["person"])]
        assert downstream[INDEX_DAG]["elements"]["person"] >= expected.expected_loaded  # a name each at least
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

        # a run not finished by its deadline: Airflow's deadline alert, its callback run by the executor, is an
        # alert of the ops component (recorded, told by the feed's routes), cleared by the check once the feed
        # has succeeded since
        overdue = stack.wait_until("the deadline alert of the feed's runs", lambda: warehouse_rows(
            env, f"SELECT key, state FROM audit.alert WHERE kind = 'run_overdue' AND feed = '{FEED}'"), timeout=300)
        assert overdue == [(f"overdue:{FEED_DAG}", "firing")], overdue

        # operations: the ops DAG checks every feed; the health page is in Airflow (plugin), signed-in users only
        ops_start = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
        ops_run = stack.trigger(OPS_DAG, ops_start, ops_start + dt.timedelta(minutes=15))
        stack.unpause(OPS_DAG)
        assert stack.wait_for_run(OPS_DAG, ops_run)["state"] == "success"
        checked = stack.xcom(OPS_DAG, ops_run, "check")
        assert sum(checked["states"].values()) == len(truth.feeds), checked  # every feed of the demo city
        assert httpx.get(f"{stack.base}/exchange/health", timeout=30).status_code in (401, 403)
        signed_in = {"Authorization": f"Bearer {stack.token()}"}
        page = httpx.get(f"{stack.base}/exchange/health", headers=signed_in, timeout=60)
        assert page.status_code == 200 and "Feed health" in page.text and FEED in page.text
        health = {h["feed"]: h for h in httpx.get(f"{stack.base}/exchange/health.json", headers=signed_in,
                                                  timeout=60).json()}
        assert health[FEED]["last_batch"] == batch_id and health[FEED]["state"] in ("ok", "degraded")
        assert ("resolved",) in warehouse_rows(  # a later run's deadline may fire again after the check
            env, f"SELECT state FROM audit.alert WHERE kind = 'run_overdue' AND feed = '{FEED}'"), \
            "the feed succeeded since: the check clears its deadline alert"
    print(f"\nAirflow scheduler test: {time.monotonic() - t0:.0f}s")
    for proc in stack.procs.values():
        assert proc.poll() is not None, "every Airflow process is stopped"
