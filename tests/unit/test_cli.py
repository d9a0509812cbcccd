"""The CLI's read-only commands and its error handling."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli import app
from tests.conftest import write

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile

runner = CliRunner()


def test_schemas_lists_every_schema() -> None:
    out = runner.invoke(app, ["schemas"])
    assert out.exit_code == 0, out.output
    for name in ("person", "household", "organization", "case", "case_party", "dispute",
                 "special_population", "compound"):
        assert name in out.output


def test_schemas_show_person_prints_fields() -> None:
    out = runner.invoke(app, ["schemas", "show", "person"])
    assert out.exit_code == 0, out.output
    assert "id_number" in out.output and "resident_id" in out.output and "direct_identifier" in out.output


def test_schemas_show_unknown_names_the_known_ones() -> None:
    out = runner.invoke(app, ["schemas", "show", "people"])
    assert out.exit_code == 2
    assert "unknown schema 'people'" in out.output and "person" in out.output


def test_run_unknown_feed_is_a_config_error() -> None:
    out = runner.invoke(app, ["run", "police.nope"])
    assert out.exit_code == 2
    assert "unknown feed 'police.nope'" in out.output


def test_validate_reports_rows_and_exit_code(tmp_path: Path) -> None:
    f = write(tmp_path / "r.csv",
              "人员编号,姓名,身份证号,性别,出生日期,民族,联系电话,住址,行政区划代码,户号\n"
              "P1,张三,11010519491231002X,女,1949-12-31,汉族,13800138000,北京,110105,H1\n"
              "P2,李四,110105194912310021,女,1949-12-31,汉族,13800138000,北京,110105,H1\n")
    out = runner.invoke(app, ["validate", str(f), "--feed", "police.residents"])
    assert out.exit_code == 0, out.output  # a flagged ID number costs the field, not the row
    assert "resident_id.checksum" in out.output and "rows that would load with flagged fields" in out.output
    assert "2 rows: 2 valid (1 of them with flagged fields), 0 would be quarantined" in out.output
    bad = write(tmp_path / "b.csv",
                "人员编号,姓名,身份证号,性别,出生日期,民族,联系电话,住址,行政区划代码,户号\n"
                "P1,张三,11010519491231002X,女,1949-12-31,汉族,13800138000,北京,110105,H1\n"
                "P2,李四,,女,1949-12-31,汉族,12345,北京,110105,H1\n")
    out = runner.invoke(app, ["validate", str(bad), "--feed", "police.residents"])
    assert out.exit_code == 1, out.output
    assert "phone.format" in out.output and "2 rows: 1 valid, 1 would be quarantined" in out.output


def test_validate_unreadable_file_names_it(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(b"\xff\xfe\xfa\x00abc\n\x81")
    out = runner.invoke(app, ["validate", str(f), "--feed", "police.residents"])
    assert out.exit_code == 2
    assert "bad.csv" in out.output


@pytest.mark.parametrize(("argv", "says"), [(["serch"], "Did you mean 'search', 'serve'?"),
                                            (["migrate", "now"], "unexpected extra argument")])
def test_a_mistyped_command_gets_the_usage_and_exit_2(argv: list[str], says: str, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from exchange.cli import run_cli

    monkeypatch.setattr(sys, "argv", ["exchange", *argv])
    with pytest.raises(SystemExit) as exited:
        run_cli()
    out = capsys.readouterr()
    assert exited.value.code == 2
    assert says in out.err and "internal error" not in out.err + out.out
