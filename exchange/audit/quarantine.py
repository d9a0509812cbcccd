"""Reprocessing quarantined rows: which rows are open, the reprocessing batch's id, marking rows
resolved or re-checked, and the ``quarantine_resolution`` ledger entry.

Quarantined rows are never deleted. A row that passes after a mapping or schema fix is
``resolved`` by the reprocessing batch that loaded it (``resolved_at``, ``resolved_by``); one
that still fails stays ``open`` with its original reasons and the new ones beside them
(``rechecked_at``, ``rechecked_by``, ``recheck_reasons``). The runner composes the steps
(``exchange.runner.reprocess_quarantine``); tables are passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, func, select, update

from exchange.audit import chain
from exchange.audit.tables import batch
from exchange.errors import ConfigError

DONE = ("loaded", "published")
SOURCE_KIND = "quarantine"
SUPERSEDED = "key.superseded"


def origin_batches(conn: Connection, feed_id: str, only: str | None = None) -> dict[str, dt.datetime]:
    """The feed's batches whose quarantined rows may be reprocessed → when each started.

    Rows of a batch that failed (over its reject ratio) are not reprocessed one by one: rerun the
    feed, which redoes the whole batch."""
    q = select(batch.c.batch_id, batch.c.state, batch.c.started_at, batch.c.source).where(batch.c.feed == feed_id)
    rows = [r for r in conn.execute(q) if json.loads(r.source or "{}").get("kind") != SOURCE_KIND]
    if only is not None:
        match = [r for r in rows if r.batch_id == only]
        if not match:
            raise ConfigError(f"feed {feed_id}: no batch {only!r}; `exchange batches --feed {feed_id}` lists them")
        if match[0].state not in DONE:
            raise ConfigError(f"batch {only} of {feed_id} is {match[0].state}, so none of it was published; "
                              f"rerun the feed (`exchange run {feed_id}`) instead of reprocessing its rows")
        rows = match
    return {r.batch_id: r.started_at for r in rows if r.state in DONE}


def open_rows(conn: Connection, quarantine: Table, origins: dict[str, dt.datetime],
              skip_checked_by: set[str] | None = None) -> list[dict[str, Any]]:
    """Open quarantine rows of ``origins`` (less those last re-checked by ``skip_checked_by``):
    newest batch first, then in source order (so within a reprocessing batch the newest version
    of a record is the one that loads)."""
    if not origins:
        return []
    q = quarantine
    rows: list[dict[str, Any]] = []
    ids = sorted(origins)
    for i in range(0, len(ids), 500):
        rows += [dict(r) for r in conn.execute(
            select(q.c._batch_id, q.c._source_file, q.c._source_row, q.c.source_record_id, q.c.original,
                   q.c.reasons, q.c.rules, q.c.rechecked_by)
            .where(q.c.status == "open", q.c._batch_id.in_(ids[i:i + 500]))).mappings()]
    if skip_checked_by:
        rows = [r for r in rows if r["rechecked_by"] not in skip_checked_by]
    rows.sort(key=lambda r: (-origins[r["_batch_id"]].timestamp(), r["_batch_id"], r["_source_file"],
                             r["_source_row"]))
    return rows


def parse_error(reasons_json: str) -> str | None:
    """A row that could not be read cleanly stays a failure: its parse error is carried over."""
    for r in json.loads(reasons_json or "[]"):
        if r.get("rule") == "parse.error":
            return r.get("message") or "parse error"
    return None


def rows_digest(rows: Iterable[dict[str, Any]]) -> str:
    """SHA-256 over the identity and original content of the rows (order-independent)."""
    lines = sorted(json.dumps([r["_batch_id"], r["_source_file"], int(r["_source_row"]),
                               hashlib.sha256(r["original"].encode()).hexdigest()]) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def context_digest(spec_json: str, schema_version: str, suite_digest: str, code_version: str) -> str:
    """What decides a row's fate besides its values: the feed spec, schema, suite and code."""
    return hashlib.sha256(f"{spec_json}\n{schema_version}\n{suite_digest}\n{code_version}".encode()).hexdigest()


def reprocess_batch_id(agency: str, feed: str, context: str, digest: str) -> str:
    """Deterministic: the same open rows under the same context → the same id."""
    h = hashlib.sha256(f"{context}\n{digest}".encode()).hexdigest()
    return f"{agency}-{feed}-reprocess-{h[:16]}"


def checked_in_context(conn: Connection, feed_id: str, context: str) -> set[str]:
    """Reprocessing batches of the feed that already re-checked rows under ``context``: their
    still-failing rows would fail the same way again, so they are not taken again."""
    rows = conn.execute(select(batch.c.batch_id, batch.c.source, batch.c.state).where(batch.c.feed == feed_id))
    return {r.batch_id for r in rows if r.state in DONE
            and (src := json.loads(r.source or "{}")).get("kind") == SOURCE_KIND and src.get("context") == context}


