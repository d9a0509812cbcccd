"""HTML of the auditors' report: inline CSS, inline SVG charts, no scripts, no external files.

Every dynamic text goes through :func:`t` (scrub identifiers, then escape).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

from exchange.audit.report import BatchLine, FeedSection, ReportData, scrub

CSS = """
:root{--ink:#1d2733;--muted:#5d6b7a;--line:#dfe4ea;--ok:#0a7d20;--bad:#b00020;--warn:#9a6700;--accent:#1f5fbf}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:0;color:var(--ink);
  background:#f6f8fa;font-size:14px;line-height:1.45}
header{background:#14324f;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d6e3}
main{padding:20px 32px;max-width:1280px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:0 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 4px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:140px}
.card b{display:block;font-size:20px}
.card span{color:var(--muted);font-size:12px}
.feed{background:#fff;border:1px solid var(--line);border-radius:6px;padding:14px 16px;margin:0 0 14px}
.feed .top{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.feed .meta{color:var(--muted);font-size:12px;margin:-4px 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.ok,.published,.loaded{color:var(--ok)}
.bad,.failed{color:var(--bad)}
.warn{color:var(--warn)}
.tag{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:#e8eefb;color:var(--accent)}
.integrity{border-left:5px solid var(--ok);background:#fff;padding:10px 14px;border-radius:4px}
.integrity.broken{border-left-color:var(--bad)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.reasons{min-width:320px;flex:1}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;padding:12px 32px 28px}
svg text{font-family:inherit;font-size:10px;fill:var(--muted)}
"""


def t(value: Any) -> str:
    return html.escape(scrub(value))


def _n(value: int | None) -> str:
    return "–" if value is None else f"{int(value):,}"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return t(value or "")


def trend_svg(batches: list[BatchLine], *, width: int = 420, height: int = 150) -> str:
    """Pass rate (rows loaded or valid / rows in) per batch, oldest to newest, with the feed's floor."""
    points = [b for b in batches if b.rows_in]
    if not points:
        return '<p class="empty">no rows in this period</p>'
    floor = 1.0 - max(b.max_reject_ratio for b in points)
    low = min(min(b.pass_rate for b in points), floor)
    lo = max(0.0, int((low - 0.05) * 20) / 20)
    left, right, top, bottom = 40, 12, 12, 26
    w, h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (w / 2 if len(points) == 1 else i * w / (len(points) - 1))

    def y(v: float) -> float:
        return top + (1.0 - (v - lo) / (1.0 - lo or 1.0)) * h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="pass-rate trend">']
    for v in (lo, (lo + 1.0) / 2, 1.0):
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e8ee"/>'
                     f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{v:.0%}</text>')
    parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(floor):.1f}" y2="{y(floor):.1f}" stroke="#b00020" '
                 f'stroke-dasharray="4 3"><title>minimum pass rate {floor:.0%} (max reject ratio)</title></line>')
    path = " ".join(f"{x(i):.1f},{y(b.pass_rate):.1f}" for i, b in enumerate(points))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    for i, b in enumerate(points):
        colour = "#0a7d20" if b.pass_rate >= floor else "#b00020"
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(b.pass_rate):.1f}" r="3.5" fill="{colour}">'
                     f'<title>{t(b.batch_id)} {_when(b.started_at)}: {_pct(b.pass_rate)} '
                     f'({_n(b.rows_in - b.rows_quarantined)} of {_n(b.rows_in)})</title></circle>')
    parts.append(f'<text x="{left}" y="{height - 8}">{_when(points[0].started_at)}</text>')
    if len(points) > 1:
        parts.append(f'<text x="{left + w}" y="{height - 8}" text-anchor="end">{_when(points[-1].started_at)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _batch_rows(sec: FeedSection) -> str:
    out = []
    for b in sec.batches:
        link = f'<a href="{html.escape(b.docs_link)}">Data Docs</a>' if b.docs_link else '<span class="empty">–</span>'
        tag = ' <span class="tag">reprocessing</span>' if b.reprocessing else ""
        ledger = ", ".join(str(s) for s in b.ledger) or '<span class="warn">none</span>'
        error = f'<div class="bad">{t((b.error or "")[:240])}</div>' if b.error else ""
        out.append(
            f"<tr><td>{_when(b.started_at)}</td><td><code>{t(b.batch_id)}</code>{tag}{error}</td>"
            f'<td class="{t(b.state)}">{t(b.state)}</td><td class="num">{_n(b.rows_in)}</td>'
            f'<td class="num">{_n(b.rows_loaded)}</td><td class="num">{_n(b.rows_quarantined)}</td>'
            f'<td class="num">{_pct(b.pass_rate)}</td><td>{t(b.schema_version)}</td>'
            f"<td><code>{t(b.code_version)}</code></td><td>{ledger}</td><td>{link}</td></tr>")
    return "\n".join(out)


def _feed(sec: FeedSection) -> str:
    reasons = "".join(f'<tr><td><code>{t(rule)}</code></td><td>{t(fld)}</td><td class="num">{_n(n)}</td></tr>'
                      for rule, fld, n in sec.reasons)
    reasons_html = (f"<table><thead><tr><th>rule</th><th>field</th><th class=\"num\">rows</th></tr></thead>"
                    f"<tbody>{reasons}</tbody></table>") if reasons else '<p class="empty">no rows quarantined</p>'
    flags = "".join(f'<tr><td><code>{t(rule)}</code></td><td>{t(fld)}</td><td class="num">{_n(n)}</td></tr>'
                    for rule, fld, n in sec.flags)
    flags_html = (f"<table><thead><tr><th>rule</th><th>field</th><th class=\"num\">rows</th></tr></thead>"
                  f"<tbody>{flags}</tbody></table>") if flags else '<p class="empty">no rows loaded with flags</p>'
    q = sec.quarantine
    reg_in, reg_loaded, reg_q = (sec.total(a) for a in ("rows_in", "rows_loaded", "rows_quarantined"))
    resolved = sec.total("rows_loaded", reprocessing=True)
    return f"""
<section class="feed" id="feed-{t(sec.feed)}">
<h3>{t(sec.feed)} <span class="tag">{t(sec.entity)}</span></h3>
<p class="meta">{len(sec.regular)} batch(es): {_n(reg_in)} rows in, {_n(reg_loaded)} loaded, {_n(reg_q)} quarantined
 · quarantine now: {_n(q.get('open', 0))} open, {_n(q.get('resolved', 0))} resolved
 · {_n(resolved)} rows loaded by reprocessing</p>
<div class="top"><div><h3>Pass rate</h3>{trend_svg(sec.regular)}</div>
<div class="reasons"><h3>Top failure reasons</h3>{reasons_html}</div>
<div class="reasons"><h3>Top flags (rows loaded, field kept as unverified)</h3>{flags_html}</div></div>
<table><thead><tr><th>started (UTC)</th><th>batch</th><th>state</th><th class="num">rows in</th>
<th class="num">loaded</th><th class="num">quarantined</th><th class="num">pass rate</th><th>schema</th><th>code</th>
<th>ledger entries</th><th>validation</th></tr></thead>
<tbody>{_batch_rows(sec)}</tbody></table>
</section>"""


def _payload_summary(entry: Any, limit: int = 300) -> str:
    data = entry.data
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(data.items()))
    return t(text if len(text) <= limit else text[:limit] + " …")


def _integrity(d: ReportData) -> str:
    v = d.verification
    if v.ok and not d.crosscheck:
        status = f'<b class="ok">intact</b>: {_n(v.entries)} entries verified, every hash and link checks out'
    elif not v.ok:
        status = (f'<b class="bad">BROKEN</b> at {t(str(v.first_broken))}'
                  + (f" (+{len(v.problems) - 1} more problems)" if len(v.problems) > 1 else ""))
    else:
        status = f'<b class="warn">chain intact, but audit tables differ from it</b>: {_n(len(d.crosscheck))} rows'
    extra = "".join(f"<li>{t(p)}</li>" for p in d.crosscheck[:20])
    kinds = ", ".join(f"{t(k)} {_n(n)}" for k, n in sorted(d.kinds.items())) or "none"
    return f"""
<div class="integrity{'' if v.ok and not d.crosscheck else ' broken'}">
<p>Ledger (<code>audit.ledger</code>): {status}.</p>
<p>Head (record it outside the warehouse; <code>exchange audit verify --anchor</code> checks it later):
<code>{t(v.anchor)}</code></p>
<p>Entries recorded in this period by kind: {kinds}.</p>
{f'<ul>{extra}</ul>' if extra else ''}
</div>"""


def _grants(d: ReportData) -> str:
    if not d.grant_changes:
        return '<p class="empty">no grant changes recorded in this period</p>'
    rows = "".join(f"<tr><td>{_when(e.recorded_at)}</td><td class=\"num\">{e.seq}</td><td>{t(e.subject)}</td>"
                   f"<td>{_payload_summary(e)}</td></tr>" for e in d.grant_changes)
    return (f"<table><thead><tr><th>recorded (UTC)</th><th class=\"num\">ledger entry</th><th>grant</th>"
            f"<th>change</th></tr></thead><tbody>{rows}</tbody></table>")


def _access(d: ReportData) -> str:
    a = d.access
    if not a.get("available"):
        return '<p class="empty">no access log yet (audit.access does not exist in this warehouse)</p>'
    if a.get("note"):
        return f'<p class="warn">{t(a["note"])}</p>'
    if not a["rows"]:
        return f'<p class="empty">no reads recorded in this period ({_n(a.get("total"))} in the whole log)</p>'
    rows = "".join(f"<tr><td>{t(r['consumer'])}</td><td class=\"num\">{_n(r['reads'])}</td>"
                   f"<td class=\"num\">{_n(r['refused'])}</td><td class=\"num\">{_n(r['users'])}</td>"
                   f"<td class=\"num\">{_n(r['objects'])}</td><td class=\"num\">{_n(r['persons'])}</td>"
                   f"<td class=\"num\">{_n(r['rows'])}</td><td>{_when(r.get('first'))}</td>"
                   f"<td>{_when(r.get('last'))}</td></tr>" for r in a["rows"])
    return (f"<table><thead><tr><th>consumer</th><th class=\"num\">requests</th><th class=\"num\">refused</th>"
            f"<th class=\"num\">users</th><th class=\"num\">kinds of data</th><th class=\"num\">persons</th>"
            f"<th class=\"num\">records returned</th><th>first</th><th>last</th></tr></thead><tbody>{rows}</tbody>"
            f"</table><p class=\"meta\">{_n(a.get('total'))} requests in the whole log (audit.access); the "
            f"exchange never deletes them.</p>")


def _resolutions(d: ReportData) -> str:
    if not d.resolutions:
        return '<p class="empty">no quarantine rows were reprocessed in this period</p>'
    rows = []
    for e in d.resolutions:
        p = e.data
        rows.append(f"<tr><td>{_when(e.recorded_at)}</td><td class=\"num\">{e.seq}</td><td>{t(p.get('feed'))}</td>"
                    f"<td><code>{t(e.subject)}</code></td><td class=\"num\">{_n(p.get('rows_in'))}</td>"
                    f"<td class=\"num\">{_n(p.get('rows_loaded'))}</td>"
                    f"<td class=\"num\">{_n(p.get('rows_still_quarantined'))}</td>"
                    f"<td>{t(p.get('requested_by') or '')}</td></tr>")
    return (f"<table><thead><tr><th>recorded (UTC)</th><th class=\"num\">ledger entry</th><th>feed</th><th>batch</th>"
            f"<th class=\"num\">rows re-checked</th><th class=\"num\">resolved (loaded)</th>"
            f"<th class=\"num\">still quarantined</th><th>requested by</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def render(d: ReportData) -> str:
    regular = [b for f in d.feeds for b in f.regular]
    cards = [("batches", _n(len(regular))), ("rows in", _n(sum(b.rows_in for b in regular))),
             ("rows loaded", _n(sum(b.rows_loaded for b in regular))),
             ("rows quarantined", _n(sum(b.rows_quarantined for b in regular))),
             ("resolved by reprocessing", _n(sum(f.total("rows_loaded", True) for f in d.feeds))),
             ("open in quarantine", _n(sum(f.quarantine.get("open", 0) for f in d.feeds))),
             ("failed batches", _n(sum(1 for b in regular if b.state == "failed"))),
             ("ledger", "intact" if d.verification.ok and not d.crosscheck else "BROKEN")]
    card_html = "".join(f'<div class="card"><b class="{"bad" if v == "BROKEN" else ""}">{v}</b>'
                        f"<span>{k}</span></div>" for k, v in cards)
    agencies = []
    for agency, feeds in d.agencies.items():
        agencies.append(f'<h2 id="agency-{t(agency)}">Agency: {t(agency)}</h2>' + "".join(_feed(f) for f in feeds))
    until = d.until - dt.timedelta(seconds=1)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Agency Data Exchange — audit report {d.since:%Y-%m-%d} to {until:%Y-%m-%d}</title>
<style>{CSS}</style></head>
<body>
<header><h1>Agency Data Exchange — audit report</h1>
<p>Period {d.since:%Y-%m-%d} to {until:%Y-%m-%d} (UTC) · generated {d.generated:%Y-%m-%d %H:%M:%S} UTC ·
warehouse {t(d.warehouse)}</p></header>
<main>
<div class="cards">{card_html}</div>
<h2>Integrity of the record</h2>
{_integrity(d)}
{''.join(agencies) or '<p class="empty">no batches in this period</p>'}
<h2>Reprocessed quarantine</h2>
{_resolutions(d)}
<h2>Grant changes</h2>
{_grants(d)}
<h2>Access per consumer</h2>
{_access(d)}
</main>
<footer>Personal identifiers are masked throughout: the report holds counts, rule codes, field names, batch ids and
hashes, never row values. Pass rate = rows not quarantined ÷ rows in; the dashed line is the feed's minimum
(1 − max reject ratio). Each “Data Docs” link opens the batch's Great Expectations validation result (samples
masked). Lineage of any row: <code>exchange audit lineage core.&lt;entity&gt; AGENCY:RECORD_ID</code>.</footer>
</body></html>
"""
