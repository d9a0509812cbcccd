"""The Airflow DAG factory: every feed spec becomes a DAG; parse time stays light.

The DAG folder is parsed the way Airflow's DAG processor does it (a ``BundleDagBag``), in a
subprocess with a fresh AIRFLOW_HOME, no connection defined, metadata database and warehouse
URLs that point nowhere, and every outgoing socket refused — so the test fails if parsing
touches a database, the network or a secret. Golden files of each DAG's shape live in
``tests/golden/dags/``; after an intended change, ``UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, write

pytestmark = [pytest.mark.gx, pytest.mark.airflow]  # not in `make check`: see the Makefile

DAGS = REPO / "dags"
GOLDEN = REPO / "tests" / "golden" / "dags"
HEAVY = ("pandas", "pyarrow", "great_expectations", "splink", "duckdb", "exchange.runner", "exchange.validation",
         "exchange.warehouse", "connectors.file", "psycopg")
DOWNSTREAM = {"exchange.link_persons", "exchange.index_elements", "exchange.publish_shares", "exchange.ops_check"}

PROBE = r"""
import json, os, socket, sys, time
from pathlib import Path

network = []
def _refuse(self, address, *args):
    network.append(repr(address))
    raise OSError("network access while parsing DAGs")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse

from exchange.spec import connections
secrets = []
_resolve = connections.resolve_connection
def _record(name):
    secrets.append(name)
    return _resolve(name)
connections.resolve_connection = _record

from airflow.dag_processing.dagbag import BundleDagBag


dags = Path(sys.argv[1])
t = time.perf_counter()
bag = BundleDagBag(str(dags), bundle_path=dags)
wall = time.perf_counter() - t


def schedule(dag):
    tt = dag.timetable
    cond = getattr(tt, "asset_condition", None)
    if cond is not None:
        return {"assets": type(cond).__name__, "of": sorted(a.uri for a in cond.objects)}
    expr = getattr(tt, "_expression", None) or getattr(tt, "expression", None)
    return {"timetable": type(tt).__name__, "cron": expr, "timezone": str(getattr(tt, "timezone", "") or "")}


def deadlines(dag):
    found = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline] if dag.deadline else []
    return [{"reference": type(d.reference).__name__, "seconds": d.interval.total_seconds(),
             "callback": d.callback.path, "kwargs": d.callback.kwargs} for d in found]


def shape(dag):
    return {
        "deadline": deadlines(dag),
        "dag_id": dag.dag_id, "owner": dag.owner, "tags": sorted(dag.tags), "description": dag.description,
        "schedule": schedule(dag), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "tasks": {t.task_id: {
            "operator": type(t).__name__,
            "callable": f"{t.python_callable.__module__}.{t.python_callable.__name__}",
            "op_kwargs": t.op_kwargs, "upstream": sorted(t.upstream_task_ids),
            "downstream": sorted(t.downstream_task_ids),
            "trigger_rule": getattr(t.trigger_rule, "value", str(t.trigger_rule)),
            "retries": t.retries, "outlets": [a.uri for a in t.outlets], "pool": t.pool,
            "execution_timeout": str(t.execution_timeout),
            "on_failure_callback": [type(c).__name__ for c in (t.on_failure_callback or [])],
        } for t in sorted(dag.tasks, key=lambda t: t.task_id)},
    }


