"""The consumers' catalogue: every shared view with its description, fields, PII classes and masks,
the agencies that own the data, its freshness (the last published batch of each feed) and its
quality score (rows that passed validation over rows received, in the last batches).

``build`` is pure: the runner hands in the grants, the feeds and the ``audit.batch`` rows.
``to_html`` writes one self-contained page (inline CSS, no scripts, opens offline).
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from exchange.access.changes import describe_rows
from exchange.access.spec import PARTIAL_DOC, GrantSet
from exchange.access.sql import Dialect, view_name

LAST_BATCHES = 5


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    pii: str
    mask: str
    description: str


@dataclass(frozen=True)
class FeedFreshness:
    feed: str
    agency: str
    last_published: dt.datetime | None
    last_batch: str | None
    batches: int
    rows_in: int
    rows_valid: int

    @property
    def pass_rate(self) -> float | None:
        return self.rows_valid / self.rows_in if self.rows_in else None


@dataclass
class Entry:
    consumer: str
    consumer_name: str
    purpose: str
    view: str
    entity: str
    schema_version: str
    description: str
    fields: list[FieldInfo]
    hidden: list[str]
    rows: str
    feeds: list[FeedFreshness] = field(default_factory=list)

    @property
    def owners(self) -> list[str]:
        return sorted({f.agency for f in self.feeds})

    @property
    def last_published(self) -> dt.datetime | None:
        times = [f.last_published for f in self.feeds if f.last_published]
        return max(times) if times else None

    @property
    def quality(self) -> float | None:
        rows_in = sum(f.rows_in for f in self.feeds)
        return sum(f.rows_valid for f in self.feeds) / rows_in if rows_in else None


def _freshness(feed_ids: list[tuple[str, str]], batches: list[dict[str, Any]], last: int) -> list[FeedFreshness]:
    by_feed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in batches:
        by_feed[b["feed"]].append(b)
    out = []
    for feed, agency in feed_ids:
        rows = sorted(by_feed.get(feed, []), key=lambda b: (b.get("finished_at") or b.get("started_at")
                                                             or dt.datetime.min), reverse=True)
        published = [b for b in rows if b.get("state") == "published"]
        counted = [b for b in rows if b.get("rows_in")][:last]
        out.append(FeedFreshness(
            feed=feed, agency=agency,
            last_published=published[0].get("finished_at") if published else None,
            last_batch=published[0].get("batch_id") if published else None,
            batches=len(counted), rows_in=sum(int(b.get("rows_in") or 0) for b in counted),
            rows_valid=sum(int(b.get("rows_valid") or 0) for b in counted)))
    return out


def build(grants: GrantSet, feeds: dict[str, tuple[str, str]], batches: list[dict[str, Any]], *,
          dialect: Dialect = "postgresql", agency: str | None = None, last: int = LAST_BATCHES) -> list[Entry]:
    """``feeds``: feed id → (agency, entity); ``batches``: audit.batch rows (feed, state, rows_in, rows_valid,
    batch_id, started_at, finished_at)."""
    entries = []
    for g in grants:
        if agency and g.consumer != agency:
            continue
        for entity, share in g.entities.items():
            feed_ids = sorted((fid, a) for fid, (a, e) in feeds.items() if e == entity)
            fields = [FieldInfo("source_agency", "string", "none", "full", "agency that supplied the record")]
            for rule in share.columns:
                fields.append(FieldInfo(rule.name, rule.field.type, rule.field.pii, rule.mask_label,
                                        rule.field.description))
            entries.append(Entry(
                consumer=g.consumer, consumer_name=g.name, purpose=g.purpose,
                view=view_name(g.consumer, entity, dialect), entity=entity, schema_version=share.schema.version,
                description=share.description, fields=fields, hidden=list(share.hidden), rows=describe_rows(share),
                feeds=_freshness(feed_ids, batches, last)))
    return entries


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def when(value: dt.datetime | None) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M")


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans SC",sans-serif;margin:2rem;color:#1d2733}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .3rem;border-bottom:2px solid #d5dde6}
h3{font-size:1rem;margin:1.2rem 0 .2rem;font-family:ui-monospace,monospace}
.meta{color:#5b6b7c}table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{border:1px solid #d5dde6;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f4f8}.pii-direct_identifier{color:#a4161a;font-weight:600}.pii-sensitive{color:#b35c00}
.pii-quasi_identifier{color:#6a4c93}.mask{font-family:ui-monospace,monospace}.num{text-align:right}
.note{background:#fff8e1;border:1px solid #f0d98c;padding:.5rem .8rem}
"""


