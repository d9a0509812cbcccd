"""Scale-out: the CeleryExecutor path of docker-compose.yml, run natively.

Airflow's scheduler, DAG processor and API server with the CeleryExecutor, the local Redis as
broker, a fresh PostgreSQL database for the metadata (and Celery's results), and one
``airflow celery worker`` listening on a queue of its own: a feed DAG run is executed by that
worker — every task instance is on the worker's queue and the worker's log shows it executing
each of them — and its batch lands in the warehouse. Everything is stopped afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from pathlib import Path

import pytest

from tests.airflow_stack import (
    FEED,
    FEED_DAG,
    AirflowStack,
    demo_city,
    running,
    warehouse_rows,
)
from tests.integration.conftest import unavailable

REDIS_URL = os.environ.get("EXCHANGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "service missing"
        unavailable("Redis", exc, "Start it (127.0.0.1:6379) or set EXCHANGE_TEST_REDIS, then `make test`.")
    finally:
        client.close()
    return REDIS_URL


def _forget_queue(url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        keys = [k for pattern in (f"*{queue}*",) for k in client.scan_iter(match=pattern)]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.integration
@pytest.mark.slow
def test_a_celery_worker_executes_a_feed_dag_run(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    t0 = time.monotonic()
    queue = f"exchange_test_{uuid.uuid4().hex[:10]}"
    worker_name = f"{queue}@%h"
    env, truth = demo_city(tmp_path)
    env.update({
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{pg_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
    })
    stack = AirflowStack(tmp_path, pg_url, executor="CeleryExecutor", env=env)
    stack.prepare()
    try:
        with running(stack, ("api-server", "api-server"), ("scheduler", "scheduler"),
                     ("dag-processor", "dag-processor"),
                     ("worker", "celery", "worker", "--queues", queue, "--concurrency", "2",
                      "--celery-hostname", worker_name, "--without-mingle", "--without-gossip")):
            stack.wait_until("the Celery worker to be ready", lambda: " ready." in stack.log_tail("worker", 100_000),
                             timeout=180)
            start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
            run_id = stack.trigger(FEED_DAG, start, start + dt.timedelta(days=1))
            stack.unpause(FEED_DAG)
            stack.wait_for_run(FEED_DAG, run_id)

            # the unpause also created the latest scheduled run: whichever of the two ran first loaded
            # the batch, the other found it loaded (its `load` skipped); both went through the worker
            stack.wait_until("every feed run finished", lambda: len(stack.runs(FEED_DAG)) >= 2 and all(
                r["state"] in ("success", "failed") for r in stack.runs(FEED_DAG)), timeout=600)
            runs = stack.runs(FEED_DAG)
            assert {r["state"] for r in runs} == {"success"}
            worker_log = stack.log_tail("worker", 10_000_000)
            executed = [line for line in worker_log.splitlines() if "Executing workload in Celery" in line]
            loads = []
            for run in runs:
                tis = stack.task_instances(FEED_DAG, run["dag_run_id"])
                assert set(tis) == {"extract", "validate", "stage", "load", "publish"}
                assert {ti["state"] for t, ti in tis.items() if t != "load"} == {"success"}
                loads.append(tis["load"]["state"])
                assert {ti["queue"] for ti in tis.values()} == {queue}, "every task went through the worker's queue"
                for task_id in tis:
                    assert any(f"run_id='{run['dag_run_id']}'" in line and f"task_id='{task_id}'" in line
                               for line in executed), f"the worker did not execute {task_id} of {run['dag_run_id']}"
            assert sorted(loads) == ["skipped", "success"], "one run loaded the batch, the other had nothing to do"
            assert "CeleryExecutor" in stack.log_tail("scheduler", 10_000_000)

            expected = truth.feeds[FEED]
            assert warehouse_rows(env, "SELECT count(*) FROM core.person WHERE source_agency = 'police'") == \
                [(expected.expected_loaded,)]
            assert warehouse_rows(env, f"SELECT state, rows_in FROM audit.batch WHERE feed = '{FEED}'") == \
                [("published", expected.rows)]
    finally:
        with contextlib.suppress(Exception):
            _forget_queue(redis_url, queue)
    print(f"\nAirflow Celery test: {time.monotonic() - t0:.0f}s")
    for proc in stack.procs.values():
        assert proc.poll() is not None, "every Airflow process is stopped"
