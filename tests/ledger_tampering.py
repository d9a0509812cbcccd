"""The hash-chained ledger's tampering scenarios and checks, run on SQLite (unit) and PostgreSQL (integration)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError

from exchange.audit import chain
from exchange.audit import tables as audit_tables
from exchange.audit.tables import ledger
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import ensure_tables


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
