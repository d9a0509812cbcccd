"""The tamper-evident ledger: ``audit.ledger``, an append-only hash chain.

Every entry records one auditable fact — a batch manifest, a validation result, a load, a
grant change, a quarantine resolution — as canonical JSON, chained to the entry before it::

    hash = SHA-256(prev_hash ␟ seq ␟ kind ␟ subject ␟ recorded_at ␟ payload)

(␟ is the byte 0x1f; ``recorded_at`` is ISO 8601 with microseconds; ``prev_hash`` of entry 1
is 64 zeros.) Changing any byte of an entry breaks its hash; deleting or reordering entries
breaks the sequence and the ``prev_hash`` links; ``verify`` walks the chain and names the
first broken entry. Rewriting the whole tail consistently is only caught against a head hash
recorded elsewhere: ``exchange audit verify`` prints ``SEQ:HASH`` to keep, and
``--anchor SEQ:HASH`` checks it later.

Writing an entry (for other modules too — e.g. sharing records grant changes)::

    from exchange.audit import chain
    with engine.begin() as conn:
        ...  # the work being recorded
        chain.append(conn, "grant_change", "share_health/person",
                     {"consumer": "health", "entity": "person", "action": "grant", "by": "alice",
                      "columns": ["name", "gender"], "masks": {"name": "name"}})

- Call it in the same transaction as the work it records, and last (the append takes the
  ledger lock until commit: a PostgreSQL advisory transaction lock; on SQLite the
  transaction's write lock), so an entry exists exactly when its work was committed.
- ``kind`` and ``subject`` are short texts; ``payload`` is a JSON object of strings, ints,
  bools, None, lists and dicts. Floats are written as their shortest round-trip text
  (``0.045`` → ``"0.045"``), dates/datetimes as ISO text, so the bytes are never ambiguous.
- Never put raw personal identifiers in a payload: counts, hashes, ids of batches and rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import Connection, func, insert, select

from exchange.audit.tables import ledger

GENESIS = "0" * 64
SEP = "\x1f"
LOCK_KEY = int.from_bytes(hashlib.sha256(b"agency-data-exchange:audit.ledger").digest()[:8], "big", signed=True)

KINDS = ("batch_manifest", "validation_result", "batch_load", "grant_change", "quarantine_resolution",
         "api_key", "access_digest", "review_decision", "console_user", "series_decision", "watch",
         "watch_match", "watch_ack")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"ledger payload keys must be strings, got {k!r}")
            out[k] = _plain(v)
        return out
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"ledger payloads cannot hold {value!r}")
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | PurePath):
        return str(value)
    raise TypeError(f"ledger payloads hold JSON values only, not {type(value).__name__}")


def canonical_json(payload: dict[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 text, floats as text: one spelling per value."""
    return json.dumps(_plain(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _stamp(at: dt.datetime) -> str:
    return at.isoformat(sep=" ", timespec="microseconds")


def entry_hash(prev_hash: str, seq: int, kind: str, subject: str, recorded_at: dt.datetime, payload: str) -> str:
    data = SEP.join((prev_hash, str(seq), kind, subject, _stamp(recorded_at), payload))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    subject: str
    payload: str
    recorded_at: dt.datetime
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.payload)

    def computed_hash(self) -> str:
        return entry_hash(self.prev_hash, self.seq, self.kind, self.subject, self.recorded_at, self.payload)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def lock(conn: Connection) -> None:
    """Take the ledger lock until the transaction ends (what :func:`append` takes)."""
    _lock(conn)


def latest_of_kind(conn: Connection, kind: str) -> Entry | None:
    found = entries(conn, kind=kind, newest_first=True, limit=1)
    return found[0] if found else None


def _lock(conn: Connection) -> None:
    from exchange.warehouse.dialects import dialect_of

    dialect_of(conn).xact_lock(conn, LOCK_KEY)


def append(conn: Connection, kind: str, subject: str, payload: dict[str, Any], *,
           at: dt.datetime | None = None) -> Entry:
    """Append one entry in the caller's transaction; return it (with its seq and hash)."""
    for name, value in (("kind", kind), ("subject", subject)):
        if not value or SEP in value or len(value) > 500:
            raise ValueError(f"ledger {name} must be 1-500 characters without 0x1f, got {value!r}")
    body = canonical_json(payload)
    _lock(conn)
    last = conn.execute(select(ledger.c.seq, ledger.c.hash).order_by(ledger.c.seq.desc()).limit(1)).first()
    seq, prev = (int(last[0]) + 1, last[1]) if last else (1, GENESIS)
    recorded_at = (at or _now()).replace(tzinfo=None)
    digest = entry_hash(prev, seq, kind, subject, recorded_at, body)
    conn.execute(insert(ledger).values(seq=seq, kind=kind, subject=subject, payload=body,
                                       recorded_at=recorded_at, prev_hash=prev, hash=digest))
    return Entry(seq, kind, subject, body, recorded_at, prev, digest)


def _entry(row: Any) -> Entry:
    return Entry(int(row.seq), row.kind, row.subject, row.payload, row.recorded_at, row.prev_hash, row.hash)


def entries(conn: Connection, *, kind: str | None = None, subject: str | None = None,
            since: dt.datetime | None = None, until: dt.datetime | None = None,
            newest_first: bool = False, limit: int | None = None) -> list[Entry]:
    q = select(ledger)
    if kind:
        q = q.where(ledger.c.kind == kind)
    if subject:
        q = q.where(ledger.c.subject == subject)
    if since:
        q = q.where(ledger.c.recorded_at >= since)
    if until:
        q = q.where(ledger.c.recorded_at < until)
    q = q.order_by(ledger.c.seq.desc() if newest_first else ledger.c.seq)
    if limit:
        q = q.limit(limit)
    return [_entry(r) for r in conn.execute(q)]


def latest(conn: Connection, kind: str, subject: str) -> Entry | None:
    found = entries(conn, kind=kind, subject=subject, newest_first=True, limit=1)
    return found[0] if found else None


def head(conn: Connection) -> Entry | None:
    found = entries(conn, newest_first=True, limit=1)
    return found[0] if found else None


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def _walk(conn: Connection, chunk: int = 5000) -> Iterator[Entry]:
    """Every entry in seq order, a chunk at a time (memory stays bounded)."""
    after = None
    while True:
        q = select(ledger).order_by(ledger.c.seq).limit(chunk)
        if after is not None:
            q = q.where(ledger.c.seq > after)
        rows = [_entry(r) for r in conn.execute(q)]
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


@dataclass
class Problem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}"


