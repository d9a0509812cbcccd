"""The pipeline end to end on the embedded SQLite warehouse, one small feed at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from exchange.errors import DataQualityError, SourceError
from exchange.runner import run_feed, validate_file
from exchange.spec.catalog import load_catalog
from exchange.warehouse.engine import make_engine
from tests.conftest import write
from tests.residents import BAD_ROWS, FEED, FLAGGED_ROWS, GOOD_ROWS, HEADER, TODAY

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

def _setup(project: Path, settings, rows: list[str], feed: str = FEED) -> None:
    write(project / "feeds" / "police" / "residents.yaml", feed)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(rows) + "\n")


def _sql(settings, query: str) -> list[tuple]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query))]


def test_identifier_problems_are_flags_and_the_row_loads(project: Path, settings) -> None:
    # a flagged row that also breaks a row rule is quarantined with every reason
    both = "F5,,110105194912310021,女,1949-12-31,,110105"
    _setup(project, settings, GOOD_ROWS + list(FLAGGED_ROWS) + [both])
    out = run_feed("police.residents", settings=settings, today=TODAY)
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined, out.rows_flagged) == (8, 7, 1, 4)
    rows = {r[0]: r[1:] for r in _sql(settings, "SELECT source_record_id, id_number, id_number_unverified, _flags "
                                                "FROM core.person")}
    for line, (unverified, rules) in FLAGGED_ROWS.items():
        key = line.split(",")[0]
        id_number, kept, flags = rows[key]
        assert id_number is None and kept == unverified, key
        got = json.loads(flags)
        assert [f["rule"] for f in got] == rules and got[0]["field"] == "id_number", (key, got)
        assert got[0]["value"] == line.split(",")[2] and got[0]["message"]
    assert rows["P1"] == ("11010519491231002X", None, None)
    (reasons,) = _sql(settings, "SELECT reasons FROM quarantine.person")[0]
    assert {(r["field"], r["rule"]) for r in json.loads(reasons)} == {("name", "required"),
                                                                      ("id_number", "resident_id.checksum")}
    assert _sql(settings, "SELECT rows_in, rows_loaded, rows_quarantined, rows_flagged FROM audit.batch") == [
        (8, 7, 1, 4)]
    checked = json.loads((Path(out.staging_path) / "validation.json").read_text(encoding="utf-8"))
    assert checked["rows_flagged"] == 4
    assert {(rule, field) for rule, field, _n in checked["top_flags"]} == {
        ("resident_id.checksum", "id_number"), ("resident_id.legacy_15", "id_number"),
        ("resident_id.gender", "id_number"), ("resident_id.birth_mismatch", "id_number")}
    failed = dict(_sql(settings, "SELECT rule, unexpected_count FROM audit.validation WHERE NOT success"))
    assert failed["resident_id.gender"] == 1 and failed["resident_id.birth_mismatch"] == 1
    report = validate_file(settings.landing_dir / "police" / "r.csv", "police.residents", settings=settings,
                           today=TODAY)
    assert (report.rows_valid, report.rows_flagged, report.rows_rejected) == (7, 4, 1)
    assert [f["source_record_id"] for f in report.flagged] == ["F1", "F2", "F3", "F4"]


def test_valid_rows_load_and_invalid_rows_are_quarantined_with_reasons(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS + list(BAD_ROWS))
    out = run_feed("police.residents", settings=settings, today=TODAY)
    assert out.state == "published"
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined) == (10, 3, 7)
    assert out.rows_in == out.rows_loaded + out.rows_quarantined
    core = dict(_sql(settings, "SELECT source_record_id, birth_date FROM core.person"))
    assert core == {"P1": "1949-12-31", "P2": "1990-01-02", "P3": "1990-01-02"}
    phones = dict(_sql(settings, "SELECT source_record_id, phone FROM core.person"))
    assert phones["P2"] == "13900139000" and phones["P3"] == "010-12345678"
    quarantined = _sql(settings, "SELECT _source_row, reasons, original FROM quarantine.person ORDER BY 1")
    assert [r[0] for r in quarantined] == [4, 5, 6, 7, 8, 9, 10]
    for (row, reasons, original), (line, (field, rule)) in zip(quarantined, BAD_ROWS.items(), strict=True):
        got = json.loads(reasons)
        assert [(r["field"], r["rule"]) for r in got] == [(field, rule)], (row, got)
        assert json.loads(original)["人员编号"] == line.split(",")[0]
    batch = _sql(settings, "SELECT state, rows_in, rows_valid, rows_loaded, rows_quarantined FROM audit.batch")
    assert batch == [("published", 10, 3, 3, 7)]
    assert Path(out.report_path).exists()
    validation = _sql(settings, "SELECT rule, unexpected_count FROM audit.validation WHERE NOT success")
    assert ("division_code", 2) in validation and ("required", 1) in validation


def test_report_masks_identifiers(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS + list(BAD_ROWS) + list(FLAGGED_ROWS))
    out = run_feed("police.residents", settings=settings, today=TODAY)
    html = Path(out.report_path).read_text(encoding="utf-8")
    assert "110105194912310021" not in html and "110105**********21" in html  # flagged: samples masked too
    samples = _sql(settings, "SELECT sample_values FROM audit.validation WHERE rule = 'phone'")
    assert "12345" not in samples[0][0]


def test_rerun_of_a_loaded_batch_is_a_no_op(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS)
    first = run_feed("police.residents", settings=settings, today=TODAY)
    again = run_feed("police.residents", settings=settings, today=TODAY)
    assert again.already_loaded and again.batch_id == first.batch_id
    assert _sql(settings, "SELECT count(*) FROM core.person") == [(3,)]
    assert _sql(settings, "SELECT count(*), max(attempts) FROM audit.batch") == [(1, 1)]


def test_changed_rows_make_new_versions_and_keep_history(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS)
    run_feed("police.residents", settings=settings, today=TODAY)
    new = next(iter(FLAGGED_ROWS))  # a record the first export did not have (loaded, its ID number flagged)
    changed = [GOOD_ROWS[0], GOOD_ROWS[1].replace("李四", "李思"), GOOD_ROWS[2], new]
    _setup(project, settings, changed)
    out = run_feed("police.residents", settings=settings, today=TODAY)
    assert (out.inserted, out.updated, out.unchanged) == (1, 1, 2)
    assert _sql(settings, "SELECT name FROM core.person WHERE source_record_id='P2'") == [("李思",)]
    assert _sql(settings, f"SELECT source_record_id, name, _batch_id = '{out.batch_id}' FROM core.person ORDER BY 1"
                ) == [("F1", "赵六", 1), ("P1", "张三", 0), ("P2", "李思", 1), ("P3", "王五", 0)]
    hist = _sql(settings, "SELECT name, _superseded_by FROM core.person_history")
    assert hist == [("李四", out.batch_id)]


def _staged_times(settings) -> dict[str, int]:
    (folder,), = _sql(settings, "SELECT staging_path FROM audit.batch")
    return {f.name: f.stat().st_mtime_ns for f in Path(folder).iterdir() if f.suffix in (".parquet", ".json")}


@pytest.mark.parametrize("same_code", [True, False])
def test_a_transient_failure_resumes_from_the_staged_files(project: Path, settings, monkeypatch: pytest.MonkeyPatch,
                                                           same_code: bool) -> None:
    """An outage during the load (TransientError) → the next run goes on from the sealed staged files
    (checked again) instead of reading the source again; with other code it redoes every stage."""
    from exchange.errors import TransientError
    from exchange.pipeline import driver, load

    _setup(project, settings, GOOD_ROWS + list(BAD_ROWS)[:2])
    real = load.upsert_core

    def outage(*args, **kwargs):
        raise TransientError("the database is unavailable (the connection is lost)")

    monkeypatch.setattr(load, "upsert_core", outage)
    with pytest.raises(TransientError):
        run_feed("police.residents", settings=settings, today=TODAY)
    assert _sql(settings, "SELECT state, attempts FROM audit.batch") == [("failed", 1)]
    before = _staged_times(settings)
    assert {"raw.parquet", "valid.parquet", "rejects.parquet", "manifest.json"} <= set(before)
    monkeypatch.setattr(load, "upsert_core", real)
    if not same_code:
        monkeypatch.setattr(driver, "code_version", lambda _root: "0.0.0+fixed")
    out = run_feed("police.residents", settings=settings, today=TODAY)
    assert (out.state, out.rows_loaded, out.rows_quarantined) == ("published", 3, 2)
    assert _sql(settings, "SELECT state, attempts, error FROM audit.batch") == [("published", 2, None)]
    assert _sql(settings, "SELECT count(*) FROM core.person") == [(3,)]
    after = _staged_times(settings)
    if same_code:
        assert after == before
    else:
        assert after["raw.parquet"] != before["raw.parquet"] and after["manifest.json"] != before["manifest.json"]


def test_a_failure_that_would_repeat_redoes_every_stage(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS[:1] + list(BAD_ROWS)[:3])
    for attempt in (1, 2):
        before = _staged_times(settings) if attempt == 2 else {}
        with pytest.raises(DataQualityError):
            run_feed("police.residents", settings=settings, today=TODAY)
        if attempt == 2:
            assert _staged_times(settings)["raw.parquet"] != before["raw.parquet"]
    assert _sql(settings, "SELECT state, attempts FROM audit.batch") == [("failed", 2)]


def test_batch_over_reject_ratio_fails_and_publishes_nothing(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS[:1] + list(BAD_ROWS)[:3])
    with pytest.raises(DataQualityError, match=r"reject ratio 75\.0% exceeds"):
        run_feed("police.residents", settings=settings, today=TODAY)
    assert _sql(settings, "SELECT count(*) FROM core.person") == [(0,)]
    assert _sql(settings, "SELECT count(*) FROM quarantine.person") == [(3,)]
    state = _sql(settings, "SELECT state, rows_in, rows_valid, rows_loaded, rows_quarantined FROM audit.batch")
    assert state == [("failed", 4, 1, 0, 3)]


def test_missing_mapped_column_fails_the_batch_naming_the_column(project: Path, settings) -> None:
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv", "人员编号,姓名,性别\nP1,张三,女\n")
    with pytest.raises(SourceError, match=r"police/r.csv: mapped column\(s\) '身份证号', '出生日期'"):
        run_feed("police.residents", settings=settings, today=TODAY)
    assert _sql(settings, "SELECT state FROM audit.batch") == [("failed",)]


def test_header_only_file_loads_zero_rows(project: Path, settings) -> None:
    _setup(project, settings, [])
    out = run_feed("police.residents", settings=settings, today=TODAY)
    assert (out.state, out.rows_in, out.rows_loaded) == ("published", 0, 0)


def test_header_only_file_still_needs_the_mapped_columns(project: Path, settings) -> None:
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv", "人员编号,姓名\n")
    with pytest.raises(SourceError, match="not found in the source"):
        run_feed("police.residents", settings=settings, today=TODAY)


def test_ragged_row_is_quarantined_as_parse_error(project: Path, settings) -> None:
    _setup(project, settings, [*GOOD_ROWS, "P9,吴十,,男,1990-01-01,13800138000,110105,extra"])
    out = run_feed("police.residents", settings=settings, today=TODAY)
    assert (out.rows_loaded, out.rows_quarantined) == (3, 1)
    rules = _sql(settings, "SELECT rules FROM quarantine.person")
    assert rules == [("parse.error",)]


def test_strict_value_map_reports_the_mapping_only(project: Path, settings) -> None:
    feed = FEED.replace("values: {男: M, 女: F}}", "values: {男: M, 女: F}, strict_values: true}")
    _setup(project, settings, [*GOOD_ROWS, "P9,吴十,,未知,1990-01-01,13800138000,110105"], feed)
    run_feed("police.residents", settings=settings, today=TODAY)
    reasons = json.loads(_sql(settings, "SELECT reasons FROM quarantine.person")[0][0])
    assert [(r["field"], r["rule"], r["value"]) for r in reasons] == [("gender", "mapping.value", "未知")]


def test_validate_file_checks_without_loading(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS + list(BAD_ROWS))
    cat = load_catalog(project)
    report = validate_file(settings.landing_dir / "police" / "r.csv", "police.residents", settings=settings,
                           catalog=cat, today=TODAY)
    assert (report.rows_in, report.rows_valid, report.rows_rejected) == (10, 3, 7)
    assert report.rejects[0]["reasons"][0]["rule"] == "division_code.format"
    assert not (project / "var" / "exchange.db").exists()


DISPUTES = """\
agency: justice
feed: disputes
description: disputes
source: {kind: file, path: justice/*.csv}
target: dispute@1
mapping:
  编号: source_record_id
  登记号: dispute_number
  类别: {field: category, values: {劳动争议: labour}}
  状态: {field: status, values: {已受理: accepted}}
  受理日期: accepted_date
  申请人: applicant_name
  申请人身份证号: applicant_id_number
  被申请人: respondent_name
  被申请人身份证号: respondent_id_number
quality: {max_reject_ratio: 0.5}
"""


def test_a_bad_respondent_number_never_costs_the_applicant(project: Path, settings) -> None:
    write(project / "feeds" / "justice" / "disputes.yaml", DISPUTES)
    write(settings.landing_dir / "justice" / "d.csv",
          "编号,登记号,类别,状态,受理日期,申请人,申请人身份证号,被申请人,被申请人身份证号\n"
          "D1,TJ1,劳动争议,已受理,2026-01-05,张三,11010519491231002X,李四,110105198001010111\n")
    out = run_feed("justice.disputes", settings=settings, today=TODAY)
    assert (out.rows_in, out.rows_loaded, out.rows_quarantined, out.rows_flagged) == (1, 1, 0, 1)
    [row] = _sql(settings, "SELECT applicant_id_number, respondent_id_number, respondent_id_number_unverified, "
                           "_flags FROM core.dispute")
    assert row[:3] == ("11010519491231002X", None, "110105198001010111")
    assert [(f["field"], f["rule"]) for f in json.loads(row[3])] == [("respondent_id_number",
                                                                      "resident_id.checksum")]
