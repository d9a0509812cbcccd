"""The warehouse on the real PostgreSQL: loads, idempotent reloads, history, migrations,
the per-feed lock, and SIGKILL in the middle of COPY and of the upsert."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from sqlalchemy import create_engine, text

from exchange import formats
from exchange.errors import ConfigError, TransientError
from exchange.runner import run_feed
from exchange.spec.settings import Settings
from tests.conftest import write

FEED = """\
agency: police
feed: residents
description: residents
source: {kind: file, path: police/*.csv}
target: person@1
mapping:
  人员编号: source_record_id
  姓名: name
  身份证号: id_number
  性别: {field: gender, values: {男: M, 女: F}}
  出生日期: birth_date
  联系电话: phone
  行政区划代码: division_code
quality: {max_reject_ratio: 0.2}
"""
OTHER_FEED = (FEED.replace("agency: police", "agency: justice").replace("feed: residents", "feed: other")
              .replace("police/*.csv", "other/*.csv"))


def make_rows(n: int, *, bad_every: int = 100, seed: int = 1) -> tuple[str, int]:
    """n resident rows with valid ID numbers; every ``bad_every``-th has a broken check character."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 20000, n)
    births = (np.datetime64("1950-01-01") + days).astype("datetime64[D]").astype(str)
    seq = rng.integers(0, 1000, n)
    first17 = [f"610902{b.replace('-', '')}{s:03d}" for b, s in zip(births, seq, strict=True)]
    checks = formats.resident_id_check_char(pa.array(first17)).to_pylist()
    lines = ["人员编号,姓名,身份证号,性别,出生日期,联系电话,行政区划代码"]
    bad = 0
    for i in range(n):
        rid = first17[i] + checks[i]
        if bad_every and i % bad_every == bad_every - 1:
            rid = first17[i] + ("0" if checks[i] != "0" else "1")
            bad += 1
        gender = "男" if int(first17[i][16]) % 2 else "女"
        lines.append(f"R{i:07d},居民{i},{rid},{gender},{births[i]},138{i % 100000000:08d},610902")
    return "\n".join(lines) + "\n", bad


@pytest.fixture
def pg_project(project: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(project / "feeds" / "justice" / "other.yaml", OTHER_FEED)
    env = {"EXCHANGE_HOME": str(project), "EXCHANGE_WAREHOUSE_URL": pg_url,
           "EXCHANGE_LANDING_DIR": str(tmp_path / "landing"), "EXCHANGE_STAGING_DIR": str(tmp_path / "staging"),
           "EXCHANGE_REPORTS_DIR": str(tmp_path / "reports"), "EXCHANGE_BATCH_ROWS": "2000"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings.from_env(project)


def q(settings: Settings, sql: str) -> list[tuple]:
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_load_reload_and_history_on_postgres(pg_project: Settings) -> None:
    csv, bad = make_rows(5000)
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    out = run_feed("police.residents", settings=pg_project)
    assert (out.state, out.rows_in, out.rows_loaded, out.rows_quarantined) == ("published", 5000, 5000 - bad, bad)
    assert q(pg_project, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [(4950, 4950)]
    again = run_feed("police.residents", settings=pg_project)
    assert again.already_loaded
    assert q(pg_project, "SELECT count(*) FROM core.person") == [(4950,)]
    # change three names: three new versions, three superseded ones kept
    lines = csv.splitlines()
    for i in (1, 2, 3):
        lines[i] = lines[i].replace(f"居民{i - 1},", f"居民{i - 1}改,")
    write(pg_project.landing_dir / "police" / "r.csv", "\n".join(lines) + "\n")
    changed = run_feed("police.residents", settings=pg_project)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 3, 4947)
    assert q(pg_project, "SELECT count(*) FROM core.person_history") == [(3,)]
    assert q(pg_project, "SELECT name FROM core.person_history ORDER BY source_record_id") == [
        ("居民0",), ("居民1",), ("居民2",)]
    assert q(pg_project, "SELECT name FROM core.person WHERE source_record_id = 'R0000000'") == [("居民0改",)]
    states = q(pg_project, "SELECT state, rows_in, rows_valid + rows_quarantined FROM audit.batch ORDER BY started_at")
    assert [s[0] for s in states] == ["published", "published"] and all(s[1] == s[2] for s in states)


def test_existing_warehouse_is_migrated_additively(pg_project: Settings) -> None:
    csv, _ = make_rows(200, bad_every=0)
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    run_feed("police.residents", settings=pg_project)
    path = pg_project.root / "schemas" / "person.yaml"
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema["version"] = "1.1.0"
    schema["fields"]["nickname"] = {"type": "string", "pii": "direct_identifier", "description": "Nickname."}
    path.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    write(pg_project.landing_dir / "police" / "r.csv", csv.replace("R0000001,居民1", "R0000001,居民一"))
    run_feed("police.residents", settings=pg_project)
    assert q(pg_project, "SELECT count(*), count(nickname) FROM core.person") == [(200, 0)]
    # a breaking change is refused and nothing is altered
    schema["version"] = "2.0.0"
    schema["fields"]["ethnicity"]["type"] = "integer"
    path.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    feed = pg_project.root / "feeds" / "police" / "residents.yaml"
    feed.write_text(FEED.replace("person@1", "person@2"), encoding="utf-8")
    (pg_project.root / "feeds" / "justice" / "other.yaml").unlink()
    with pytest.raises(ConfigError, match=r"core\.person\.ethnicity: type TEXT → BIGINT"):
        run_feed("police.residents", settings=pg_project)
    assert q(pg_project, "SELECT data_type FROM information_schema.columns WHERE table_schema='core' "
                         "AND table_name='person' AND column_name='ethnicity'") == [("text",)]


_SPAWNED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _reap_children() -> object:
    """A child paused at a fault point must never outlive its test (it would hold locks and
    connections that block every later DROP DATABASE on the server)."""
    yield
    while _SPAWNED:
        proc = _SPAWNED.pop()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _spawn(settings: Settings, point: str, marker: Path, feed: str = "police.residents") -> subprocess.Popen:
    env = {**os.environ, "EXCHANGE_FAULT_POINT": point, "EXCHANGE_FAULT_FILE": str(marker)}
    proc = subprocess.Popen([sys.executable, "-c", "from exchange.cli import run_cli; run_cli()", "run", feed],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    _SPAWNED.append(proc)
    return proc


def _wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before the fault point: {proc.stdout.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("fault point not reached in time")
        time.sleep(0.1)


@pytest.mark.parametrize("point", ["load.copy", "load.upsert"])
def test_sigkill_during_load_then_rerun_loses_and_duplicates_nothing(pg_project: Settings, tmp_path: Path,
                                                                      point: str) -> None:
    csv, bad = make_rows(20000)
    if point == "load.upsert":
        # The upsert path runs when the agency already has rows (a first load is a plain COPY).
        write(pg_project.landing_dir / "police" / "r.csv", "\n".join(csv.splitlines()[:1001]) + "\n")
        run_feed("police.residents", settings=pg_project)
    before = q(pg_project, "SELECT count(*) FROM core.person") if point == "load.upsert" else [(0,)]
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    marker = tmp_path / f"{point}.reached"
    proc = _spawn(pg_project, point, marker)
    _wait_for(marker, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert q(pg_project, "SELECT count(*) FROM core.person") == before  # the killed transaction left nothing
    out = run_feed("police.residents", settings=pg_project)
    assert out.state == "published"
    assert q(pg_project, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [
        (20000 - bad, 20000 - bad)]
    assert q(pg_project, "SELECT count(*) FROM quarantine.person WHERE _batch_id = :b".replace(
        ":b", f"'{out.batch_id}'")) == [(bad,)]
    assert q(pg_project, "SELECT state, rows_in, rows_loaded, rows_quarantined, attempts FROM audit.batch "
                         f"WHERE batch_id = '{out.batch_id}'") == [("published", 20000, 20000 - bad, bad, 1)]
    assert q(pg_project, "SELECT count(*) FROM audit.batch WHERE state <> 'published'") == [(0,)]


def test_second_run_of_a_feed_is_refused_while_other_feeds_proceed(pg_project: Settings, tmp_path: Path) -> None:
    csv, _ = make_rows(3000, bad_every=0)
    write(pg_project.landing_dir / "police" / "r.csv", csv)
    write(pg_project.landing_dir / "other" / "r.csv", csv)
    marker = tmp_path / "held"
    proc = _spawn(pg_project, "load.copy", marker)
    try:
        _wait_for(marker, proc)
        with pytest.raises(TransientError, match="another run holds its lock"):
            run_feed("police.residents", settings=pg_project)
        other = run_feed("justice.other", settings=pg_project)  # a different feed is not blocked
        assert other.state == "published"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    out = run_feed("police.residents", settings=pg_project)
    assert out.state == "published"
    assert q(pg_project, "SELECT source_agency, count(*) FROM core.person GROUP BY 1 ORDER BY 1") == [
        ("justice", 3000), ("police", 3000)]
