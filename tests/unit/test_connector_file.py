"""The ``file`` source kind: formats, malformed input, globs, batching, fingerprints."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.base import META_COLUMNS, connector_for
from connectors.file import FileConnector
from connectors.readers import csv_reader, xlsx_reader
from exchange.errors import ConfigError, SourceError
from exchange.spec.feed import FileSourceSpec


def connector(tmp_path: Path, path: str, batch_rows: int = 50_000, **spec: Any) -> FileConnector:
    conn = connector_for(FileSourceSpec(kind="file", path=path, **spec), base_dir=tmp_path,
                         feed_id="police.residents", batch_rows=batch_rows)
    assert isinstance(conn, FileConnector)
    return conn


def read(tmp_path: Path, path: str, **spec: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in connector(tmp_path, path, **spec).batches():
        rows.extend(batch.to_pylist())
    return rows


def write_csv(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, name: str, rows: list[list[Any]], sheet: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    if sheet:
        wb.create_sheet("other").append(["wrong"])
        ws.title = sheet
        wb.move_sheet("other", offset=-1)
    for row in rows:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


# ---------------------------------------------------------------- CSV basics


def test_csv_values_as_read_with_meta_columns(tmp_path: Path) -> None:
    write_csv(tmp_path, "in/people.csv", " 姓名 ,身份证号,性别\n 张三 ,0110,\n李四,1.50,女\n")
    conn = connector(tmp_path, "in/people.csv")
    assert conn.columns() == ["姓名", "身份证号", "性别"]
    batches = list(conn.batches())
    assert len(batches) == 1
    batch = batches[0]
    assert batch.schema == conn.schema()
    assert batch.schema.names == ["姓名", "身份证号", "性别", *META_COLUMNS]
    assert [f.type for f in batch.schema] == [pa.string()] * 4 + [pa.int64(), pa.string()]
    assert batch.to_pylist() == [
        {"姓名": " 张三 ", "身份证号": "0110", "性别": "", "_source_file": "in/people.csv",
         "_source_row": 1, "_parse_error": None},
        {"姓名": "李四", "身份证号": "1.50", "性别": "女", "_source_file": "in/people.csv",
         "_source_row": 2, "_parse_error": None},
    ]


def test_registry_knows_the_file_kind() -> None:
    assert FileConnector.registry["file"] is FileConnector


def test_quoted_newlines_and_record_numbers(tmp_path: Path) -> None:
    write_csv(tmp_path, "a.csv", 'id,note\r\n1,"line one\r\nline two"\r\n\r\n2,plain\r\n3\r\n')
    rows = read(tmp_path, "a.csv")
    assert [r["_source_row"] for r in rows] == [1, 2, 3]
    assert rows[0]["note"] == "line one\r\nline two"
    assert rows[1]["note"] == "plain"
    assert rows[2]["note"] is None
    assert rows[2]["_parse_error"] == "row has 1 fields, header has 2 (line 6)"


@pytest.mark.parametrize("name", ["a.tsv", "a.tab"])
def test_tsv_by_extension(tmp_path: Path, name: str) -> None:
    write_csv(tmp_path, name, "a\tb\n1,5\t2\n")
    assert read(tmp_path, name)[0] | {} == {"a": "1,5", "b": "2", "_source_file": name,
                                           "_source_row": 1, "_parse_error": None}


def test_declared_delimiter_and_format(tmp_path: Path) -> None:
    write_csv(tmp_path, "a.txt", "a;b\n1;2\n")
    rows = read(tmp_path, "a.txt", format="csv", delimiter=";")
    assert (rows[0]["a"], rows[0]["b"]) == ("1", "2")


def test_unknown_extension_is_a_config_error(tmp_path: Path) -> None:
    write_csv(tmp_path, "dump.dat", "a\n1\n")
    with pytest.raises(ConfigError, match=r"dump\.dat: cannot tell the file format"):
        connector(tmp_path, "dump.dat").columns()


# ---------------------------------------------------------------- CSV malformed


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n\t \n"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "e.csv").write_bytes(data)
    with pytest.raises(SourceError, match=r"e\.csv: file is empty: no header row"):
        read(tmp_path, "e.csv")


def test_blank_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    write_csv(tmp_path, "a.tsv", "\n \n\t\t\na\tb\n1\t2\n")
    rows = read(tmp_path, "a.tsv")
    assert [(r["a"], r["b"], r["_source_row"]) for r in rows] == [("1", "2", 1)]


def test_unterminated_quote_in_the_header(tmp_path: Path) -> None:
    write_csv(tmp_path, "q.csv", 'a,"b\n1,2\n')
    with pytest.raises(SourceError, match=r"q\.csv: the header row \(line 1\) has an unterminated quoted"):
        connector(tmp_path, "q.csv").columns()


def test_delimiter_that_cannot_separate_fields(tmp_path: Path) -> None:
    write_csv(tmp_path, "a.csv", "a\n1\n")
    with pytest.raises(ConfigError, match=r"a\.csv: source.delimiter '\"' cannot separate fields"):
        connector(tmp_path, "a.csv", delimiter='"').columns()


def test_header_only(tmp_path: Path) -> None:
    write_csv(tmp_path, "h.csv", "姓名,性别\n")
    conn = connector(tmp_path, "h.csv")
    assert conn.columns() == ["姓名", "性别"]
    assert list(conn.batches()) == []


def test_duplicate_header_names(tmp_path: Path) -> None:
    write_csv(tmp_path, "d.csv", "姓名,性别, 姓名\n1,2,3\n")
    with pytest.raises(SourceError,
                       match=r"d\.csv: bad header: duplicate column name '姓名' at positions 1, 3"):
        connector(tmp_path, "d.csv").columns()


def test_empty_header_name(tmp_path: Path) -> None:
    write_csv(tmp_path, "d.csv", "a, ,c\n1,2,3\n")
    with pytest.raises(SourceError, match="empty column name at position 2"):
        read(tmp_path, "d.csv")


def test_reserved_header_name(tmp_path: Path) -> None:
    write_csv(tmp_path, "d.csv", "a,_source_row\n1,2\n")
    with pytest.raises(SourceError, match=r"'_source_row' .* is reserved"):
        read(tmp_path, "d.csv")


def test_ragged_rows(tmp_path: Path) -> None:
    long_tail = ",".join(["x" * 30] * 20)
    write_csv(tmp_path, "r.csv", f"a,b,c\n1,2\n\n1,2,3,4,5\n1,2,3,{long_tail}\n1,2,3\n")
    rows = read(tmp_path, "r.csv")
    assert [r["_source_row"] for r in rows] == [1, 2, 3, 4]
    assert (rows[0]["a"], rows[0]["b"], rows[0]["c"]) == ("1", "2", None)
    assert rows[0]["_parse_error"] == "row has 2 fields, header has 3 (line 2)"
    assert (rows[1]["a"], rows[1]["b"], rows[1]["c"]) == ("1", "2", "3")
    assert rows[1]["_parse_error"] == "row has 5 fields, header has 3; extra values: ['4', '5'] (line 4)"
    error = rows[2]["_parse_error"]
    assert error.startswith("row has 23 fields, header has 3; extra values: ['xxx")
    extra = error.split("extra values: ", 1)[1].rsplit(" (line", 1)[0]
    assert len(extra) == 200 and extra.endswith("...")
    assert rows[3]["_parse_error"] is None


def test_unterminated_quote_at_eof(tmp_path: Path) -> None:
    write_csv(tmp_path, "q.csv", 'a,b\n1,2\n3,"oops\n4,5\n')
    with pytest.raises(SourceError) as info:
        read(tmp_path, "q.csv")
    assert "q.csv: record 2 (starting at line 3) has an unterminated quoted field" in str(info.value)
    assert info.value.row == 2


def test_recoverable_csv_error_becomes_a_parse_error(tmp_path: Path) -> None:
    write_csv(tmp_path, "q.csv", 'a,b\n1,2\n"3"x,4\n5,6\n')
    rows = read(tmp_path, "q.csv")
    assert [r["_source_row"] for r in rows] == [1, 2, 3]
    assert (rows[1]["a"], rows[1]["b"]) == (None, None)
    # no value can be told apart: the record's text as sent goes with the reason, for the auditor
    assert rows[1]["_parse_error"] == "CSV error: ',' expected after '\"' (line 3); the record as sent: '\"3\"x,4'"
    assert (rows[2]["a"], rows[2]["b"], rows[2]["_parse_error"]) == ("5", "6", None)


def test_ten_megabyte_field(tmp_path: Path) -> None:
    big = "x" * (10 << 20)
    write_csv(tmp_path, "big.csv", f'a,b\n1,"{big}"\n')
    rows = read(tmp_path, "big.csv")
    assert len(rows[0]["b"]) == 10 << 20


def test_field_beyond_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "CSV_FIELD_LIMIT", 1000)
    write_csv(tmp_path, "big.csv", "a,b\n1,2\n1," + "x" * 2000 + "\n")
    with pytest.raises(SourceError, match=r"big\.csv: record 2 \(starting at line 3\) has a field larger"):
        read(tmp_path, "big.csv")


# ---------------------------------------------------------------- batching, globs, fingerprints


def test_batching(tmp_path: Path) -> None:
    write_csv(tmp_path, "n.csv", "n\n" + "".join(f"{i}\n" for i in range(2500)))
    batches = list(connector(tmp_path, "n.csv", batch_rows=1000).batches())
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    table = pa.Table.from_batches(batches)
    assert table.column("_source_row").to_pylist() == list(range(1, 2501))
    assert table.column("n").to_pylist() == [str(i) for i in range(2500)]


def test_glob_two_files_sorted_and_reordered(tmp_path: Path) -> None:
    write_csv(tmp_path, "in/2024-02.csv", "b,a\n2b,2a\n")
    write_csv(tmp_path, "in/2024-01.csv", "a,b\n1a,1b\n1a',1b'\n")
    conn = connector(tmp_path, "in/*.csv")
    assert conn.columns() == ["a", "b"]
    rows = [r for b in conn.batches() for r in b.to_pylist()]
    assert [(r["_source_file"], r["_source_row"], r["a"], r["b"]) for r in rows] == [
        ("in/2024-01.csv", 1, "1a", "1b"), ("in/2024-01.csv", 2, "1a'", "1b'"),
        ("in/2024-02.csv", 1, "2a", "2b")]
    assert [f["path"] for f in conn.describe()["files"]] == ["in/2024-01.csv", "in/2024-02.csv"]


def test_glob_with_differing_columns(tmp_path: Path) -> None:
    write_csv(tmp_path, "in/1.csv", "a,b,c\n1,2,3\n")
    write_csv(tmp_path, "in/2.csv", "a,b,d\n1,2,3\n")
    with pytest.raises(SourceError) as info:
        list(connector(tmp_path, "in/*.csv").batches())
    msg = str(info.value)
    assert "in/2.csv: its columns differ from in/1.csv" in msg
    assert "only in in/1.csv: ['c']" in msg and "only in in/2.csv: ['d']" in msg


def test_no_file_matched(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        connector(tmp_path, "in/*.csv").fingerprint()
    assert "'in/*.csv' matched no file under" in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_fingerprint_and_describe(tmp_path: Path) -> None:
    for d in ("x", "y"):
        write_csv(tmp_path / d, "a.csv", "a,b\n1,2\n")
    fx = connector(tmp_path / "x", "a.csv").fingerprint()
    assert fx == connector(tmp_path / "y", "a.csv").fingerprint()
    assert len(fx) == 64 and int(fx, 16) >= 0
    write_csv(tmp_path / "y", "a.csv", "a,b\n1,3\n")
    conn = connector(tmp_path / "y", "a.csv")
    assert conn.fingerprint() != fx
    desc = conn.describe()
    assert desc == {"kind": "file", "files": [
        {"path": "a.csv", "sha256": hashlib.sha256(b"a,b\n1,3\n").hexdigest(), "bytes": 8}]}


def test_fingerprint_covers_every_matched_file(tmp_path: Path) -> None:
    write_csv(tmp_path, "a1.csv", "a\n1\n")
    one = connector(tmp_path, "a*.csv").fingerprint()
    write_csv(tmp_path, "a2.csv", "a\n1\n")
    assert connector(tmp_path, "a*.csv").fingerprint() != one


# ---------------------------------------------------------------- Excel


def test_xlsx_values(tmp_path: Path) -> None:
    write_xlsx(tmp_path, "p.xlsx", [
        [None, None],
        ["姓名 ", "电话", "出生日期", "登记时间", "分数", "备注", None],
        ["张三", 13800138000, dt.date(1990, 3, 7), dt.datetime(2024, 1, 2, 8, 30), 1.5, None],
        [None, None, None],
        ["李四", 13800138000.0, dt.datetime(1991, 1, 1), dt.datetime(2024, 1, 2, 8, 30, 5), 2, "ok"],
    ])
    conn = connector(tmp_path, "p.xlsx")
    assert conn.columns() == ["姓名", "电话", "出生日期", "登记时间", "分数", "备注"]
    rows = [r for b in conn.batches() for r in b.to_pylist()]
    assert rows == [
        {"姓名": "张三", "电话": "13800138000", "出生日期": "1990-03-07", "登记时间": "2024-01-02T08:30:00",
         "分数": "1.5", "备注": None, "_source_file": "p.xlsx", "_source_row": 1, "_parse_error": None},
        {"姓名": "李四", "电话": "13800138000", "出生日期": "1991-01-01", "登记时间": "2024-01-02T08:30:05",
         "分数": "2", "备注": "ok", "_source_file": "p.xlsx", "_source_row": 2, "_parse_error": None},
    ]


def test_xlsx_named_sheet_and_extra_cells(tmp_path: Path) -> None:
    write_xlsx(tmp_path, "p.xlsx", [["a", "b"], [1, 2, None, 4]], sheet="人员")
    rows = read(tmp_path, "p.xlsx", sheet="人员")
    assert (rows[0]["a"], rows[0]["b"]) == ("1", "2")
    assert rows[0]["_parse_error"] == (
        "row has 4 fields, header has 2; extra values: [None, '4'] (sheet row 2)")
    with pytest.raises(SourceError, match="no sheet named 'missing'; sheets: 'other', '人员'"):
        read(tmp_path, "p.xlsx", sheet="missing")


def test_xlsx_header_only_and_empty_sheet(tmp_path: Path) -> None:
    write_xlsx(tmp_path, "h.xlsx", [["姓名", "性别"]])
    conn = connector(tmp_path, "h.xlsx")
    assert conn.columns() == ["姓名", "性别"]
    assert list(conn.batches()) == []
    write_xlsx(tmp_path, "e.xlsx", [])
    with pytest.raises(SourceError, match=r"e\.xlsx: worksheet 'Sheet' is empty: no header row; the workbook "
                                          r"has no other sheet"):
        read(tmp_path, "e.xlsx")


def test_xlsx_duplicate_header(tmp_path: Path) -> None:
    write_xlsx(tmp_path, "p.xlsx", [["a", "b", "a"], [1, 2, 3]])
    with pytest.raises(SourceError, match="duplicate column name 'a' at positions 1, 3"):
        read(tmp_path, "p.xlsx")


def test_xlsx_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"0" * (1 << 20)
            for _ in range(40):
                member.write(block)
    with pytest.raises(SourceError, match=r"bomb\.xlsx: refused: member 'xl/worksheets/sheet1.xml' expands"):
        read(tmp_path, "bomb.xlsx")


def test_xlsx_total_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_reader, "XLSX_MAX_UNCOMPRESSED", 1000)
    write_xlsx(tmp_path, "p.xlsx", [["a"], [1]])
    with pytest.raises(SourceError, match=r"p\.xlsx: refused: the workbook would expand to \d+ bytes"):
        read(tmp_path, "p.xlsx")


@pytest.mark.parametrize("damage", ["not-a-zip", "truncated", "zip-without-workbook"])
def test_xlsx_unreadable(tmp_path: Path, damage: str) -> None:
    path = write_xlsx(tmp_path, "p.xlsx", [["a"], [1]])
    if damage == "not-a-zip":
        path.write_bytes(b"a,b\n1,2\n")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    else:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("hello.txt", "hi")
    with pytest.raises(SourceError, match=r"p\.xlsx: not a readable \.xlsx workbook"):
        read(tmp_path, "p.xlsx")


# ---------------------------------------------------------------- JSON / NDJSON


def test_json_array_values(tmp_path: Path) -> None:
    doc = ('[{"姓名": "张三", "电话": 13800138000, "分": 1.10, "ok": true, "x": null, '
           '"addr": {"省": "浙江", "n": [1, 2.50]}},'
           ' {"ok": false, "id": 110101199003074514, "姓名": " 李四 "}, [1, 2]]')
    (tmp_path / "a.json").write_text(doc, encoding="utf-8")
    conn = connector(tmp_path, "a.json")
    assert conn.columns() == ["姓名", "电话", "分", "ok", "x", "addr", "id"]
    rows = [r for b in conn.batches() for r in b.to_pylist()]
    assert rows[0] | {} == {"姓名": "张三", "电话": "13800138000", "分": "1.10", "ok": "true", "x": None,
                            "addr": '{"省":"浙江","n":[1,2.50]}', "id": None, "_source_file": "a.json",
                            "_source_row": 1, "_parse_error": None}
    assert (rows[1]["ok"], rows[1]["id"], rows[1]["姓名"], rows[1]["电话"]) == (
        "false", "110101199003074514", " 李四 ", None)
    assert rows[2]["_parse_error"] == "record 3 is not a JSON object: got an array: '[1,2]'"


def test_json_records_path(tmp_path: Path) -> None:
    doc = {"meta": {"count": 1}, "data": {"items": [{"a": "1"}, {"a": "2"}]}}
    (tmp_path / "a.json").write_text(json.dumps(doc), encoding="utf-8")
    assert [r["a"] for r in read(tmp_path, "a.json", records_path="data.items")] == ["1", "2"]
    with pytest.raises(SourceError, match=r"records_path 'data.rows': no 'rows' at data \(keys: 'items'\)"):
        read(tmp_path, "a.json", records_path="data.rows")
    expected = "top-level JSON value is an object, expected an array of objects; its keys are 'meta', 'data'"
    with pytest.raises(SourceError, match=expected):
        read(tmp_path, "a.json")


def test_json_invalid(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"a": 1},\n {"a": }]', encoding="utf-8")
    with pytest.raises(SourceError, match=r"a\.json: invalid JSON at line 2 column 8 \(byte offset 18\)"):
        read(tmp_path, "a.json")


def test_ndjson_with_bad_lines(tmp_path: Path) -> None:
    text = '{"a": "1", "b": 2}\n\n{"c": [1]}\n{"a": oops}\n[1]\n{"b": "姓名"}\n'
    (tmp_path / "a.jsonl").write_text(text, encoding="gb18030")
    conn = connector(tmp_path, "a.jsonl", batch_rows=2)
    assert conn.columns() == ["a", "b", "c"]
    batches = list(conn.batches())
    assert [b.num_rows for b in batches] == [2, 2, 1]
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["_source_row"] for r in rows] == [1, 2, 3, 4, 5]
    assert (rows[0]["a"], rows[0]["b"], rows[0]["c"]) == ("1", "2", None)
    assert rows[1]["c"] == "[1]"
    assert rows[2]["_parse_error"] == ("line 4 is not a JSON object: Expecting value at column 7; the line as sent: "
                                       "'{\"a\": oops}'")
    assert rows[3]["_parse_error"] == "line 5 is not a JSON object: got an array: '[1]'"
    assert rows[4]["b"] == "姓名"


def test_json_empty_and_reserved_keys(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_bytes(b"  \n")
    with pytest.raises(SourceError, match=r"e\.json: file is empty"):
        read(tmp_path, "e.json")
    (tmp_path / "r.ndjson").write_text('{"a": 1, "_parse_error": "x"}\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"r\.ndjson: bad header: column name '_parse_error'"):
        read(tmp_path, "r.ndjson")


def test_ndjson_by_declared_format(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text('{"a": 1}\n', encoding="utf-8")
    assert read(tmp_path, "a.log", format="ndjson")[0]["a"] == "1"


# ---------------------------------------------------------------- Parquet


def test_parquet(tmp_path: Path) -> None:
    table = pa.table({
        "id": pa.array([1, 2, None], pa.int64()),
        "phone": pa.array([13800138000.0, 0.5, None]),
        "born": pa.array([dt.date(1990, 3, 7), None, dt.date(2000, 1, 1)]),
        "seen": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)] * 3, pa.timestamp("s")),
        "ok": pa.array([True, False, None]),
        "name": pa.array(["张三", "", None]),
        "kind": pa.array(["a", "b", "a"]).dictionary_encode(),
        "tags": pa.array([["x"], [], None], pa.list_(pa.string())),
    })
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=2)
    batches = list(connector(tmp_path, "p.parquet", batch_rows=2).batches())
    assert [b.num_rows for b in batches] == [2, 1]
    assert all(f.type == pa.string() for f in batches[0].schema if f.name != "_source_row")
    rows = [r for b in batches for r in b.to_pylist()]
    assert rows[0] | {} == {"id": "1", "phone": "13800138000", "born": "1990-03-07",
                            "seen": "2024-01-02T03:04:05.000", "ok": "true", "name": "张三", "kind": "a",
                            "tags": '["x"]', "_source_file": "p.parquet", "_source_row": 1,
                            "_parse_error": None}
    assert (rows[1]["phone"], rows[1]["name"], rows[1]["tags"]) == ("0.5", "", "[]")
    assert (rows[2]["id"], rows[2]["phone"], rows[2]["_source_row"]) == (None, None, 3)


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(SourceError, match=r"p\.parquet: not a readable Parquet file"):
        read(tmp_path, "p.parquet")