def current_origin_times(conn: Connection, core: Table, quarantine: Table, agency: str,
                         keys: list[str]) -> dict[str, tuple[str, dt.datetime]]:
    """For records already in ``core``: (batch that supplied the current version, when that data
    arrived). A version loaded by reprocessing dates from the batch it was first quarantined in."""
    if not keys:
        return {}
    current: dict[str, str] = {}
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        current.update({r[0]: r[1] for r in conn.execute(
            select(core.c.source_record_id, core.c._batch_id)
            .where(core.c.source_agency == agency, core.c.source_record_id.in_(part)))})
    if not current:
        return {}
    started = {r.batch_id: (r.started_at, json.loads(r.source or "{}").get("kind") == SOURCE_KIND)
               for r in conn.execute(select(batch.c.batch_id, batch.c.started_at, batch.c.source)
                                     .where(batch.c.batch_id.in_(sorted(set(current.values())))))}
    out: dict[str, tuple[str, dt.datetime]] = {}
    reprocessed = sorted({b for b in current.values() if started.get(b, (None, False))[1]})
    origin: dict[str, str] = {}
    if reprocessed:
        part_keys = [k for k, b in current.items() if b in reprocessed]
        for i in range(0, len(part_keys), 500):
            for rid, by, first in conn.execute(
                    select(quarantine.c.source_record_id, quarantine.c.resolved_by, quarantine.c._batch_id)
                    .where(quarantine.c.source_agency == agency,
                           quarantine.c.source_record_id.in_(part_keys[i:i + 500]),
                           quarantine.c.resolved_by.in_(reprocessed))):
                if current.get(rid) == by:
                    origin[rid] = first
    origin_started = {r.batch_id: r.started_at for r in conn.execute(
        select(batch.c.batch_id, batch.c.started_at).where(batch.c.batch_id.in_(sorted(set(origin.values())))))}
    for k, b in current.items():
        when = started.get(b, (None, False))[0]
        if k in origin and origin[k] in origin_started:
            when = origin_started[origin[k]]
        if when is not None:
            out[k] = (b, when)
    return out


def mark_resolved(conn: Connection, quarantine: Table, keys: list[tuple[str, str, int]], *, by: str,
                  at: dt.datetime) -> int:
    """Open rows (batch, file, row) loaded by reprocessing batch ``by``; returns how many are now
    resolved by it."""
    q = quarantine
    if keys:
        stmt = (update(q).where(q.c._batch_id == bindparam("k_batch"), q.c._source_file == bindparam("k_file"),
                                q.c._source_row == bindparam("k_row"), q.c.status == "open")
                .values(status="resolved", resolved_at=at, resolved_by=by))
        conn.execute(stmt, [{"k_batch": b, "k_file": f, "k_row": r} for b, f, r in keys])
    return int(conn.execute(select(func.count()).select_from(q).where(q.c.resolved_by == by)).scalar_one())


def mark_rechecked(conn: Connection, quarantine: Table, items: list[tuple[str, str, int, str]], *, by: str,
                   at: dt.datetime) -> int:
    """Open rows that still fail: record the latest reasons beside the original ones."""
    q = quarantine
    if items:
        stmt = (update(q).where(q.c._batch_id == bindparam("k_batch"), q.c._source_file == bindparam("k_file"),
                                q.c._source_row == bindparam("k_row"), q.c.status == "open")
                .values(rechecked_at=at, rechecked_by=by, recheck_reasons=bindparam("k_reasons")))
        conn.execute(stmt, [{"k_batch": b, "k_file": f, "k_row": r, "k_reasons": reasons}
                            for b, f, r, reasons in items])
    return int(conn.execute(select(func.count()).select_from(q).where(
        and_(q.c.rechecked_by == by, q.c.status == "open"))).scalar_one())


def record_resolution(conn: Connection, *, batch_id: str, feed: str, entity: str, rows_in: int,
                      resolved: list[tuple[str, str, int, str]], still_open: list[tuple[str, str, int, str]],
                      by: str | None) -> chain.Entry:
    """The ``quarantine_resolution`` ledger entry: which rows (by batch, file and record number —
    never their values) were loaded, with the hash of the loaded version, and which still fail."""
    return chain.append(conn, "quarantine_resolution", batch_id, {
        "batch_id": batch_id, "feed": feed, "entity": entity, "requested_by": by, "rows_in": rows_in,
        "rows_loaded": len(resolved), "rows_still_quarantined": len(still_open),
        "resolved": [[b, f, r, h] for b, f, r, h in sorted(resolved)],
        "still_open": [[b, f, r, rules] for b, f, r, rules in sorted(still_open)],
    })
