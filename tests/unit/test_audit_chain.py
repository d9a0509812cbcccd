"""The hash-chained ledger on SQLite: canonical payloads, appends, and ``verify`` catching one
altered byte, a deleted entry, two reordered entries, a tampered last entry and (against an
anchor) a rewritten or truncated tail. The scenarios (tests/ledger_tampering.py) are reused on
PostgreSQL by tests/integration/test_audit_pg.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from exchange.audit import chain
from exchange.cli import app
from tests.ledger_tampering import (
    TAMPERING,
    check_concurrent_appends,
    check_guards,
    check_rewritten_tail,
    check_tampering,
    fill,
    flip_one_byte,
    verify,
    warehouse,
)

# --- tests -----------------------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    yield e
    e.dispose()


def test_canonical_json_is_one_spelling_per_value() -> None:
    a = chain.canonical_json({"b": 1, "a": [0.1, True, None], "c": {"z": "张三", "y": dt.date(2026, 1, 2)}})
    b = chain.canonical_json({"c": {"y": dt.date(2026, 1, 2), "z": "张三"}, "a": [0.1, True, None], "b": 1})
    assert a == b == '{"a":["0.1",true,null],"b":1,"c":{"y":"2026-01-02","z":"张三"}}'
    with pytest.raises(ValueError):
        chain.canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        chain.canonical_json({1: "x"})
    with pytest.raises(TypeError):
        chain.canonical_json({"x": object()})


def test_appends_chain_each_entry_to_the_previous_one(engine: Engine) -> None:
    entries = fill(engine, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == chain.GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    with engine.connect() as conn:
        stored = chain.entries(conn)
    assert [e.hash for e in stored] == [e.hash for e in entries]
    assert all(e.computed_hash() == e.hash for e in stored)
    result = verify(engine)
    assert result.ok and result.entries == 3 and result.anchor == f"3:{entries[2].hash}"


def test_an_append_rolled_back_with_its_work_leaves_no_trace(engine: Engine) -> None:
    fill(engine, 2)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        chain.append(conn, "grant_change", "g", {"x": 1})
        raise RuntimeError("the work failed")
    with engine.begin() as conn:
        e = chain.append(conn, "grant_change", "g", {"x": 2})
    assert e.seq == 3 and verify(engine).ok


def test_kind_and_subject_are_checked(engine: Engine) -> None:
    with engine.begin() as conn:
        for kind, subject in (("", "s"), ("k", ""), ("k\x1f", "s"), ("k", "x" * 501)):
            with pytest.raises(ValueError):
                chain.append(conn, kind, subject, {})


def test_the_ledger_refuses_updates_and_deletes(engine: Engine) -> None:
    check_guards(engine)


@pytest.mark.parametrize(("change", "seq", "words"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_verify_names_the_first_broken_entry(engine: Engine, change, seq: int, words: str) -> None:
    check_tampering(engine, change, seq, words)


def test_a_rewritten_tail_is_caught_by_an_anchor(engine: Engine) -> None:
    check_rewritten_tail(engine)


def test_concurrent_appends_stay_one_chain(engine: Engine) -> None:
    check_concurrent_appends(engine)


def test_bad_anchor_is_rejected() -> None:
    for bad in ("5", "x:" + "a" * 64, "5:" + "A" * 64, "5:abc"):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            chain.parse_anchor(bad)


def test_cli_verify_exit_codes_and_messages(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", str(engine.url))
    fill(engine)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ledger intact: 5 entries" in ok.output
    anchor = ok.output.split("--anchor): ")[1].split()[0]
    assert anchor.startswith("5:") and len(anchor) == 66
    assert runner.invoke(app, ["audit", "verify", "--anchor", anchor]).exit_code == 0
    bad = runner.invoke(app, ["audit", "verify", "--anchor", "5:nope"])
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.output
    flip_one_byte(engine, 3, "payload")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "ledger broken at entry 3" in broken.output and "altered" in broken.output
    log = runner.invoke(app, ["audit", "log", "--kind", "batch_manifest", "--limit", "2"])
    assert log.exit_code == 0 and "batch-5" in log.output and "batch-1" not in log.output
