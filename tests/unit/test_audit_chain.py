"""The hash-chained ledger on SQLite: canonical payloads, appends, and ``verify`` catching one
altered byte, a deleted entry, two reordered entries, a tampered last entry and (against an
anchor) a rewritten or truncated tail. The scenarios are reused on PostgreSQL by
tests/integration/test_audit_pg.py."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from exchange.audit import chain
from exchange.audit import tables as audit_tables
from exchange.audit.tables import ledger
from exchange.cli import app
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import ensure_tables

# --- helpers shared with the PostgreSQL tests ------------------------------------------------------


def warehouse(url: str) -> Engine:
    engine = make_engine(url)
    ensure_tables(engine, [], audit_tables.metadata)
    return engine


def fill(engine: Engine, n: int = 5) -> list[chain.Entry]:
    out = []
    for i in range(1, n + 1):
        with engine.begin() as conn:
            out.append(chain.append(conn, "batch_manifest", f"batch-{i}",
                                    {"n": i, "ratio": 0.045, "files": {"raw.parquet": "ab" * 32}, "note": "张三"}))
    return out


def without_guards(engine: Engine, *statements: object) -> None:
    """Run statements on audit.ledger with its append-only triggers out of the way (what an
    attacker with the database owner's rights would do)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit.ledger DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit.ledger_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit.ledger_no_delete"))
        for s in statements:
            conn.execute(text(s) if isinstance(s, str) else s)
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit.ledger ENABLE TRIGGER USER"))


def flip_one_byte(engine: Engine, seq: int, column: str) -> None:
    with engine.connect() as conn:
        value = conn.execute(select(ledger.c[column]).where(ledger.c.seq == seq)).scalar_one()
    if isinstance(value, dt.datetime):
        changed: object = value + dt.timedelta(microseconds=1)
    else:
        i = len(value) // 2
        changed = value[:i] + ("1" if value[i] != "1" else "2") + value[i + 1:]
    without_guards(engine, update(ledger).where(ledger.c.seq == seq).values({column: changed}))


def swap(engine: Engine, a: int, b: int) -> None:
    without_guards(engine, update(ledger).where(ledger.c.seq == a).values(seq=-1),
                   update(ledger).where(ledger.c.seq == b).values(seq=a),
                   update(ledger).where(ledger.c.seq == -1).values(seq=b))


def verify(engine: Engine, anchors: list[str] | None = None) -> chain.Verification:
    with engine.connect() as conn:
        return chain.verify(conn, anchors=anchors)


TAMPERING = [
    ("payload", lambda e: flip_one_byte(e, 3, "payload"), 3, "altered"),
    ("subject", lambda e: flip_one_byte(e, 2, "subject"), 2, "altered"),
    ("kind", lambda e: flip_one_byte(e, 4, "kind"), 4, "altered"),
    ("recorded_at", lambda e: flip_one_byte(e, 2, "recorded_at"), 2, "altered"),
    ("hash", lambda e: flip_one_byte(e, 2, "hash"), 2, "altered"),
    ("prev_hash", lambda e: flip_one_byte(e, 3, "prev_hash"), 3, "prev_hash"),
    ("deleted entry", lambda e: without_guards(e, "DELETE FROM audit.ledger WHERE seq = 3"), 3, "missing"),
    ("deleted first entry", lambda e: without_guards(e, "DELETE FROM audit.ledger WHERE seq = 1"), 1, "missing"),
    ("reordered entries", lambda e: swap(e, 2, 4), 2, "prev_hash"),
    ("tampered last entry", lambda e: flip_one_byte(e, 5, "payload"), 5, "altered"),
]


def check_tampering(engine: Engine, change, seq: int, words: str) -> None:
    fill(engine)
    assert verify(engine).ok
    change(engine)
    result = verify(engine)
    assert not result.ok
    assert result.first_broken.seq == seq, result.problems
    assert words in result.first_broken.what, result.first_broken


def check_rewritten_tail(engine: Engine) -> None:
    """Rewriting the last entry *and* its hash keeps the chain self-consistent: only an anchor
    recorded earlier catches it — and a truncated tail."""
    fill(engine)
    anchor = verify(engine).anchor
    assert anchor.startswith("5:")
    with engine.connect() as conn:
        last = chain.head(conn)
    forged = last.payload.replace('"n":5', '"n":6')
    digest = chain.entry_hash(last.prev_hash, last.seq, last.kind, last.subject, last.recorded_at, forged)
    without_guards(engine, update(ledger).where(ledger.c.seq == 5).values(payload=forged, hash=digest))
    assert verify(engine).ok  # self-consistent …
    caught = verify(engine, [anchor])  # … but not what the auditor recorded
    assert not caught.ok and caught.first_broken.seq == 5 and "anchor" in caught.first_broken.what
    without_guards(engine, "DELETE FROM audit.ledger WHERE seq = 5")
    gone = verify(engine, [anchor])
    assert gone.first_broken.seq == 5 and "truncated" in gone.first_broken.what


def check_guards(engine: Engine) -> None:
    fill(engine, 2)
    for statement in ("UPDATE audit.ledger SET payload = '{}' WHERE seq = 1", "DELETE FROM audit.ledger"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert verify(engine).entries == 2


def check_concurrent_appends(engine: Engine, threads: int = 4, each: int = 10) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(each):
                with engine.begin() as conn:
                    chain.append(conn, "grant_change", f"grant-{t}", {"i": i, "thread": t})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    result = verify(engine)
    assert result.ok and result.entries == threads * each and result.head_seq == threads * each


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
