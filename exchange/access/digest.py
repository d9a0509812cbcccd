"""Digests of ``audit.access``: what the ledger keeps so that a deleted or rewritten access row is found.

``audit.access`` refuses UPDATE, DELETE and TRUNCATE through triggers, but whoever can disable triggers
(a superuser, ``session_replication_role = replica``) can rewrite it. So the exchange seals it: a range
of rows ``first_id``–``last_id`` is hashed (SHA-256 over each row's canonical JSON, in id order) and the
digest appended to the hash-chained ledger (kind ``access_digest``). ``exchange audit verify`` hashes
every sealed range again: a row deleted, altered or inserted with an old id changes the count or the
hash. Rows after the last seal are unprotected until the next seal (``exchange audit seal``; the API
server and ``grants apply`` seal as they go), so the verifier says how many there are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from exchange.access.tables import access

SETTLE_SECONDS = 60
"""Rows younger than this are left to the next seal: an insert whose id was drawn but whose transaction
has not committed yet must not fall inside a sealed range."""


@dataclass(frozen=True)
class Digest:
    first_id: int
    last_id: int
    rows: int
    sha256: str

    def payload(self) -> dict[str, Any]:
        return {"first_id": self.first_id, "last_id": self.last_id, "rows": self.rows, "sha256": self.sha256}


def _canonical(row: Any) -> bytes:
    doc = {k: (v.isoformat() if isinstance(v, dt.datetime | dt.date) else v) for k, v in row._mapping.items()}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def digest(conn: Connection, first_id: int, last_id: int, chunk: int = 5_000) -> Digest:
    """The digest of rows ``first_id``..``last_id`` as they are now."""
    h = hashlib.sha256()
    rows, after = 0, first_id - 1
    while True:
        batch = list(conn.execute(select(access).where(access.c.id > after, access.c.id <= last_id)
                                  .order_by(access.c.id).limit(chunk)))
        if not batch:
            break
        for row in batch:
            h.update(_canonical(row))
            h.update(b"\n")
        rows += len(batch)
        after = batch[-1].id
    return Digest(first_id, last_id, rows, h.hexdigest())


def sealable(conn: Connection, after: int, *, settle_seconds: float = SETTLE_SECONDS,
             now: dt.datetime | None = None) -> Digest | None:
    """The digest of the rows after ``after`` old enough to seal (None: nothing to seal)."""
    cutoff = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)) - dt.timedelta(seconds=settle_seconds)
    last = conn.execute(select(func.max(access.c.id)).where(access.c.id > after,
                                                            access.c.accessed_at <= cutoff)).scalar()
    if last is None:
        return None
    return digest(conn, after + 1, int(last))


def unsealed(conn: Connection, after: int) -> int:
    return int(conn.execute(select(func.count()).select_from(access).where(access.c.id > after)).scalar_one())
