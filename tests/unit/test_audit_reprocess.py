"""Reprocessing quarantined rows after a mapping fix, on the embedded SQLite warehouse: rows
that now pass are loaded and resolved, the others stay open with their new reasons, nothing
is deleted, the counts invariant holds and the ledger records the resolution."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from exchange.audit import chain
from exchange.cli import app
from exchange.errors import ConfigError
from exchange.pipeline.reprocess import reprocess_quarantine
from exchange.runner import run_feed
from exchange.warehouse.engine import make_engine
from exchange.workspace.audit import row_lineage
from tests.conftest import write
from tests.residents import FEED, HEADER, TODAY

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

# Only 男 is mapped: every 女 row is quarantined for mapping.value until the feed is fixed.
NARROW = FEED.replace("values: {男: M, 女: F}}", "values: {男: M}, strict_values: true}")
FIXED = FEED.replace("values: {男: M, 女: F}}", "values: {男: M, 女: F}, strict_values: true}")
ROWS = [
    "P1,张三,11010519491231002X,女,1949年12月31日,13800138000,110105",  # fixed by the mapping
    "P2,李四,,男,1990/1/2,13900139000,110105",                         # loads at once
    "P3,王芳,,女,1990-03-04,13700137000,110105",                        # fixed by the mapping
    "P4,赵六,,女,1949-12-31,12345,110105",                             # also a bad phone number
    "P5,孙八,,男,1990-01-01,13800138000,110105,extra",                # ragged: stays a parse error
]


def _setup(project: Path, settings, rows: list[str], feed: str, name: str = "r.csv") -> None:
    write(project / "feeds" / "police" / "residents.yaml", feed)
    write(settings.landing_dir / "police" / name, HEADER + "\n".join(rows) + "\n")


def _sql(settings, query: str) -> list[tuple]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query))]


def _feed(project: Path, feed: str) -> None:
    write(project / "feeds" / "police" / "residents.yaml", feed)


def test_reprocessing_after_a_mapping_fix(project: Path, settings) -> None:
    _setup(project, settings, ROWS, NARROW.replace("0.7", "0.9"))
    first = run_feed("police.residents", settings=settings, today=TODAY)
    assert (first.rows_in, first.rows_loaded, first.rows_quarantined) == (5, 1, 4)
    _feed(project, FIXED.replace("0.7", "0.9"))

    out = reprocess_quarantine("police.residents", settings=settings, today=TODAY, requested_by="auditor")
    assert out.state == "published" and "-reprocess-" in out.batch_id
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined) == (4, 2, 2)
    assert out.rows_in == out.rows_loaded + out.rows_quarantined
    batch = _sql(settings, f"SELECT rows_in, rows_valid, rows_loaded, rows_quarantined, state FROM audit.batch "
                           f"WHERE batch_id = '{out.batch_id}'")
    assert batch == [(4, 2, 2, 2, "published")]

    core = dict(_sql(settings, "SELECT source_record_id, _batch_id FROM core.person"))
    assert core == {"P1": out.batch_id, "P2": first.batch_id, "P3": out.batch_id}
    assert _sql(settings, "SELECT gender FROM core.person WHERE source_record_id = 'P1'") == [("F",)]
    lineage = _sql(settings, "SELECT _source_file, _source_row FROM core.person WHERE source_record_id = 'P3'")
    assert lineage == [("police/r.csv", 3)]  # the agency's file and record, not the quarantine's

    q = {r[0]: r[1:] for r in _sql(settings, "SELECT source_record_id, status, resolved_by, rechecked_by, rules, "
                                             "recheck_reasons FROM quarantine.person")}
    assert len(q) == 4  # nothing deleted
    assert q["P1"][:2] == ("resolved", out.batch_id) and q["P3"][:2] == ("resolved", out.batch_id)
    status, resolved_by, rechecked_by, rules, recheck = q["P4"]
    assert (status, resolved_by, rechecked_by) == ("open", None, out.batch_id)
    assert rules == "mapping.value,phone.format"  # the original reasons stay
    assert [r["rule"] for r in json.loads(recheck)] == ["phone.format"]  # the new ones beside them
    assert [r["rule"] for r in json.loads(q["P5"][4])] == ["parse.error"]

    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        assert chain.verify(conn).ok
        entry = chain.latest(conn, "quarantine_resolution", out.batch_id)
    data = entry.data
    assert (data["rows_in"], data["rows_loaded"], data["rows_still_quarantined"]) == (4, 2, 2)
    assert [r[:3] for r in data["resolved"]] == [[first.batch_id, "police/r.csv", 1],
                                                 [first.batch_id, "police/r.csv", 3]]
    assert data["requested_by"] == "auditor"
    assert "11010519491231002X" not in entry.payload and "张三" not in entry.payload

    found = row_lineage("core.person", "police:P1", settings=settings)
    assert found["batch"]["reprocessing"] and found["origin"]["batch_id"] == first.batch_id
    assert found["origin"]["quarantined_for"] == "mapping.value" and found["staged"]["ok"]
    assert {f["name"] for f in found["staged"]["files"]} >= {"resolution.parquet"}

    again = reprocess_quarantine("police.residents", settings=settings, today=TODAY)
    assert again.batch_id == "" and again.state == "nothing to reprocess"  # the rest fail the same way


def test_only_one_batch_and_bad_batch_arguments(project: Path, settings) -> None:
    _setup(project, settings, ROWS[:1], NARROW.replace("0.7", "1.0"), "a.csv")
    first = run_feed("police.residents", settings=settings, today=TODAY)
    (settings.landing_dir / "police" / "a.csv").unlink()
    _setup(project, settings, ROWS[2:3], NARROW.replace("0.7", "1.0"), "b.csv")
    second = run_feed("police.residents", settings=settings, today=TODAY)
    _feed(project, FIXED.replace("0.7", "1.0"))
    out = reprocess_quarantine("police.residents", batch=second.batch_id, settings=settings, today=TODAY)
    assert (out.rows_in, out.rows_loaded) == (1, 1)
    assert _sql(settings, f"SELECT status FROM quarantine.person WHERE _batch_id = '{first.batch_id}'") == [("open",)]
    with pytest.raises(ConfigError, match="no batch 'nope'"):
        reprocess_quarantine("police.residents", batch="nope", settings=settings, today=TODAY)


def test_a_failed_batch_is_rerun_not_reprocessed(project: Path, settings) -> None:
    _setup(project, settings, ROWS, NARROW.replace("0.7", "0.1"))
    with pytest.raises(Exception, match="reject ratio"):
        run_feed("police.residents", settings=settings, today=TODAY)
    [(batch_id,)] = _sql(settings, "SELECT batch_id FROM audit.batch")
    with pytest.raises(ConfigError, match="rerun the feed"):
        reprocess_quarantine("police.residents", batch=batch_id, settings=settings, today=TODAY)
    out = reprocess_quarantine("police.residents", settings=settings, today=TODAY)
    assert out.state == "nothing to reprocess"


def test_an_older_version_never_replaces_a_newer_one(project: Path, settings) -> None:
    # P1 is quarantined in the first file; the agency's next file carries a valid P1 that loads.
    _setup(project, settings, ROWS[:1], NARROW.replace("0.7", "1.0"), "a.csv")
    first = run_feed("police.residents", settings=settings, today=TODAY)
    (settings.landing_dir / "police" / "a.csv").unlink()
    _setup(project, settings, ["P1,张三,,男,1949-12-31,13800138000,110105"], NARROW.replace("0.7", "1.0"), "b.csv")
    second = run_feed("police.residents", settings=settings, today=TODAY)
    assert second.rows_loaded == 1
    _feed(project, FIXED.replace("0.7", "1.0"))
    out = reprocess_quarantine("police.residents", settings=settings, today=TODAY)
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined) == (1, 0, 1)
    assert _sql(settings, "SELECT _batch_id, gender FROM core.person") == [(second.batch_id, "M")]
    [(status, recheck)] = _sql(settings, f"SELECT status, recheck_reasons FROM quarantine.person "
                                         f"WHERE _batch_id = '{first.batch_id}'")
    assert status == "open" and json.loads(recheck)[0]["rule"] == "key.superseded"
    assert second.batch_id in json.loads(recheck)[0]["message"]


def test_the_newest_quarantined_version_wins(project: Path, settings) -> None:
    _setup(project, settings, ["P1,张三,,女,1949-12-31,13800138000,110105"], NARROW.replace("0.7", "1.0"), "a.csv")
    run_feed("police.residents", settings=settings, today=TODAY)
    (settings.landing_dir / "police" / "a.csv").unlink()
    time.sleep(1.1)  # batches are ordered by when they started, to the second: the second one is newer
    _setup(project, settings, ["P1,张叁,,女,1949-12-31,13800138000,110105"], NARROW.replace("0.7", "1.0"), "b.csv")
    second = run_feed("police.residents", settings=settings, today=TODAY)
    _feed(project, FIXED.replace("0.7", "1.0"))
    out = reprocess_quarantine("police.residents", settings=settings, today=TODAY)
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined) == (2, 1, 1)
    assert _sql(settings, "SELECT name FROM core.person") == [("张叁",)]
    resolved = _sql(settings, "SELECT _batch_id FROM quarantine.person WHERE status = 'resolved'")
    assert resolved == [(second.batch_id,)]


def test_cli_reprocess(project: Path, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(project, settings, ROWS, NARROW.replace("0.7", "0.9"))
    run_feed("police.residents", settings=settings, today=TODAY)
    _feed(project, FIXED.replace("0.7", "0.9"))
    for var, value in (("EXCHANGE_HOME", project), ("EXCHANGE_WAREHOUSE_URL", settings.warehouse_url),
                       ("EXCHANGE_LANDING_DIR", settings.landing_dir), ("EXCHANGE_STAGING_DIR", settings.staging_dir),
                       ("EXCHANGE_REPORTS_DIR", settings.reports_dir)):
        monkeypatch.setenv(var, str(value))
    runner = CliRunner()
    out = runner.invoke(app, ["quarantine", "reprocess", "police.residents", "--by", "auditor"])
    assert out.exit_code == 1, out.output  # some rows are still quarantined
    assert "4 rows re-checked: 2 loaded and resolved, 2 still quarantined" in out.output
    again = runner.invoke(app, ["quarantine", "reprocess", "police.residents"])
    assert again.exit_code == 0 and "nothing to reprocess" in again.output
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


def test_a_new_attempt_of_a_failed_batch_keeps_its_quarantined_rows(project: Path, settings) -> None:
    import time

    _setup(project, settings, ROWS, NARROW.replace("0.7", "0.1"))
    with pytest.raises(Exception, match="reject ratio"):
        run_feed("police.residents", settings=settings, today=TODAY)
    before = _sql(settings, "SELECT _source_row, _quarantined_at, reasons FROM quarantine.person ORDER BY 1")
    time.sleep(1.1)  # a replaced row would carry a later _quarantined_at
    with pytest.raises(Exception, match="reject ratio"):
        run_feed("police.residents", settings=settings, today=TODAY)
    assert _sql(settings, "SELECT attempts, state, rows_quarantined FROM audit.batch") == [(2, "failed", 4)]
    after = _sql(settings, "SELECT _source_row, _quarantined_at, reasons FROM quarantine.person ORDER BY 1")
    assert after == before and len(after) == 4  # the same rows, kept as they were: neither deleted nor replaced
