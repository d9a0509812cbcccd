"""Clerical review: a record the model cannot place with confidence is not linked silently.

A record without a validated ID number whose two best candidates are *different* ID holders, the best
at or above the match threshold and the second within ``review_margin_bits`` of it (the model finds
them almost equally good: twins, a same-name neighbour), is left unlinked and put in ``mdm.review``
with both candidates and the evidence per comparison. A records officer accepts one candidate or
rejects them all (``exchange link review``); the decision persists across runs and overrides the
model — an accepted record is linked to the chosen ID holder with rule ``review``, a rejected one is
never linked to any of its candidates — and the runner records it in the hash-chained ledger.

Pure DuckDB and SQLAlchemy on what the linking run passes in; no model calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from exchange.linking import tables as mdm

EVIDENCE = ("name", "gender", "birth_date", "phone", "household_number", "address", "division_code")
REVIEW_RULE = "review"


@dataclass(frozen=True)
class Doubt:
    rid: int
    key: tuple[str, str, str, str]
    candidates: list[dict[str, Any]]

    @property
    def candidate_ids(self) -> list[str]:
        return [c["id_number"] for c in self.candidates]

    @property
    def review_id(self) -> str:
        text = "\x1f".join([*self.key, *sorted(self.candidate_ids)])
        return "rv-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def decisions(conn: Connection) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """Record identity → its latest decision (accepted with ``chosen_id``, or rejected with the ids)."""
    r = mdm.review
    rows = conn.execute(select(r).where(r.c.status.in_(("accepted", "rejected")))
                        .order_by(r.c.decided_at)).mappings().all()
    return {(x["source_agency"], x["entity"], x["source_record_id"], x["role"]): dict(x) for x in rows}


def apply_decisions(con: Any, pairs: str, decided: dict[tuple[str, str, str, str], dict[str, Any]]) -> int:
    """Decided records: accepted → one certain edge to a record of the chosen ID number (kind
    ``review``) and no other edge; rejected → no edge to any rejected candidate. Returns how many."""
    import pyarrow as pa

    if not decided:
        return 0
    keys = list(decided)
    con.register("_decided", pa.table({
        "source_agency": [k[0] for k in keys], "entity": [k[1] for k in keys],
        "source_record_id": [k[2] for k in keys], "role": [k[3] for k in keys],
        "status": [decided[k]["status"] for k in keys], "chosen_id": [decided[k]["chosen_id"] for k in keys],
        "candidate_ids": [decided[k]["candidate_ids"] for k in keys]}))
    con.execute("CREATE OR REPLACE TABLE decided AS SELECT r.rid, d.status, d.chosen_id, d.candidate_ids "
                "FROM _decided d JOIN rec r USING (source_agency, entity, source_record_id, role)")
    con.unregister("_decided")
    # accepted: nothing but the chosen link
    con.execute(f"DELETE FROM {pairs} WHERE unique_id_l IN (SELECT rid FROM decided WHERE status = 'accepted') "
                f"OR unique_id_r IN (SELECT rid FROM decided WHERE status = 'accepted')")
    con.execute(f"INSERT INTO {pairs} SELECT d.rid, min(r.rid), 99.0, 1.0, NULL, '{REVIEW_RULE}' FROM decided d "
                f"JOIN rec r ON r.id_number = d.chosen_id WHERE d.status = 'accepted' GROUP BY d.rid")
    # rejected: none of the candidates
    con.execute(f"DELETE FROM {pairs} p USING decided d, rec r WHERE d.status = 'rejected' "
                f"AND p.unique_id_l = d.rid AND r.rid = p.unique_id_r AND r.id_number IS NOT NULL "
                f"AND list_contains(string_split(d.candidate_ids, ','), r.id_number)")
    return len(keys)


def find_doubts(con: Any, pairs: str, *, match_threshold: float, margin_bits: float,
                decided: set[int]) -> list[Doubt]:
    """Records whose best two candidates (distinct ID numbers) are close; their edges are removed from
    ``pairs`` (they stay unlinked until decided)."""
    rows = con.execute(
        f"WITH c AS (SELECT p.unique_id_l AS rid, r.id_number, max(p.match_weight) AS w, "
        f"max(p.match_probability) AS pr, arg_max(p.unique_id_r, p.match_weight) AS cand FROM {pairs} p "
        f"JOIN rec r ON r.rid = p.unique_id_r WHERE p.kind = 'between' AND r.id_number IS NOT NULL "
        f"GROUP BY 1, 2), k AS (SELECT *, row_number() OVER (PARTITION BY rid ORDER BY w DESC, id_number) AS n "
        f"FROM c) SELECT a.rid, a.id_number, a.w, a.pr, a.cand, b.id_number, b.w, b.pr, b.cand FROM k a "
        f"JOIN k b ON a.rid = b.rid AND a.n = 1 AND b.n = 2 WHERE a.pr >= {match_threshold} "
        f"AND a.w - b.w < {margin_bits} ORDER BY a.rid").fetchall()
    rows = [r for r in rows if r[0] not in decided]
    if not rows:
        return []
    wanted = sorted({x for r in rows for x in (r[0], r[4], r[8])})
    cols = ", ".join(EVIDENCE)
    attrs = {r[0]: dict(zip(("rid", "source_agency", "entity", "source_record_id", "role", *EVIDENCE), r, strict=True))
             for r in con.execute(f"SELECT rid, source_agency, entity, source_record_id, role, {cols} FROM rec "
                                  f"WHERE rid IN ({', '.join(str(x) for x in wanted)})").fetchall()}
    out = []
    for rid, id1, w1, p1, c1, id2, w2, p2, c2 in rows:
        me = attrs[rid]
        cands = []
        for id_number, w, p, cand in ((id1, w1, p1, c1), (id2, w2, p2, c2)):
            other = attrs[cand]
            cands.append({"id_number": id_number, "probability": round(float(p), 6), "weight": round(float(w), 3),
                          "record": f"{other['source_agency']}/{other['entity']}/{other['source_record_id']}",
                          "evidence": {f: {"record": me[f], "candidate": other[f],
                                           "agree": None if me[f] is None or other[f] is None else me[f] == other[f]}
                                       for f in EVIDENCE}})
        out.append(Doubt(rid, (me["source_agency"], me["entity"], me["source_record_id"], me["role"]), cands))
    doubtful = ", ".join(str(d.rid) for d in out)
    con.execute(f"DELETE FROM {pairs} WHERE unique_id_l IN ({doubtful}) OR unique_id_r IN ({doubtful})")
    return out


def save(conn: Connection, doubts: list[Doubt], run_id: int, margin_bits: float) -> tuple[int, int]:
    """New doubts → pending reviews; pending reviews no longer doubtful → stale. (new, stale)."""
    r = mdm.review
    current = {d.review_id for d in doubts}
    existing = {x.review_id: x.status for x in conn.execute(select(r.c.review_id, r.c.status))}
    new = 0
    for d in doubts:
        if d.review_id in existing:
            if existing[d.review_id] in ("pending", "stale"):
                conn.execute(update(r).where(r.c.review_id == d.review_id).values(status="pending",
                                                                                  updated_run=run_id))
            continue
        conn.execute(r.insert().values(
            review_id=d.review_id, source_agency=d.key[0], entity=d.key[1], source_record_id=d.key[2],
            role=d.key[3], reason=f"two candidates within {margin_bits:g} bits of each other",
            candidate_ids=",".join(d.candidate_ids), candidates=json.dumps(d.candidates, ensure_ascii=False),
            status="pending", created_run=run_id, updated_run=run_id))
        new += 1
    stale = [rid for rid, status in existing.items() if status == "pending" and rid not in current]
    if stale:
        conn.execute(update(r).where(r.c.review_id.in_(stale)).values(status="stale", updated_run=run_id))
    return new, len(stale)


def listing(conn: Connection, status: str | None = "pending", limit: int = 100) -> list[dict[str, Any]]:
    r = mdm.review
    q = select(r).order_by(r.c.created_run, r.c.review_id).limit(limit)
    if status:
        q = q.where(r.c.status == status)
    return [dict(x) for x in conn.execute(q).mappings()]


def get(conn: Connection, review_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(mdm.review).where(mdm.review.c.review_id == review_id)).mappings().first()
    return dict(row) if row else None


def decide(conn: Connection, review_id: str, *, accept: str | None, by: str | None, note: str | None,
           at: dt.datetime) -> dict[str, Any]:
    """Accept candidate ``accept`` (its ID number) or, with None, reject every candidate."""
    row = get(conn, review_id)
    if row is None:
        raise KeyError(review_id)
    ids = row["candidate_ids"].split(",")
    if accept is not None and accept not in ids:
        raise ValueError(f"{accept!r} is not a candidate of {review_id} (candidates: {', '.join(ids)})")
    values = {"status": "accepted" if accept else "rejected", "chosen_id": accept, "decided_by": by,
              "decided_at": at, "note": note}
    conn.execute(update(mdm.review).where(mdm.review.c.review_id == review_id).values(**values))
    return {**row, **values}