def to_html(entries: list[Entry], *, generated: dt.datetime, warehouse: str, enforced: bool) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
             f"<title>Shared data catalogue</title><style>{_CSS}</style></head><body>",
             "<h1>Shared data catalogue</h1>",
             f"<p class=\"meta\">generated {e(when(generated))} UTC from {e(warehouse)} · {len(entries)} shared "
             f"view(s) · quality = rows that passed validation / rows received over the last {LAST_BATCHES} "
             f"batches of each feed</p>"]
    if not enforced:
        parts.append("<p class=\"note\">This warehouse is SQLite: the views exist, but SQLite has no roles or "
                     "privileges, so <b>nothing is enforced</b>. Use PostgreSQL to share data.</p>")
    parts.append("<p>Masks: " + "; ".join(f"<span class=\"mask\">partial ({e(k)})</span> {e(v)}"
                                         for k, v in PARTIAL_DOC.items())
                 + "; <span class=\"mask\">pseudonym</span> keyed HMAC-SHA256 per consumer.</p>")
    by_consumer: dict[str, list[Entry]] = defaultdict(list)
    for en in entries:
        by_consumer[en.consumer].append(en)
    for consumer, items in sorted(by_consumer.items()):
        first = items[0]
        parts.append(f"<h2>{e(first.consumer_name)} <span class=\"meta\">({e(consumer)})</span></h2>"
                     f"<p class=\"meta\">purpose: {e(first.purpose)}</p>")
        for en in items:
            parts.append(f"<h3 id=\"{e(en.view)}\">{e(en.view)}</h3><p>{e(en.description)}</p>"
                         f"<p class=\"meta\">schema {e(en.entity)} {e(en.schema_version)} · owner agency: "
                         f"{e(', '.join(en.owners) or '-')} · rows: {e(en.rows)} · last published "
                         f"{e(when(en.last_published))} · quality {e(pct(en.quality))}</p>")
            parts.append("<table><thead><tr><th>field</th><th>type</th><th>PII class</th><th>mask</th>"
                         "<th>description</th></tr></thead><tbody>")
            for f in en.fields:
                parts.append(f"<tr><td>{e(f.name)}</td><td>{e(f.type)}</td><td class=\"pii-{e(f.pii)}\">{e(f.pii)}"
                             f"</td><td class=\"mask\">{e(f.mask)}</td><td>{e(f.description)}</td></tr>")
            parts.append("</tbody></table>")
            if en.hidden:
                parts.append(f"<p class=\"meta\">not shared: {e(', '.join(en.hidden))}</p>")
            if en.feeds:
                parts.append("<table><thead><tr><th>feed</th><th>owner</th><th>last published batch</th>"
                             "<th>at (UTC)</th><th class=\"num\">batches</th><th class=\"num\">rows in</th>"
                             "<th class=\"num\">passed</th></tr></thead><tbody>")
                for fd in en.feeds:
                    parts.append(f"<tr><td>{e(fd.feed)}</td><td>{e(fd.agency)}</td><td>{e(fd.last_batch or '-')}</td>"
                                 f"<td>{e(when(fd.last_published))}</td><td class=\"num\">{fd.batches}</td>"
                                 f"<td class=\"num\">{fd.rows_in:,}</td><td class=\"num\">{e(pct(fd.pass_rate))}</td>"
                                 f"</tr>")
                parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)
