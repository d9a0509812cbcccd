"""The hostile input corpus's machinery, shared by the SQLite run (tests/unit/test_hostile_corpus.py)
and the PostgreSQL run (tests/integration/test_hostile_pg.py).

Every case gets a temporary project whose feed points at the case's file, is checked with
``exchange validate FILE --feed FEED`` and loaded with ``exchange run FEED`` (the CLI, in process),
and then the warehouse is read back. Whatever the file, the exchange must answer with either a
clean batch — rows_in = rows_loaded + rows_quarantined, every quarantined row with its reasons and
its original values, every loaded value as the source had it — or a clear error naming the file;
never a traceback. Large files are generated (tests/hostile/generate.py), never committed.

Golden files: tests/hostile/golden/<case>.json holds the warehouse a case leaves (core rows, quarantine
rows with their reasons and originals, the batch counts or its error), so any change of a loaded
value, a reason or a message shows up; for large files a SHA-256 of it. Every warehouse must leave the
same: values are compared as JSON (a date is its ISO text whichever driver returned it), core rows in
code-point order of their key (no database collation). Only the SQLite run writes golden files
(``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_hostile_corpus.py``, then review the diff).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import re
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from connectors.base import META_COLUMNS
from exchange.cli import app
from exchange.warehouse.engine import make_engine
from tests.conftest import REPO
from tests.hostile import generate

HOSTILE = REPO / "tests" / "hostile"
GOLDEN = HOSTILE / "golden"
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))
GENDER = {"field": "gender", "values": {"男": "M", "女": "F"}}
STATUS = {"field": "status", "values": {"存续": "active", "吊销": "revoked", "注销": "cancelled"}}
# feed → (target, mapping); the column names are generate.HEADER, EN_HEADER and ORG_HEADER
FEEDS: dict[str, tuple[str, dict[str, Any]]] = {
    "person": ("person@2", dict(zip(generate.HEADER, ["source_record_id", "name", "id_number", GENDER, "birth_date",
                                                      "phone", "address", "division_code"], strict=True))),
    "person_en": ("person@2", dict(zip(generate.EN_HEADER, ["source_record_id", "name", "id_number", GENDER,
                                                            "birth_date", "phone", "address", "division_code"],
                                       strict=True))),
    "person_underscore": ("person@2", {"_id": "source_record_id", "姓名": "name", "性别": GENDER, "住址": "address"}),
    "organization": ("organization@1", dict(zip(generate.ORG_HEADER, ["source_record_id", "credit_code", "name",
                                                                      STATUS], strict=True))),
}
# fields the schemas keep as the agency wrote them (after the documented text clean-up)
VERBATIM = {"person": ("name", "address"), "organization": ("name",)}
# what the generic text clean-up (exchange.formats.normalize_text) is documented to do, re-implemented
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
              "\u2028\u2029\u202f\u205f\u3000"
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xA0: 0x20}
# a quarantined row's source_record_id shows a NUL character as these six characters (see exchange.mapping)
NUL_SHOWN = "\\u0000"

runner = CliRunner()


def cleaned(value: str | None) -> str | None:
    """A source value after the documented clean-up: full-width ASCII forms folded, ideographic space
    and NBSP as spaces, surrounding whitespace trimmed, empty as null. Nothing else may change."""
    if value is None:
        return None
    value = value.translate(_FOLD).strip(_WHITESPACE)
    return value or None


@dataclass
class Case:
    id: str
    file: str
    feed: str
    expect: dict[str, Any]
    why: str
    source: dict[str, Any] = field(default_factory=dict)
    quality: float = 1.0
    large: bool = False

    @property
    def entity(self) -> str:
        return FEEDS[self.feed][0].split("@")[0]

    @property
    def feed_id(self) -> str:
        return f"hostile.{self.feed}"

    @property
    def error(self) -> str | None:
        return self.expect.get("error")

    @property
    def quarantined(self) -> dict[str, list[str]]:
        return {str(k): sorted(v) for k, v in (self.expect.get("quarantined") or {}).items()}

    @property
    def flagged(self) -> dict[str, list[str]]:
        """Rows that load with flagged fields (inside ``loaded``) → the rules of their flags."""
        return {str(k): sorted(v) for k, v in (self.expect.get("flagged") or {}).items()}

    @property
    def notes(self) -> list[str]:
        """The start of each note the batch report must hold on the file as a whole."""
        return list(self.expect.get("notes") or [])

    @property
    def loaded_count(self) -> int:
        if "loaded_count" in self.expect:
            return int(self.expect["loaded_count"])
        return len(self.expect.get("loaded") or [])


def load_cases() -> list[Case]:
    raw = yaml.safe_load((HOSTILE / "cases.yaml").read_text(encoding="utf-8"))
    cases = []
    for entry in raw:
        entry = dict(entry)
        case_id = entry.pop("case", None) or Path(entry["file"]).stem
        cases.append(Case(id=case_id, **entry))
    return cases


CASES = load_cases()


def case_params(cases: list[Case] = CASES) -> list[Any]:
    """The cases as pytest parameters, the large ones marked ``slow``."""
    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.large else []) for c in cases]


def project(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, large_files: Path,
            warehouse_url: str | None = None) -> Path:
    """A project folder with the real schemas and one feed reading the case's file; returns the file.
    The warehouse is the project's default SQLite file, or ``warehouse_url``."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "schemas", root / "schemas")
    target, mapping = FEEDS[case.feed]
    spec = {"agency": "hostile", "feed": case.feed, "description": case.why, "schedule": None,
            "source": {"kind": "file", "path": case.file, **case.source}, "target": target,
            "mapping": mapping, "quality": {"max_reject_ratio": case.quality}}
    feed_file = root / "feeds" / "hostile" / f"{case.feed}.yaml"
    feed_file.parent.mkdir(parents=True)
    feed_file.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for var in ("EXCHANGE_WAREHOUSE_URL", "EXCHANGE_LANDING_DIR", "EXCHANGE_STAGING_DIR", "EXCHANGE_REPORTS_DIR",
                "EXCHANGE_BATCH_ROWS", "EXCHANGE_LOCK_WAIT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EXCHANGE_HOME", str(root))
    if warehouse_url is not None:
        monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", warehouse_url)
    landing = root / "var" / "landing"
    landing.mkdir(parents=True)
    source = generate.write_large(case.file, large_files) if case.large else HOSTILE / "files" / case.file
    shutil.copyfile(source, landing / case.file)
    return landing / case.file


