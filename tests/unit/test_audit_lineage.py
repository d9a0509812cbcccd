"""What the batch stages write to the ledger (in the transaction of their work, without raw
identifiers), the ledger cross-check of audit.batch / audit.validation, and the lineage of a
warehouse row — on the embedded SQLite warehouse."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from exchange.audit import chain, records
from exchange.cli import app
from exchange.errors import ConfigError
from exchange.runner import run_feed
from exchange.warehouse.engine import make_engine
from exchange.workspace.audit import row_lineage
from tests.conftest import write
from tests.residents import BAD_ROWS, FEED, GOOD_ROWS, HEADER, TODAY

pytestmark = [pytest.mark.gx]  # not in `make check`: see the Makefile


def _setup(project: Path, settings, rows: list[str], feed: str = FEED) -> Path:
    write(project / "feeds" / "police" / "residents.yaml", feed)
    return write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(rows) + "\n")


def _entries(settings) -> list[chain.Entry]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        return chain.entries(conn)


def _exec(settings, sql: str) -> None:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.begin() as conn:
        conn.execute(text(sql))


def test_each_batch_records_validation_manifest_and_load_in_the_chain(project: Path, settings) -> None:
    source = _setup(project, settings, GOOD_ROWS + list(BAD_ROWS))
    out = run_feed("police.residents", settings=settings, today=TODAY)
    entries = _entries(settings)
    assert [(e.kind, e.subject) for e in entries] == [("validation_result", out.batch_id),
                                                      ("batch_manifest", out.batch_id),
                                                      ("batch_load", out.batch_id)]
    validation, manifest, load = (e.data for e in entries)
    assert (validation["rows_in"], validation["rows_valid"], validation["rows_rejected"]) == (10, 3, 7)
    assert validation["failed"] >= 5 and validation["passed"] + validation["failed"] == len(validation["expectations"])
    files = manifest["manifest"]["source"]["files"]
    assert files[0]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    folder = Path(out.staging_path)
    assert manifest["files"]["manifest.json"] == records.sha256_file(folder / "manifest.json")
    assert manifest["code_version"] and manifest["manifest"]["schema_version"] == "2.0.0"
    assert (load["state"], load["rows_in"], load["rows_loaded"], load["rows_quarantined"]) == ("loaded", 10, 3, 7)
    everything = "".join(e.payload for e in entries)
    for raw in ("110105194912310021", "11010519491231002X", "12345", "赵六", "13800138000"):
        assert raw not in everything, raw  # counts and hashes only, never row values


def test_an_entry_is_written_in_the_transaction_of_its_work(project: Path, settings,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(project, settings, GOOD_ROWS)
    real = chain.append

    def failing(conn, kind, subject, payload, **kw):
        if kind == "batch_load":
            raise OSError("disk full while recording the load")
        return real(conn, kind, subject, payload, **kw)

    monkeypatch.setattr(chain, "append", failing)
    with pytest.raises(OSError):
        run_feed("police.residents", settings=settings, today=TODAY)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM core.person")).scalar_one() == 0  # load rolled back
        assert conn.execute(text("SELECT state FROM audit.batch")).scalar_one() == "failed"
    assert [e.kind for e in _entries(settings)] == ["validation_result", "batch_manifest"]
    monkeypatch.setattr(chain, "append", real)
    again = run_feed("police.residents", settings=settings, today=TODAY)
    assert again.state == "published"
    assert [e.kind for e in _entries(settings)][-1] == "batch_load"


def test_crosscheck_catches_audit_tables_edited_behind_the_ledger(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS + list(BAD_ROWS))
    out = run_feed("police.residents", settings=settings, today=TODAY)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        assert records.crosscheck(conn) == []
    _exec(settings, "UPDATE audit.batch SET rows_quarantined = 6, rows_loaded = 4")
    _exec(settings, "UPDATE audit.validation SET unexpected_count = 0, success = 1")
    with engine.connect() as conn:
        problems = records.crosscheck(conn)
    assert any(f"audit.batch {out.batch_id}: rows_quarantined is 6" in p for p in problems), problems
    assert any(f"audit.validation {out.batch_id}: results differ" in p for p in problems), problems
    with engine.connect() as conn:
        assert chain.verify(conn).ok  # the chain itself is intact: it is the tables that lie


def test_lineage_names_batch_source_versions_and_checks_the_staged_files(project: Path, settings) -> None:
    first_file = _setup(project, settings, GOOD_ROWS)
    first = run_feed("police.residents", settings=settings, today=TODAY)
    first_sha = hashlib.sha256(first_file.read_bytes()).hexdigest()
    second_file = _setup(project, settings, [GOOD_ROWS[0], GOOD_ROWS[1].replace("李四", "李思"), GOOD_ROWS[2]])
    second = run_feed("police.residents", settings=settings, today=TODAY)
    found = row_lineage("core.person", "police:P2", settings=settings)
    assert found["current"]["_batch_id"] == second.batch_id
    assert found["current"]["_source_file"] == "police/r.csv" and found["current"]["_source_row"] == 2
    batch = found["batch"]
    assert batch["source"]["files"][0]["sha256"] == hashlib.sha256(second_file.read_bytes()).hexdigest()
    assert batch["schema_version"] == "2.0.0" and batch["code_version"]
    v = found["validation"]
    assert v["suite"] == "person_v2_0_0" and v["failed"] == 0 and v["passed"] == v["expectations"] > 5
    assert found["staged"]["ok"], found["staged"]
    assert {f["name"] for f in found["staged"]["files"]} == {"raw.parquet", "valid.parquet", "rejects.parquet"}
    assert [e["kind"] for e in found["ledger"]] == ["validation_result", "batch_manifest", "batch_load"]
    [older] = found["versions"]
    assert older["batch_id"] == first.batch_id and older["superseded_by"] == second.batch_id
    assert older["changed_fields"] == ["name"]
    assert dt.datetime.fromisoformat(older["superseded_at"]) >= dt.datetime.fromisoformat(older["loaded_at"])
    assert older["source_sha256"] == [f"police/r.csv {first_sha}"]
    assert "李" not in json.dumps(found, ensure_ascii=False, default=str)  # values are never shown


def test_lineage_reports_a_staged_file_changed_after_sealing(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS)
    out = run_feed("police.residents", settings=settings, today=TODAY)
    valid = Path(out.staging_path) / "valid.parquet"
    valid.write_bytes(valid.read_bytes() + b"\0")
    found = row_lineage("core.person", "police:P1", settings=settings)
    assert not found["staged"]["ok"] and "valid.parquet changed since it was sealed" in found["staged"]["problem"]


def test_lineage_reports_a_row_edited_in_the_warehouse(project: Path, settings) -> None:
    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine

    _setup(project, settings, GOOD_ROWS)
    run_feed("police.residents", settings=settings, today=TODAY)
    assert row_lineage("core.person", "police:P1", settings=settings)["row_hash_ok"] is True
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.begin() as conn:
        conn.execute(text("UPDATE core.person SET name = '李四' WHERE source_record_id = 'P1'"))
    engine.dispose()
    found = row_lineage("core.person", "police:P1", settings=settings)
    assert found["staged"]["ok"] and found["row_hash_ok"] is False and "name" in found["row_hash_problem"]


def test_lineage_catches_a_resealed_manifest(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS)
    out = run_feed("police.residents", settings=settings, today=TODAY)
    folder = Path(out.staging_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["rows_valid"] = 2  # a forger re-writing the manifest, file hashes still right
    (folder / "manifest.json").write_text(json.dumps(manifest))
    found = row_lineage("core.person", "police:P1", settings=settings)
    assert not found["staged"]["ok"] and "differs from the one recorded in ledger entry 2" in \
        found["staged"]["problem"]


def test_lineage_shows_quarantined_versions_of_a_key(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS + list(BAD_ROWS))
    run_feed("police.residents", settings=settings, today=TODAY)
    found = row_lineage("core.person", "police:P4", settings=settings)
    assert found["current"] is None and found["versions"] == []
    [q] = found["quarantined"]
    assert q["rules"] == "division_code.format" and q["status"] == "open" and q["source_row"] == 4


def test_lineage_argument_errors(project: Path, settings) -> None:
    _setup(project, settings, GOOD_ROWS)
    run_feed("police.residents", settings=settings, today=TODAY)
    with pytest.raises(ConfigError, match=r"lineage covers core\.<entity>"):
        row_lineage("core.people", "police:P1", settings=settings)
    with pytest.raises(ConfigError, match="SOURCE_AGENCY:SOURCE_RECORD_ID"):
        row_lineage("core.person", "P1", settings=settings)
    assert row_lineage("person", "police:NOPE", settings=settings) is None


def test_cli_lineage(project: Path, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(project, settings, GOOD_ROWS)
    out = run_feed("police.residents", settings=settings, today=TODAY)
    monkeypatch.setenv("EXCHANGE_HOME", str(project))
    runner = CliRunner()
    shown = runner.invoke(app, ["audit", "lineage", "core.person", "police:P1"])
    assert shown.exit_code == 0, shown.output
    assert out.batch_id in shown.output and "police/r.csv" in shown.output
    assert "staged files match the manifest, and the manifest matches ledger entry 2" in shown.output
    as_json = runner.invoke(app, ["audit", "lineage", "core.person", "police:P1", "--json"])
    assert json.loads(as_json.output)["batch"]["batch_id"] == out.batch_id
    (Path(out.staging_path) / "raw.parquet").unlink()
    broken = runner.invoke(app, ["audit", "lineage", "core.person", "police:P1"])
    assert broken.exit_code == 1 and "raw.parquet is missing" in broken.output
    missing = runner.invoke(app, ["audit", "lineage", "core.person", "police:NOPE"])
    assert missing.exit_code == 1