print(json.dumps({
    "dags": {i: shape(d) for i, d in sorted(bag.dags.items())},
    "docs": {i: d.doc_md for i, d in bag.dags.items()},
    "import_errors": {Path(k).name: v for k, v in bag.import_errors.items()},
    "files": sorted(Path(s.file).name for s in bag.dagbag_stats),
    "parse_seconds": sum(s.duration.total_seconds() for s in bag.dagbag_stats),
    "wall_seconds": wall,
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "pyarrow", "great_expectations",
                    "splink", "duckdb", "psycopg") or m in ("exchange.runner", "exchange.validation",
                    "exchange.warehouse", "connectors.file")),
    "network": network,
    "secrets": secrets,
}))
"""


def parse(tmp_path: Path, *, home: Path | None = None, strict: bool = False) -> dict[str, Any]:
    """Parse ``dags/`` as Airflow's DAG processor would; return the probe's summary."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "EXCHANGE_", "GX_"))}
    nowhere = "postgresql+psycopg://parse-time@192.0.2.1:1/never"  # TEST-NET-1: must never be reached
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        # a metadata database that cannot be opened: parsing must not need it
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/no-such-folder/airflow.db",
        "EXCHANGE_WAREHOUSE_URL": nowhere,
        "EXCHANGE_DAGS_STRICT": "1" if strict else "0",
        "GX_ANALYTICS_ENABLED": "False",
    })
    if home is not None:
        env["EXCHANGE_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(DAGS)], env=env, capture_output=True, text=True,
                          timeout=300, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def repo_dags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The repository's DAG folder and feeds, parsed in strict mode (as CI does)."""
    return parse(tmp_path_factory.mktemp("parse"), strict=True)


def feed_specs() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((REPO / "feeds").glob("**/*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[f"{spec['agency']}.{spec['feed']}"] = spec
    return out


FEEDS = feed_specs()


def test_dag_folder_loads_with_zero_import_errors_and_no_connections(repo_dags: dict[str, Any]) -> None:
    assert repo_dags["import_errors"] == {}
    assert set(repo_dags["files"]) == {"exchange_feeds.py", "exchange_feed_errors.py", "exchange_downstream.py"}
    assert set(repo_dags["dags"]) == {f"feed.{fid}" for fid in FEEDS} | DOWNSTREAM


def test_parse_time_touches_no_database_network_secret_or_heavy_module(repo_dags: dict[str, Any]) -> None:
    assert repo_dags["network"] == []
    assert repo_dags["secrets"] == []
    assert repo_dags["heavy"] == [], "imported while parsing the DAG folder"


@pytest.mark.parametrize("feed_id", sorted(FEEDS))
def test_feed_dag_shape_matches_golden(repo_dags: dict[str, Any], feed_id: str) -> None:
    _golden(repo_dags["dags"][f"feed.{feed_id}"])


@pytest.mark.parametrize("dag_id", sorted(DOWNSTREAM))
def test_downstream_dag_shape_matches_golden(repo_dags: dict[str, Any], dag_id: str) -> None:
    _golden(repo_dags["dags"][dag_id])


def _golden(shape: dict[str, Any]) -> None:
    got = json.dumps(shape, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{shape['dag_id']}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run UPDATE_GOLDEN=1 pytest {__file__}"
    assert got == path.read_text(encoding="utf-8"), f"shape of {shape['dag_id']} changed; review and UPDATE_GOLDEN=1"


@pytest.mark.parametrize("feed_id", sorted(FEEDS))
def test_feed_dag_is_a_chain_of_thin_runner_calls_with_metadata_from_the_spec(
        repo_dags: dict[str, Any], feed_id: str) -> None:
    spec = FEEDS[feed_id]
    dag = repo_dags["dags"][f"feed.{feed_id}"]
    from exchange.pipeline.order import NAMES

    order = ["extract", "validate", "stage", "load", "publish"]
    assert list(NAMES) == order, "one task per stage of the pipeline, declared once"
    assert sorted(dag["tasks"]) == sorted(order)
    for before, after in itertools.pairwise(order):
        assert dag["tasks"][before]["downstream"] == [after]
        assert dag["tasks"][after]["upstream"] == [before]
    for name, task in dag["tasks"].items():  # tasks get the feed id (and stage) only: the interval from the run
        if name in ("extract", "load"):  # the batch id's XCom; the asset event
            assert task["callable"] == f"exchange_airflow.tasks.{name}"
            assert task["op_kwargs"] == {"feed_id": feed_id}
        else:
            assert task["callable"] == "exchange_airflow.tasks.run_stage"
            assert task["op_kwargs"] == {"feed_id": feed_id, "stage": name}
    entity = spec["target"].split("@")[0]
    assert dag["tasks"]["load"]["outlets"] == [f"exchange://warehouse/core/{entity}"]
    assert all(not t["outlets"] for n, t in dag["tasks"].items() if n != "load")
    assert dag["tasks"]["publish"]["trigger_rule"] == "none_failed"
    assert dag["owner"] == spec["owner"]
    assert set(spec["tags"]) <= set(dag["tags"]) and f"agency:{spec['agency']}" in dag["tags"]
    assert dag["description"] == " ".join(spec["description"].split())[:200]
    doc = repo_dags["docs"][f"feed.{feed_id}"]
    assert " ".join(spec["description"].split()) in " ".join(doc.split())
    assert f"feeds/{spec['agency']}/{spec['feed']}.yaml" in doc
    assert dag["schedule"]["timetable"] == "CronDataIntervalTimetable", "real data intervals for incremental feeds"
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False


def test_downstream_dags_are_scheduled_on_core_assets(repo_dags: dict[str, Any]) -> None:
    link = repo_dags["dags"]["exchange.link_persons"]["schedule"]
    publish = repo_dags["dags"]["exchange.publish_shares"]["schedule"]
    core = {f"exchange://warehouse/core/{p.stem}" for p in (REPO / "schemas").glob("*.yaml")}
    assert publish == {"assets": "AssetAny", "of": sorted(core)}
    assert link["assets"] == "AssetAny"
    assert {"exchange://warehouse/core/person", "exchange://warehouse/core/special_population",
            "exchange://warehouse/core/case_party", "exchange://warehouse/core/household"} <= set(link["of"])
    assert "exchange://warehouse/core/compound" not in link["of"] and "exchange://warehouse/core/case" not in link["of"]
    produced = {u for d in repo_dags["dags"].values() for t in d["tasks"].values() for u in t["outlets"]}
    assert set(link["of"]) & produced, "some feed produces an asset the linking DAG waits for"


# --- bad specs -----------------------------------------------------------------------------------

BAD_MAPPING = """\
agency: police
feed: broken
description: a feed whose mapping names a field the schema lacks
source: {kind: file, path: police/broken/*.csv}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  性别2: sex
"""


@pytest.fixture(scope="module")
def bad_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad") / "project"
    shutil.copytree(REPO / "schemas", root / "schemas")
    shutil.copytree(REPO / "feeds", root / "feeds")
    write(root / "feeds" / "police" / "broken.yaml", BAD_MAPPING)
    write(root / "feeds" / "health" / "garbled.yaml", "agency: health\nfeed: [unclosed\n")
    return root


def test_bad_spec_is_an_import_error_naming_its_file_while_other_feeds_load(
        bad_project: Path, tmp_path: Path) -> None:
    got = parse(tmp_path, home=bad_project)
    assert set(got["dags"]) == {f"feed.{fid}" for fid in FEEDS} | DOWNSTREAM
    assert set(got["import_errors"]) == {"exchange_feed_errors.py"}
    message = got["import_errors"]["exchange_feed_errors.py"]
    assert "feeds/police/broken.yaml: mapping.性别2: unknown field 'sex' of person" in message
    assert "feeds/health/garbled.yaml: line 3" in message or "feeds/health/garbled.yaml: line 2" in message
    assert "2 feed spec(s)" in message


def test_strict_mode_fails_the_feeds_file_on_a_bad_spec(bad_project: Path, tmp_path: Path) -> None:
    got = parse(tmp_path, home=bad_project, strict=True)
    assert "exchange_feeds.py" in got["import_errors"]
    assert "feeds/police/broken.yaml: mapping.性别2: unknown field 'sex' of person" in \
        got["import_errors"]["exchange_feeds.py"]
    assert not [d for d in got["dags"] if d.startswith("feed.")]


# --- the task callables, in process with a fake Airflow context ------------------------------------

sys.path.insert(0, str(DAGS))

FEED = """\
agency: police
feed: residents
description: residents
owner: police-data-team
tags: [person]
source: {kind: file, path: police/*.csv}
target: person@2
mapping:
  人员编号: source_record_id
  姓名: name
  性别: {field: gender, values: {男: M, 女: F}}
  出生日期: birth_date
  行政区划代码: division_code
quality: {max_reject_ratio: 0.3}
"""
HEADER = "人员编号,姓名,性别,出生日期,行政区划代码\n"
ROWS = ["P1,张三,女,1949-12-31,110105", "P2,李四,男,1990-01-02,110105", "P3,王五,男,1990-01-02,110105"]
BAD = ["P4,,男,1990-01-01,110105", "P5,钱七,男,1990-02-30,110105"]


class FakeTI:
    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str) -> Any:
        return self.xcoms.get(task_ids)


class FakeOutletEvents(dict):
    def __missing__(self, key: Any) -> SimpleNamespace:
        self[key] = SimpleNamespace(extra={})
        return self[key]


def run_dag_tasks(feed_id: str, start: dt.datetime) -> tuple[dict[str, Any], dict[str, BaseException], Any]:
    """The feed DAG's five tasks in order, as Airflow would call them; stop at the first failure."""
    from airflow.sdk.exceptions import AirflowSkipException
    from exchange_airflow import tasks
    from exchange_airflow.assets import core_asset

    ti, events = FakeTI(), FakeOutletEvents()
    asset = core_asset("person")
    context = {"ti": ti, "data_interval_start": start, "data_interval_end": start + dt.timedelta(days=1),
               "outlet_events": events, "task": SimpleNamespace(outlets=[asset])}
    raised: dict[str, BaseException] = {}
    for name in tasks.FEED_TASKS:
        try:
            call, kwargs = tasks.task_call(name, feed_id)
            ti.xcoms[name] = call(**kwargs, **context)
        except AirflowSkipException as exc:
            raised[name] = exc
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            raised[name] = exc
            break
    return ti.xcoms, raised, events.get(asset)


@pytest.fixture
def airflow_env(project: Path, settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The exchange's settings in the environment, as the Airflow workers have them."""
    from exchange.spec.connections import unregister_resolver

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow_home"))
    monkeypatch.setenv("EXCHANGE_HOME", str(project))
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("EXCHANGE_LANDING_DIR", str(settings.landing_dir))
    monkeypatch.setenv("EXCHANGE_STAGING_DIR", str(settings.staging_dir))
    monkeypatch.setenv("EXCHANGE_REPORTS_DIR", str(settings.reports_dir))
    yield settings
    from exchange_airflow.connections import airflow_resolver

    unregister_resolver(airflow_resolver)  # the tasks registered it: leave the process as it was


def test_tasks_run_the_stages_pass_only_ids_and_counts_and_emit_the_asset_event(project: Path, airflow_env) -> None:
    settings = airflow_env
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(ROWS + BAD[:1]) + "\n")
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    xcoms, raised, event = run_dag_tasks("police.residents", start)
    assert raised == {}
    assert xcoms["extract"]["already_loaded"] is False
    assert xcoms["extract"]["interval"] == ["2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00"]
    assert xcoms["load"]["inserted"] == 3 and xcoms["load"]["rows_quarantined"] == 1
    assert xcoms["publish"]["state"] == "published"
    assert event.extra == {"feed": "police.residents", **xcoms["load"]}
    text = json.dumps(xcoms, ensure_ascii=False)
    assert "张三" not in text and "110105" not in text, "XComs carry ids and counts, never row values"

    # a second run over another interval finds the same batch: nothing to do, no asset event
    xcoms2, raised2, event2 = run_dag_tasks("police.residents", start + dt.timedelta(days=1))
    assert xcoms2["extract"] == {**xcoms["extract"], "already_loaded": True, "state": "published",
                                 "interval": ["2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"]}
    assert set(raised2) == {"load"} and "already loaded" in str(raised2["load"])
    assert event2 is None
    assert xcoms2["publish"] == {"batch_id": xcoms["extract"]["batch_id"], "already_loaded": True}


SQL_FEED = """\
agency: civil_affairs
feed: registry
description: an incremental SQL source, read by its updated_at cursor
source: {kind: sql, conn: test_registry, table: residents, cursor: updated_at}
target: person@2
mapping:
  pid: source_record_id
  xm: name
  xb: {field: gender, values: {男: M, 女: F}}
  csrq: birth_date
  xzqh: division_code
"""


def test_backfill_of_an_incremental_feed_loads_each_row_once(project: Path, airflow_env, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Daily runs over a date range (a backfill) of a `sql` feed: each run reads what is new beyond
    the saved watermark; a run with nothing new is its predecessor's batch, already loaded."""
    import sqlite3

    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine

    settings = airflow_env
    write(project / "feeds" / "civil_affairs" / "registry.yaml", SQL_FEED)
    source = tmp_path / "registry.db"
    monkeypatch.setenv("EXCHANGE_CONN_TEST_REGISTRY", f"sqlite:///{source}")
    db = sqlite3.connect(source)
    db.execute("CREATE TABLE residents (pid TEXT PRIMARY KEY, xm TEXT, xb TEXT, csrq TEXT, xzqh TEXT, updated_at TEXT)")

    def add(rows: list[tuple[str, str, str]]) -> None:
        db.executemany("INSERT OR REPLACE INTO residents VALUES (?, ?, '男', '1990-01-02', '110105', ?)", rows)
        db.commit()

    add([("R1", "张三", "2026-03-01 08:00:00"), ("R2", "李四", "2026-03-01 09:00:00")])
    day = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    outcomes = []
    for i in range(4):
        if i == 2:  # new rows and one update arrive before the third day's run
            add([("R3", "王五", "2026-03-03 10:00:00"), ("R1", "张三丰", "2026-03-03 11:00:00")])
        xcoms, raised, event = run_dag_tasks("civil_affairs.registry", day + dt.timedelta(days=i))
        outcomes.append((xcoms["extract"]["already_loaded"], set(raised), event and
                         (event.extra["inserted"], event.extra["updated"])))
    db.close()
    assert outcomes == [(False, set(), (2, 0)), (True, {"load"}, None), (False, set(), (1, 1)), (True, {"load"}, None)]
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        core = conn.execute(text("SELECT source_record_id, name FROM core.person ORDER BY 1")).all()
        batches = conn.execute(text("SELECT count(*) FROM audit.batch WHERE feed = 'civil_affairs.registry'")).scalar()
    engine.dispose()
    assert [tuple(r) for r in core] == [("R1", "张三丰"), ("R2", "李四"), ("R3", "王五")]
    assert batches == 2


def test_a_batch_over_its_reject_ratio_fails_validate_at_once(project: Path, airflow_env) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from exchange.errors import DataQualityError

    settings = airflow_env
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(ROWS[:1] + BAD) + "\n")
    xcoms, raised, event = run_dag_tasks("police.residents", dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    assert set(raised) == {"validate"} and "stage" not in xcoms and "publish" not in xcoms
    assert isinstance(raised["validate"], AirflowFailException)
    assert isinstance(raised["validate"].__cause__, DataQualityError)
    message = str(raised["validate"])
    assert "max_reject_ratio" in message and "police/r.csv" in message and "top reasons: " in message
    assert message.count("DataQualityError") == 1, message
    assert event is None


@pytest.mark.parametrize(("error", "retried"), [
    ("TransientError", True), ("TerminalError", False), ("DataQualityError", False), ("ConfigError", False),
    ("SourceError", False), ("ValueError", False),
])
def test_only_transient_errors_are_retried(error: str, retried: bool) -> None:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
    from exchange_airflow.tasks import failing_fast

    from exchange import errors

    exc_type = getattr(errors, error, None) or ValueError
    with pytest.raises(Exception) as caught, failing_fast("feed police.residents, load"):
        raise exc_type("boom")
    if retried:
        assert type(caught.value) is exc_type
    else:
        assert isinstance(caught.value, AirflowFailException)
        assert f"feed police.residents, load: {exc_type.__name__}: boom" in str(caught.value)
    with pytest.raises(AirflowSkipException), failing_fast("x"):
        raise AirflowSkipException("nothing to do")


def test_data_interval_is_utc_and_absent_for_runs_without_one() -> None:
    import pendulum
    from exchange_airflow.tasks import data_interval

    start = pendulum.datetime(2026, 3, 1, 8, tz="Asia/Shanghai")
    got = data_interval({"data_interval_start": start, "data_interval_end": start.add(days=1)})
    assert got == (dt.datetime(2026, 3, 1, 0, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 0, tzinfo=dt.UTC))
    assert data_interval({"data_interval_start": None, "data_interval_end": None}) is None


WRITTEN = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.serialization.serialized_objects import DagSerialization

dags = Path(sys.argv[1])
bag = BundleDagBag(str(dags), bundle_path=dags)
out = {}
for dag_id in ("feed.police.residents", "feed.police.hotel_stays"):
    dag = bag.dags[dag_id]
    again = DagSerialization.from_dict(DagSerialization.to_dict(dag))  # as the scheduler reads it back
    start = dag.timetable.next_dagrun_info(last_automated_data_interval=None, restriction=__import__(
        "airflow.timetables.base", fromlist=["TimeRestriction"]).TimeRestriction(dag.start_date, None, True))
    again_start = again.timetable.next_dagrun_info(last_automated_data_interval=None, restriction=__import__(
        "airflow.timetables.base", fromlist=["TimeRestriction"]).TimeRestriction(dag.start_date, None, True))
    out[dag_id] = {"type": type(again.timetable).__name__, "summary": again.timetable.summary,
                   "description": again.timetable.description,
                   "interval": [str(start.data_interval.start), str(start.data_interval.end)],
                   "again": [str(again_start.data_interval.start), str(again_start.data_interval.end)]}
print(json.dumps({"dags": out, "errors": {Path(k).name: v for k, v in bag.import_errors.items()}}))
"""


def test_with_its_plugin_a_schedule_shows_as_written_and_runs_the_same(tmp_path: Path) -> None:
    """``@daily`` stays ``@daily`` in what Airflow shows (the timetable's summary, read back from the
    serialized DAG as the scheduler and the UI do), with the same data intervals as the plain cron
    timetable; without the plugin (the other tests) the DAGs fall back to the plain timetable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EXCHANGE_", "GX_"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW__CORE__PLUGINS_FOLDER": str(DAGS / "plugins"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/no-such-folder/airflow.db",
                "EXCHANGE_WAREHOUSE_URL": "postgresql+psycopg://parse-time@192.0.2.1:1/never"})
    proc = subprocess.run([sys.executable, "-c", WRITTEN, str(DAGS)], env=env, capture_output=True, text=True,
                          timeout=300, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["errors"] == {}
    residents, hotels = got["dags"]["feed.police.residents"], got["dags"]["feed.police.hotel_stays"]
    assert residents["type"] == "WrittenCron" and residents["summary"] == "@daily"
    assert residents["description"] == "At 00:00"
    assert residents["interval"] == residents["again"] == ["2025-01-01 00:00:00+00:00", "2025-01-02 00:00:00+00:00"]
    assert hotels["summary"] == "@hourly" and hotels["interval"] == hotels["again"]