def flat(text_: str) -> str:
    return " ".join(text_.split())


def invoke(args: list[str]) -> tuple[int, str]:
    """``exchange ARGS`` in process: (exit code, output); any traceback or internal error fails the test."""
    result = runner.invoke(app, args)
    out = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else repr(result.exception)
        pytest.fail(f"exchange {' '.join(args)} raised {result.exception!r}:\n{trace}\n{out[-3000:]}")
    assert "Traceback" not in out, out[-3000:]
    assert "internal error" not in out, out[-3000:]
    return result.exit_code, out


def _rows(conn: Any, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def run_case(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, large_files: Path,
             warehouse_url: str | None = None) -> None:
    """The whole check of one case: validate, run, read the warehouse back, compare with the golden file."""
    path = project(case, tmp_path, monkeypatch, large_files, warehouse_url)

    # --- exchange validate FILE --feed FEED ---------------------------------------------------------
    code, out = invoke(["validate", str(path), "--feed", case.feed_id, "--show", "5"])
    shown = flat(out)
    if case.error:
        assert code == 2, out[-3000:]
        assert case.file in shown, f"the error does not name the file: {shown[-1000:]}"
        assert flat(case.error) in shown, shown[-2000:]
    else:
        m = re.search(r"([\d,]+) rows: ([\d,]+) valid(?: \(([\d,]+) of them with flagged fields\))?, ([\d,]+) "
                      r"would be quarantined", shown)
        assert m, shown[-2000:]
        rows_in, valid, flagged, rejected = (int((g or "0").replace(",", "")) for g in m.groups())
        assert rows_in == valid + rejected
        assert (valid, flagged, rejected) == (case.loaded_count, len(case.flagged), len(case.quarantined)), \
            shown[-2000:]
        assert code == (1 if rejected else 0), shown[-2000:]
        for note in case.notes:  # the batch report's notes on the file as a whole
            assert "note: " in shown and flat(note) in shown, shown[-2000:]

    # --- exchange run FEED ---------------------------------------------------------------------------
    code, out = invoke(["run", case.feed_id])
    shown = flat(out)
    engine = make_engine(warehouse_url or f"sqlite:///{path.parents[1] / 'exchange.db'}")
    try:
        with engine.connect() as conn:
            batches = _rows(conn, "SELECT * FROM audit.batch WHERE feed = :feed", feed=case.feed_id)
            core = _rows(conn, f"SELECT * FROM core.{case.entity}")
            quarantine = _rows(conn, f"SELECT * FROM quarantine.{case.entity} ORDER BY _source_row")
    finally:
        engine.dispose()
    core.sort(key=lambda r: r["source_record_id"])  # code-point order, whatever the database's collation
    if case.error:
        assert code == 2, out[-3000:]
        assert case.file in shown and flat(case.error) in shown, shown[-2000:]
        assert not core and not quarantine
        for b in batches:  # the failure is in the ledger too, naming the file, and counts nothing: its rows
            assert b["state"] == "failed" and case.file in (b["error"] or ""), b  # were never validated
            assert all(b[c] is None for c in ("rows_in", "rows_valid", "rows_loaded", "rows_quarantined")), b
        summary: dict[str, Any] = {"error": [b["error"] for b in batches]}
    else:
        summary = check_batch(case, code, shown, batches, core, quarantine, path.parents[2])
    check_golden(case, summary, core, quarantine, write=warehouse_url is None)


def check_batch(case: Case, code: int, shown: str, batches: list[dict[str, Any]], core: list[dict[str, Any]],
                quarantine: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    failed = case.expect.get("state") == "failed"
    assert code == (1 if failed else 0), shown[-2000:]
    assert len(batches) == 1, batches
    b = batches[0]
    assert b["state"] == ("failed" if failed else "published"), b
    assert b["rows_in"] == b["rows_valid"] + b["rows_quarantined"]
    if failed:
        assert b["rows_loaded"] == 0 and not core  # the valid rows are held in staging, not published
    else:
        assert b["rows_in"] == b["rows_loaded"] + b["rows_quarantined"]
    assert (b["rows_valid"], b["rows_quarantined"]) == (case.loaded_count, len(case.quarantined)), b
    notes = json.loads(b["notes"] or "[]")
    for note in case.notes:  # said by `run` and kept in the ledger
        assert "note: " in shown and flat(note) in shown and any(note in n for n in notes), (note, notes)
    if not case.notes:
        assert not notes, notes

    # quarantine: the expected rows, each with its reasons (rule + message) and its original values
    got: dict[str, list[str]] = {}
    for q in quarantine:
        reasons = json.loads(q["reasons"])
        assert reasons and all(r["rule"] and r["message"] for r in reasons), q
        rules = list(dict.fromkeys(r["rule"] for r in reasons))
        assert q["rules"] == ",".join(rules)
        key = q["source_record_id"]
        if key is None or key not in case.quarantined:
            key = f"#{q['_source_row']}"
        assert key not in got, f"two quarantined rows for {key}"
        got[key] = sorted(rules)
        assert q["_source_file"] == case.file and q["status"] == "open"
    assert got == case.quarantined, got

    raw = raw_rows(case, b, root)
    columns = list(FEEDS[case.feed][1])
    for q in quarantine:
        original = json.loads(q["original"])
        source_row = raw[q["_source_row"]]
        if case.large:
            original = {c: original[c] for c in columns}
        assert original == {k: v for k, v in source_row.items() if k not in META_COLUMNS}, q["_source_row"]
        # the record id as read, a NUL character shown as \u0000 (the original holds it exactly)
        key_column = next(c for c, m in FEEDS[case.feed][1].items() if m == "source_record_id")
        assert q["source_record_id"] == _shown_key(source_row[key_column]), q["_source_row"]

    if not failed:
        ids = [r["source_record_id"] for r in core]
        if "loaded" in case.expect:
            assert sorted(ids) == sorted(str(i) for i in case.expect["loaded"])
        else:
            assert len(ids) == case.loaded_count and set(case.expect.get("loaded_sample", [])) <= set(ids)
        by_id = {r["source_record_id"]: r for r in core}
        # flagged rows: loaded, the field empty, the value kept unverified, every flag with its message
        flagged = {}
        for r in core:
            if r["_flags"] is not None:
                flags = json.loads(r["_flags"])
                assert flags and all(f["rule"] and f["message"] and f["field"] for f in flags), r
                for f in flags:
                    assert r[f["field"]] is None and r[f"{f['field']}_unverified"] is not None, r
                flagged[r["source_record_id"]] = sorted(dict.fromkeys(f["rule"] for f in flags))
        assert flagged == case.flagged and b["rows_flagged"] == len(flagged), (flagged, b)
        for rid, values in (case.expect.get("values") or {}).items():
            for fld, want in values.items():
                assert plain(by_id[str(rid)][fld]) == want, (rid, fld)
        # values the schema keeps verbatim are the source's, but for the documented clean-up
        column_of = {m if isinstance(m, str) else m["field"]: c for c, m in FEEDS[case.feed][1].items()}
        for r in core:
            assert r["_source_file"] == case.file
            source_row = raw[r["_source_row"]]
            for fld in VERBATIM[case.entity]:
                assert r[fld] == cleaned(source_row[column_of[fld]]), (r["source_record_id"], fld)
    return {k: b[k] for k in ("state", "rows_in", "rows_valid", "rows_loaded", "rows_quarantined", "rows_flagged")}


def _shown_key(value: str | None) -> str | None:
    value = cleaned(value)
    return None if value is None else value.replace("\x00", NUL_SHOWN)


def raw_rows(case: Case, batch: dict[str, Any], root: Path) -> dict[int, dict[str, Any]]:
    """The rows as the connector read them (staged raw.parquet), by record number."""
    path = Path(batch["staging_path"]) / "raw.parquet"
    assert path.is_relative_to(root), path
    columns = None
    if case.large:  # 100,000 columns: only the mapped ones
        columns = [*FEEDS[case.feed][1], "_source_row"]
    return {r["_source_row"]: r for r in pq.read_table(path, columns=columns).to_pylist()}


def plain(value: Any) -> Any:
    """A warehouse value as the golden files hold it, whichever driver returned it: dates and times as
    ISO text (SQLite hands back the text it stored, PostgreSQL a ``date``), decimals as text."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def check_golden(case: Case, summary: dict[str, Any], core: list[dict[str, Any]],
                 quarantine: list[dict[str, Any]], *, write: bool = True) -> None:
    skip = {"_batch_id", "_loaded_at", "_quarantined_at"}
    doc = {
        "batch": summary,
        "core": [{k: plain(v) for k, v in r.items() if k not in skip} for r in core],
        "quarantine": [{k: (json.loads(v) if k in ("reasons", "original") else plain(v)) for k, v in q.items()
                        if k not in skip} for q in quarantine],
    }
    text_ = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if case.large:
        text_ = json.dumps({"batch": summary, "sha256": hashlib.sha256(text_.encode()).hexdigest()},
                           indent=1, sort_keys=True) + "\n"
    golden = GOLDEN / f"{case.id}.json"
    if write and (UPDATE or not golden.exists()):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text_, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{golden} did not exist and was written; review it and run again")
    assert golden.exists(), f"{golden} is missing; the SQLite run (tests/unit/test_hostile_corpus.py) writes it"
    assert text_ == golden.read_text(encoding="utf-8"), f"{case.id}: the warehouse differs from {golden}"