@dataclass
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def anchor(self) -> str:
        """What an auditor records outside the warehouse to catch a rewritten tail later."""
        return f"{self.head_seq}:{self.head_hash}"


def parse_anchor(anchor: str) -> tuple[int, str]:
    seq, _, digest = anchor.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"anchor {anchor!r} is not SEQ:HASH (as printed by `exchange audit verify`)")
    return int(seq), digest


def verify(conn: Connection, *, anchors: list[str] | None = None) -> Verification:
    """Walk the whole chain; every problem is listed, the first broken entry first.

    Detects: an altered entry (its hash no longer matches its content), a missing entry (a gap
    in seq), a reordered or replaced entry (its prev_hash does not match the entry before it),
    and — against ``anchors`` recorded earlier — a rewritten or truncated tail.
    """
    wanted = dict(parse_anchor(a) for a in anchors or [])
    result = Verification()
    expected, prev = 1, GENESIS
    for e in _walk(conn):
        result.entries += 1
        if e.seq != expected:
            missing = f"entry {expected}" if e.seq == expected + 1 else f"entries {expected}–{e.seq - 1}"
            result.problems.append(Problem(expected, f"missing: {missing} deleted (the next entry is {e.seq})"))
        elif e.prev_hash != prev:
            result.problems.append(Problem(
                e.seq, f"{e.kind} {e.subject}: prev_hash {e.prev_hash[:12]}… does not match the hash of entry "
                       f"{e.seq - 1} ({prev[:12]}…): entries were reordered, replaced or removed before it"))
        if e.computed_hash() != e.hash:
            result.problems.append(Problem(
                e.seq, f"{e.kind} {e.subject}: content does not match its hash (the entry was altered "
                       f"after it was recorded)"))
        if e.seq in wanted and wanted[e.seq] != e.hash:
            result.problems.append(Problem(
                e.seq, f"hash {e.hash[:12]}… differs from the anchor recorded for it ({wanted[e.seq][:12]}…): "
                       f"the chain was rewritten from here or earlier"))
        expected, prev = e.seq + 1, e.hash
        result.head_seq, result.head_hash = e.seq, e.hash
    for seq in sorted(s for s in wanted if s > result.head_seq):
        result.problems.append(Problem(seq, f"anchored entry is gone: the ledger ends at entry {result.head_seq} "
                                            f"(truncated)"))
    result.problems.sort(key=lambda p: p.seq)
    return result
