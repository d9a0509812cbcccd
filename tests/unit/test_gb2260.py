from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from exchange.spec.paths import reference_dir

CSV_PATH = reference_dir() / "gb2260.csv"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_gb2260.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_gb2260", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_gb2260", module)  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return CSV_PATH.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def rows(lines: list[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in lines if not line.startswith("#")))


def test_header_names_the_source(lines: list[str]) -> None:
    header = "\n".join(line for line in lines if line.startswith("#"))
    assert re.search(r"Source: python-stdnum \d+\.\d+", header)
    assert "stdnum/cn/loc.dat" in header
    assert "zh.wikipedia.org" in header
    assert "中华人民共和国行政区划代码" in header
    assert re.search(r"release \(wheel build\) date: \d{4}-\d{2}-\d{2}", header)
    assert re.search(r"Generated: \d{4}-\d{2}-\d{2} by: python scripts/gen_gb2260.py", header)


def test_columns_and_size(rows: list[dict[str, str]]) -> None:
    assert list(rows[0]) == ["code", "name", "province", "level", "valid_from", "valid_to", "status"]
    codes = {r["code"] for r in rows}
    assert len(codes) > 3000
    assert all(re.fullmatch(r"[0-9]{6}", c) for c in codes)
    assert {r["level"] for r in rows} == {"province", "prefecture", "county"}
    assert {r["status"] for r in rows} == {"current", "abolished"}
    for r in rows:
        assert (r["status"] == "abolished") == bool(r["valid_to"])
        assert r["level"] == ("province" if r["code"].endswith("0000")
                              else "prefecture" if r["code"].endswith("00") else "county")


def test_known_codes(rows: list[dict[str, str]]) -> None:
    by_code: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_code.setdefault(r["code"], []).append(r)
    assert by_code["110101"] == [{"code": "110101", "name": "东城区", "province": "北京市", "level": "county",
                                  "valid_from": "", "valid_to": "", "status": "current"}]
    assert by_code["110103"] == [{"code": "110103", "name": "崇文区", "province": "北京市", "level": "county",
                                  "valid_from": "", "valid_to": "2010", "status": "abolished"}]
    # one row per name period
    assert [(r["name"], r["valid_from"], r["valid_to"], r["status"]) for r in by_code["120110"]] == [
        ("东郊区", "", "1991", "abolished"), ("东丽区", "1992", "", "current")]
    assert by_code["110000"][0]["level"] == "province"
    assert by_code["110100"][0]["level"] == "prefecture"


def test_split_periods(generator: ModuleType) -> None:
    assert list(generator.split_periods("东城区")) == [("东城区", "", "")]
    assert list(generator.split_periods("[-2010]崇文区")) == [("崇文区", "", "2010")]
    assert list(generator.split_periods("[1986-]房山区")) == [("房山区", "1986", "")]
    assert list(generator.split_periods("[1983-1994]东矿区,[1995-]古冶区")) == [
        ("东矿区", "1983", "1994"), ("古冶区", "1995", "")]
    with pytest.raises(ValueError, match="marker"):
        list(generator.split_periods("[19x-]坏"))


def test_parse_small_loc_dat(generator: ModuleType) -> None:
    text = ('# Downloaded from\n# https://example.org/a\n11 province="北京市"\n  0000 county="北京市"\n'
            '  0101 county="东城区"\n  0103 county="[-2010]崇文区"\n'
            '  0110 county="[-1991]东郊区,[1992-]东丽区"\n81 province="[1997-]香港"\n')
    rows = [r.as_tuple() for r in generator.parse_loc_dat(text)]
    assert rows == [
        ("110000", "北京市", "北京市", "province", "", "", "current"),
        ("110101", "东城区", "北京市", "county", "", "", "current"),
        ("110103", "崇文区", "北京市", "county", "", "2010", "abolished"),
        ("110110", "东郊区", "北京市", "county", "", "1991", "abolished"),
        ("110110", "东丽区", "北京市", "county", "1992", "", "current"),
        ("810000", "香港", "[1997-]香港", "province", "1997", "", "current"),
    ]
    assert generator.source_urls(text) == ["https://example.org/a"]


def test_committed_csv_matches_the_installed_source(generator: ModuleType, lines: list[str],
                                                    tmp_path: Path) -> None:
    version = importlib.metadata.version("python-stdnum")
    if not any(f"python-stdnum {version}," in line for line in lines):
        pytest.skip(f"gb2260.csv was generated from another python-stdnum version than {version}")
    out = tmp_path / "gb2260.csv"
    assert generator.main(["--output", str(out)]) == 0
    fresh = out.read_text(encoding="utf-8").splitlines()
    assert [x for x in fresh if not x.startswith("# Generated:")] == [
        x for x in lines if not x.startswith("# Generated:")]
