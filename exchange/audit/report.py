"""The auditors' report: ``exchange audit report --since DATE`` → one self-contained HTML file.

Per agency and feed: the batches of the period (rows in / loaded / quarantined, state, a link
to each batch's GX Data Docs page), the top failure reasons, a pass-rate trend chart, the
quarantine's open and resolved rows; then the reprocessing batches, the grant changes and
access counts per consumer, and the state of the hash-chained ledger (verified while the
report is written, with its head hash to record elsewhere).

No row values appear in it — only counts, rule codes, field names, batch ids and hashes —
and every text that comes from the warehouse goes through :func:`scrub` as well, which masks
anything shaped like a resident ID, mobile number or credit code. Inline CSS and SVG only: it
opens offline, without scripts. The tables are passed in (``quarantines``: entity → table).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, case, func, inspect, select

from exchange.audit import chain, records
from exchange.audit.tables import batch, ledger
from exchange.formats.masking import scrub_identifiers
from exchange.spec.schema import FLAGS


def scrub(text: Any) -> str:
    """Mask anything in ``text`` shaped like a personal identifier (:func:`scrub_identifiers`)."""
    return scrub_identifiers(text)


@dataclass
class BatchLine:
    batch_id: str
    state: str
    started_at: dt.datetime
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    reject_ratio: float
    max_reject_ratio: float
    docs_link: str | None
    reprocessing: bool
    code_version: str
    schema_version: str
    ledger: list[int]
    error: str | None = None

    @property
    def pass_rate(self) -> float:
        return 1.0 - (self.rows_quarantined / self.rows_in) if self.rows_in else 1.0


@dataclass
class FeedSection:
    feed: str
    agency: str
    entity: str
    batches: list[BatchLine] = field(default_factory=list)
    reasons: list[tuple[str, str, int]] = field(default_factory=list)
    quarantine: dict[str, int] = field(default_factory=dict)
    flags: list[tuple[str, str, int]] = field(default_factory=list)
    """Top flags of the rows loaded with flagged fields (still current in core)."""

    @property
    def regular(self) -> list[BatchLine]:
        return [b for b in self.batches if not b.reprocessing]

    def total(self, attr: str, reprocessing: bool = False) -> int:
        return sum(getattr(b, attr) for b in self.batches if b.reprocessing == reprocessing)


@dataclass
class ReportData:
    since: dt.datetime
    until: dt.datetime
    generated: dt.datetime
    warehouse: str
    verification: chain.Verification
    crosscheck: list[str]
    kinds: dict[str, int]
    feeds: list[FeedSection]
    grant_changes: list[chain.Entry]
    resolutions: list[chain.Entry]
    access: dict[str, Any]

    @property
    def agencies(self) -> dict[str, list[FeedSection]]:
        out: dict[str, list[FeedSection]] = defaultdict(list)
        for f in self.feeds:
            out[f.agency].append(f)
        return dict(sorted(out.items()))


def _link(report_path: str | None, out_dir: Path) -> str | None:
    if not report_path:
        return None
    try:
        return Path(os.path.relpath(Path(report_path).resolve(), out_dir.resolve())).as_posix()
    except ValueError:  # another drive
        return Path(report_path).as_uri()


def _ledger_seqs(conn: Connection, batch_ids: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    led = ledger
    for i in range(0, len(batch_ids), 500):
        for seq, subject in conn.execute(select(led.c.seq, led.c.subject)
                                         .where(led.c.subject.in_(batch_ids[i:i + 500])).order_by(led.c.seq)):
            out[subject].append(int(seq))
    return out


def _reasons_and_status(conn: Connection, q: Table | None, batch_ids: list[str]
                        ) -> tuple[list[tuple[str, str, int]], dict[str, int]]:
    counts: Counter = Counter()
    status: Counter = Counter()
    if q is None or not batch_ids:
        return [], {}
    for i in range(0, len(batch_ids), 500):
        for reasons, state in conn.execute(select(q.c.reasons, q.c.status)
                                           .where(q.c._batch_id.in_(batch_ids[i:i + 500]))):
            status[state] += 1
            for r in dict.fromkeys((r.get("rule"), r.get("field") or "") for r in json.loads(reasons or "[]")):
                counts[r] += 1
    return [(rule, fld, n) for (rule, fld), n in counts.most_common(8)], dict(status)


def _flags(conn: Connection, core: Table | None, batch_ids: list[str]) -> list[tuple[str, str, int]]:
    counts: Counter = Counter()
    if core is None or not batch_ids or FLAGS not in core.c:
        return []
    for i in range(0, len(batch_ids), 500):
        for (flags,) in conn.execute(select(core.c[FLAGS]).where(core.c._batch_id.in_(batch_ids[i:i + 500]),
                                                                 core.c[FLAGS].is_not(None))):
            for r in dict.fromkeys((r.get("rule"), r.get("field") or "") for r in json.loads(flags)):
                counts[r] += 1
    return [(rule, fld, n) for (rule, fld), n in counts.most_common(8)]


ACCESS_COLUMNS = {  # what the report needs → the names audit.access may use for it (sharing writes it)
    "consumer": ("agency", "consumer", "consumer_agency", "principal"),
    "at": ("accessed_at", "at", "ts", "requested_at", "created_at"),
    "object": ("entity", "object", "view", "table_name", "resource"),
    "subject": ("subject", "person_uid"),
    "user": ("user_id", "user", "username"),
    "rows": ("row_count", "rows", "rows_returned"),
    "outcome": ("outcome",),
}


def access_counts(conn: Connection, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Reads per consumer agency from ``audit.access`` (written by sharing), if it exists."""
    if not inspect(conn).has_table("access", schema="audit"):
        return {"available": False, "rows": []}
    table = Table("access", MetaData(), schema="audit", autoload_with=conn)
    names = {c.name for c in table.columns}
    col = {k: next((table.c[n] for n in options if n in names), None) for k, options in ACCESS_COLUMNS.items()}
    if col["consumer"] is None:
        return {"available": True, "rows": [], "note": f"audit.access has no consumer column ({sorted(names)})"}
    measures = {
        "reads": func.count(),
        "refused": func.sum(case((col["outcome"] != "ok", 1), else_=0)) if col["outcome"] is not None else None,
        "objects": func.count(func.distinct(col["object"])) if col["object"] is not None else None,
        "persons": func.count(func.distinct(col["subject"])) if col["subject"] is not None else None,
        "users": func.count(func.distinct(col["user"])) if col["user"] is not None else None,
        "rows": func.sum(col["rows"]) if col["rows"] is not None else None,
        "first": func.min(col["at"]) if col["at"] is not None else None,
        "last": func.max(col["at"]) if col["at"] is not None else None,
    }
    present = {k: v for k, v in measures.items() if v is not None}
    q = select(col["consumer"].label("consumer"), *[v.label(k) for k, v in present.items()])
    if col["at"] is not None:
        q = q.where(col["at"] >= since, col["at"] < until)
    q = q.group_by(col["consumer"]).order_by(col["consumer"])
    rows = [{k: r._mapping.get(k) for k in ("consumer", *measures)} for r in conn.execute(q)]
    total = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return {"available": True, "rows": rows, "total": int(total), "period_filtered": col["at"] is not None}


