"""What a quarantined row keeps of a record no value could be read from, or of a value no warehouse
text column can hold: the record's text as sent (CSV, NDJSON) and a NUL character shown escaped."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connectors import fast_csv
from connectors.base import connector_for
from connectors.readers import RECORD_TEXT_MAX_CHARS, RecordText, as_sent
from exchange.mapping import NUL_MESSAGE
from exchange.runner import run_feed
from exchange.spec.catalog import load_catalog
from exchange.spec.feed import FileSourceSpec
from exchange.warehouse.engine import make_engine
from tests.conftest import write

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile


def read(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    conn = connector_for(FileSourceSpec(kind="file", path=name), base_dir=tmp_path, feed_id="a.b")
    return [r for b in conn.batches() for r in b.to_pylist()]


@pytest.mark.parametrize("fast", [True, False])
def test_an_unreadable_csv_record_keeps_its_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    monkeypatch.setattr(fast_csv, "ENABLED", fast)  # the same whichever parser starts
    long = "长" * 2000
    (tmp_path / "s.csv").write_text(f'id,name,addr\r\n1,"李四"x,北京\r\n2,"a\r\nb"c,\t\r\n3,"{long}"x,y\r\n4,ok,z\r\n',
                                    encoding="utf-8", newline="")
    rows = read(tmp_path, "s.csv")
    assert [(r["id"], r["name"], r["addr"]) for r in rows[:3]] == [(None, None, None)] * 3
    errors = [r["_parse_error"] for r in rows]
    assert errors[0] == "CSV error: ',' expected after '\"' (line 2); the record as sent: '1,\"李四\"x,北京'"
    # a record over two lines: both, line breaks and the tab escaped
    assert errors[1] == "CSV error: ',' expected after '\"' (line 3); the record as sent: '2,\"a\\r\\nb\"c,\\t'"
    # a long one: its first characters, and how many more there were (the line end not counted)
    record = f'3,"{long}"x,y'
    assert errors[2] == (f"CSV error: ',' expected after '\"' (line 5); the record as sent: "
                         f"{record[:RECORD_TEXT_MAX_CHARS]!r} … (+{len(record) - RECORD_TEXT_MAX_CHARS:,} characters)")
    assert (rows[3]["id"], errors[3]) == ("4", None)


def test_the_record_text_is_memory_bounded() -> None:
    tap = RecordText(iter(["a" * 10_000 + "\n", "b" * 10_000 + "\n", "tail\r\n"]))
    assert [len(line) for line in tap] == [10_001, 10_001, 6]
    assert sum(len(k) for k in tap._kept) <= RECORD_TEXT_MAX_CHARS + 2
    assert tap.as_sent() == repr("a" * RECORD_TEXT_MAX_CHARS) + f" … (+{20_006 - RECORD_TEXT_MAX_CHARS:,} characters)"
    tap.clear()
    assert tap.as_sent() == "''"
    assert as_sent("x\n") == "'x'" and as_sent("\x00\x1b") == "'\\x00\\x1b'"


def test_an_unreadable_json_line_or_a_record_that_is_no_object_keeps_its_text(tmp_path: Path) -> None:
    (tmp_path / "b.ndjson").write_text('{"a": "1"}\n{"a": "2", "b": \n[1, {"x": "长"}]\n', encoding="utf-8")
    rows = read(tmp_path, "b.ndjson")
    assert rows[1]["_parse_error"] == ("line 2 is not a JSON object: Expecting value at column 17; the line as sent: "
                                       "'{\"a\": \"2\", \"b\": '")
    assert rows[2]["_parse_error"] == "line 3 is not a JSON object: got an array: '[1,{\"x\":\"长\"}]'"


FEED = """\
agency: civil
feed: people
description: people keyed by name and birth date
source: {kind: file, path: p.csv, encoding: utf-16}
target: person@2
key: [name, birth_date]
mapping:
  姓名: name
  性别: {field: gender, values: {男: M, 女: F}}
  出生日期: birth_date
quality: {max_reject_ratio: 1.0}
"""


def test_a_nul_in_a_derived_key_is_shown_escaped_and_the_reason_says_so(project: Path, settings: Any) -> None:
    write(project / "feeds" / "civil" / "people.yaml", FEED)
    data = "姓名,性别,出生日期\n张三,女,1949-12-31\n王\x00五,男,1990-01-02\n"
    path = settings.landing_dir / "p.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(codecs.BOM_UTF16_LE + data.encode("utf-16-le"))
    outcome = run_feed("civil.people", settings=settings, catalog=load_catalog(project))
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (1, 1)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            key, original, reasons = conn.execute(text(
                "SELECT source_record_id, original, reasons FROM quarantine.person")).one()
    finally:
        engine.dispose()
    assert key == "王\\u0000五|1990-01-02"
    assert json.loads(original)["姓名"] == "王\x00五"
    messages = {(r["field"], r["message"]) for r in json.loads(reasons)}
    assert ("name", NUL_MESSAGE.format(column="姓名")) in messages
    assert ("source_record_id", "the record key contains a NUL character (U+0000), which no text column can store; "
            "in quarantine the row's source_record_id shows each NUL as the six characters \\u0000 (its original "
            "values keep the NUL exactly, JSON-escaped)") in messages
