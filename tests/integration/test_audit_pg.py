"""The audit features on the real PostgreSQL: the hash chain (tampering scenarios, triggers,
concurrent appends under the advisory lock), reprocessing (COPY-loaded quarantine rows with
the resolution columns), lineage and the report."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from exchange.audit import chain, records
from exchange.pipeline.reprocess import reprocess_quarantine
from exchange.runner import run_feed
from exchange.spec.settings import Settings
from exchange.workspace.audit import audit_report, row_lineage
from tests.conftest import write
from tests.integration.crash import FEED
from tests.ledger_tampering import (
    TAMPERING,
    check_concurrent_appends,
    check_guards,
    check_rewritten_tail,
    check_tampering,
    warehouse,
)
from tests.resident_ids import valid_ids_in

TODAY = dt.date(2026, 11, 28)
HEADER = "人员编号,姓名,身份证号,性别,出生日期,联系电话,行政区划代码\n"
def _feed(values: str) -> str:
    """The police.residents feed with strict gender values and room for most rows to be rejected."""
    assert "values: {男: M, 女: F}}" in FEED and "max_reject_ratio: " in FEED
    changed = FEED.replace("values: {男: M, 女: F}}", f"values: {values}, strict_values: true}}")
    return re.sub(r"max_reject_ratio: [0-9.]+", "max_reject_ratio: 0.9", changed)


NARROW = _feed("{男: M}")
FIXED = _feed("{男: M, 女: F}")
ROWS = [
    "P1,张三,11010519491231002X,女,1949年12月31日,13800138000,110105",
    "P2,李四,,男,1990/1/2,13900139000,110105",
    "P3,王芳,,女,1990-03-04,13700137000,110105",
    "P4,赵六,,女,1949-12-31,12345,110105",  # a bad phone number: still quarantined after the fix
]


@pytest.mark.parametrize(("change", "seq", "words"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_verify_names_the_first_broken_entry_on_pg(pg_url: str, change, seq: int, words: str) -> None:
    engine = warehouse(pg_url)
    try:
        check_tampering(engine, change, seq, words)
    finally:
        engine.dispose()


def test_the_ledger_refuses_updates_deletes_and_truncate_on_pg(pg_url: str) -> None:
    engine = warehouse(pg_url)
    try:
        check_guards(engine)
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit.ledger"))
    finally:
        engine.dispose()


def test_anchor_catches_a_rewritten_tail_on_pg(pg_url: str) -> None:
    engine = warehouse(pg_url)
    try:
        check_rewritten_tail(engine)
    finally:
        engine.dispose()


def test_concurrent_appends_are_serialised_on_pg(pg_url: str) -> None:
    engine = warehouse(pg_url)
    try:
        check_concurrent_appends(engine, threads=6, each=15)
    finally:
        engine.dispose()


def _q(settings: Settings, sql: str) -> list[tuple]:
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_pipeline_reprocessing_lineage_and_report_on_pg(pg_project: Settings, project: Path,
                                                        tmp_path: Path) -> None:
    settings = pg_project
    write(project / "feeds" / "police" / "residents.yaml", NARROW)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(ROWS) + "\n")
    first = run_feed("police.residents", settings=settings, today=TODAY)
    assert (first.rows_loaded, first.rows_quarantined) == (1, 3)
    write(project / "feeds" / "police" / "residents.yaml", FIXED)
    out = reprocess_quarantine("police.residents", settings=settings, today=TODAY, requested_by="auditor")
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined) == (3, 2, 1)
    assert _q(settings, f"SELECT rows_in, rows_loaded, rows_quarantined FROM audit.batch "
                        f"WHERE batch_id = '{out.batch_id}'") == [(3, 2, 1)]
    statuses = dict(_q(settings, "SELECT source_record_id, status FROM quarantine.person"))
    assert statuses == {"P1": "resolved", "P3": "resolved", "P4": "open"}
    [(recheck,)] = _q(settings, "SELECT recheck_reasons FROM quarantine.person WHERE source_record_id = 'P4'")
    assert json.loads(recheck)[0]["rule"] == "phone.format"

    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            result = chain.verify(conn)
            assert result.ok and result.entries == 7  # 3 per batch + the resolution
            assert records.crosscheck(conn) == []
            kinds = [e.kind for e in chain.entries(conn)]
        assert kinds[-1] == "quarantine_resolution"
    finally:
        engine.dispose()

    found = row_lineage("core.person", "police:P3", settings=settings)
    assert found["batch"]["batch_id"] == out.batch_id and found["origin"]["batch_id"] == first.batch_id
    assert found["staged"]["ok"] and found["validation"]["suite"] == "person_v2_0_0"

    html = audit_report(since=dt.date.today() - dt.timedelta(days=1), settings=settings).read_text(encoding="utf-8")
    assert first.batch_id in html and out.batch_id in html and "intact" in html
    assert "no access log yet" in html or "no reads recorded in this period" in html
    assert valid_ids_in(html) == []


def test_a_new_attempt_of_a_failed_batch_keeps_its_quarantine_on_pg(pg_project: Settings,
                                                                     project: Path) -> None:
    import time

    settings = pg_project
    write(project / "feeds" / "police" / "residents.yaml", NARROW.replace("0.9", "0.1"))
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(ROWS) + "\n")
    with pytest.raises(Exception, match="reject ratio"):
        run_feed("police.residents", settings=settings, today=TODAY)
    before = _q(settings, "SELECT _source_row, _quarantined_at FROM quarantine.person ORDER BY 1")
    time.sleep(1.1)
    with pytest.raises(Exception, match="reject ratio"):
        run_feed("police.residents", settings=settings, today=TODAY)
    assert _q(settings, "SELECT _source_row, _quarantined_at FROM quarantine.person ORDER BY 1") == before
    assert _q(settings, "SELECT attempts, rows_quarantined FROM audit.batch") == [(2, 3)]
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            assert chain.verify(conn).ok and records.crosscheck(conn) == []
    finally:
        engine.dispose()
