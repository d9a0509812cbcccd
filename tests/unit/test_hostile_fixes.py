"""Focused tests of what the hostile input corpus (tests/hostile/) found: each was a traceback, a
silently altered value or a wrong diagnosis before."""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from connectors import encoding
from connectors.base import connector_for
from connectors.encoding import check_encoding, detect_encoding
from exchange.errors import SourceError
from exchange.spec.feed import FileSourceSpec


def read(tmp_path: Path, name: str, **spec: Any) -> list[dict[str, Any]]:
    conn = connector_for(FileSourceSpec(kind="file", path=name, **spec), base_dir=tmp_path, feed_id="a.b")
    return [r for b in conn.batches() for r in b.to_pylist()]


# ---------------------------------------------------------------- encodings


def test_utf8_with_a_gbk_row_is_refused_even_when_gb18030_would_decode_it(tmp_path: Path) -> None:
    # every run of CJK characters is even: the whole file is also "valid" GB18030 (mojibake)
    data = "id,name\n1,张三\n2,李四\n".encode() + "3,王五\n".encode("gbk")
    (tmp_path / "m.csv").write_bytes(data)
    assert data.decode("gb18030")  # the trap
    at = data.index("王".encode("gbk"))
    with pytest.raises(SourceError, match=rf"m\.csv: not valid UTF-8 at byte offset {at} .* mixes encodings") as info:
        detect_encoding(tmp_path / "m.csv", "m.csv")
    assert info.value.offset == at


def test_gbk_whose_first_characters_happen_to_be_utf8_is_still_gbk(tmp_path: Path) -> None:
    # 楼 is C2 A5 in GBK, which is also UTF-8 for ¥: a little UTF-8 by chance is no evidence
    text = "地址,楼层\n1号楼,陇西路\n"
    (tmp_path / "g.csv").write_bytes(text.encode("gbk"))
    assert detect_encoding(tmp_path / "g.csv") == "gb18030"
    assert read(tmp_path, "g.csv")[0]["地址"] == "1号楼"


def test_declared_gb18030_reads_a_file_that_looks_like_mixed_utf8(tmp_path: Path) -> None:
    data = "id,name\n1,张三\n2,李四\n".encode() + "3,王五\n".encode("gbk")
    (tmp_path / "m.csv").write_bytes(data)
    assert check_encoding(tmp_path / "m.csv", "gb18030") == "gb18030"


@pytest.mark.parametrize(("bom", "codec", "unit"), [(codecs.BOM_UTF8, "utf-8-sig", 1), (codecs.BOM_UTF16_LE,
                                                                                        "utf-16", 2)])
def test_decode_error_offsets_count_the_bom(tmp_path: Path, bom: bytes, codec: str, unit: int) -> None:
    body = "ab,cd\n".encode("utf-16-le" if unit == 2 else "utf-8")
    bad = b"\xff" if unit == 1 else b"\x00\xdc"  # an invalid start byte / a lone low surrogate
    (tmp_path / "b.csv").write_bytes(bom + body + bad)
    problem = encoding.scan_decode(tmp_path / "b.csv", codec, allow_nul=unit == 2)
    assert problem is not None and problem.offset == len(bom) + len(body)


def test_declared_utf16_without_a_bom_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_bytes("a,b\n1,2\n".encode("utf-16-le"))
    with pytest.raises(SourceError, match=r"u\.csv: declared utf-16, but the file does not start with a byte order"):
        read(tmp_path, "u.csv", encoding="utf-16")
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(SourceError, match=r"e\.csv: file is empty"):
        read(tmp_path, "e.csv", encoding="utf-16")


# ---------------------------------------------------------------- JSON


def test_json_key_written_twice_is_a_parse_error_and_nested_duplicates_are_kept(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('[{"a": "1", "a": "2"}, {"a": "3", "n": {"k": 1, "k": 2}}]', encoding="utf-8")
    rows = read(tmp_path, "d.json")
    assert rows[0]["a"] == "2" and "key(s) 'a' appear more than once" in rows[0]["_parse_error"]
    assert rows[1]["_parse_error"] is None and rows[1]["n"] == '{"k":1,"k":2}'


def test_json_lone_surrogates_quarantine_the_row_instead_of_crashing(tmp_path: Path) -> None:
    (tmp_path / "s.ndjson").write_text('{"a": "x\\ud800y"}\n{"a": "\\ud840\\udc00"}\n{"\\udc00": 1}\n',
                                       encoding="utf-8")
    with pytest.raises(SourceError, match=r"column name '\\udc00' at position 2 holds a lone UTF-16 surrogate"):
        read(tmp_path, "s.ndjson")
    (tmp_path / "t.ndjson").write_text('{"a": "x\\ud800y"}\n{"a": "\\ud840\\udc00"}\n', encoding="utf-8")
    rows = read(tmp_path, "t.ndjson")
    assert rows[0]["a"] == "x\\ud800y" and "line 1: the value of 'a' holds a lone UTF-16 surrogate" in (
        rows[0]["_parse_error"])
    assert rows[1]["a"] == "𠀀" and rows[1]["_parse_error"] is None


# ---------------------------------------------------------------- Excel


def _with_cached_values(path: Path, cached: dict[str, str]) -> None:
    """Give formula cells the value Excel would have saved with them."""
    with zipfile.ZipFile(path) as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    for ref, value in cached.items():
        sheet = re.sub(rf'(<c r="{ref}"[^>]*)><f>([^<]*)</f><v\s*/>', rf"\1><f>\2</f><v>{value}</v>", sheet)
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)


def test_xlsx_formula_without_a_saved_value_is_not_read_as_empty(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (["id", "total", "note"], ["1", "=2+3", "x"], ["2", "=4+5", "y"], ["3", None, "z"]):
        ws.append(r)
    wb.save(tmp_path / "f.xlsx")
    _with_cached_values(tmp_path / "f.xlsx", {"B2": "5"})
    rows = read(tmp_path, "f.xlsx")
    assert [(r["id"], r["total"], r["_parse_error"]) for r in rows] == [
        ("1", "5", None),
        ("2", None, "sheet row 3: cell(s) B3 hold a formula but no value calculated by Excel (the workbook was "
                    "written by a program that does not calculate formulas); open and save it in Excel, or export "
                    "the values"),
        ("3", None, None)]


def test_xlsx_without_formulas_is_read_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors import readers

    wb = openpyxl.Workbook()
    wb.active.append(["a"])
    wb.active.append(["=not a formula, a string"])
    wb.active["A2"].data_type = "s"
    wb.save(tmp_path / "p.xlsx")
    assert not readers.xlsx_has_formulas(tmp_path / "p.xlsx")
    assert read(tmp_path, "p.xlsx")[0]["a"] == "=not a formula, a string"