def gather(conn: Connection, out_dir: Path, *, since: dt.datetime, until: dt.datetime,
           quarantines: dict[str, Table], warehouse: str, now: dt.datetime,
           cores: dict[str, Table] | None = None) -> ReportData:
    rows = [dict(r) for r in conn.execute(
        select(batch).where(batch.c.started_at >= since, batch.c.started_at < until)
        .order_by(batch.c.feed, batch.c.started_at, batch.c.batch_id)).mappings()]
    seqs = _ledger_seqs(conn, [r["batch_id"] for r in rows])
    feeds: dict[str, FeedSection] = {}
    for r in rows:
        sec = feeds.setdefault(r["feed"], FeedSection(feed=r["feed"], agency=r["agency"], entity=r["entity"]))
        source = json.loads(r["source"] or "{}")
        sec.batches.append(BatchLine(
            batch_id=r["batch_id"], state=r["state"], started_at=r["started_at"], rows_in=int(r["rows_in"] or 0),
            rows_loaded=int(r["rows_loaded"] or 0), rows_quarantined=int(r["rows_quarantined"] or 0),
            reject_ratio=float(r["reject_ratio"] or 0.0), max_reject_ratio=float(r["max_reject_ratio"] or 0.0),
            docs_link=_link(r["report_path"], out_dir), reprocessing=source.get("kind") == "quarantine",
            code_version=r["code_version"], schema_version=r["schema_version"], ledger=seqs.get(r["batch_id"], []),
            error=r["error"]))
    for sec in feeds.values():
        ids = [b.batch_id for b in sec.regular]
        sec.reasons, sec.quarantine = _reasons_and_status(conn, quarantines.get(sec.entity), ids)
        sec.flags = _flags(conn, (cores or {}).get(sec.entity), [b.batch_id for b in sec.batches])
    kinds = Counter(e.kind for e in chain.entries(conn, since=since, until=until))
    return ReportData(
        since=since, until=until, generated=now, warehouse=warehouse, verification=chain.verify(conn),
        crosscheck=records.crosscheck(conn), kinds=dict(kinds), feeds=sorted(feeds.values(), key=lambda f: f.feed),
        grant_changes=chain.entries(conn, kind="grant_change", since=since, until=until),
        resolutions=chain.entries(conn, kind="quarantine_resolution", since=since, until=until),
        access=access_counts(conn, since, until))


def write_report(conn: Connection, out: Path, *, since: dt.date, until: dt.date | None = None,
                 quarantines: dict[str, Table], warehouse: str, now: dt.datetime,
                 cores: dict[str, Table] | None = None) -> Path:
    from exchange.audit.report_html import render

    start = dt.datetime.combine(since, dt.time())
    end = dt.datetime.combine(until, dt.time()) + dt.timedelta(days=1) if until else now + dt.timedelta(seconds=1)
    data = gather(conn, out.parent, since=start, until=end, quarantines=quarantines, warehouse=warehouse, now=now,
                  cores=cores)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(out)
    return out
