"""The feed health page: one self-contained HTML document (no script, no CDN: agencies run on closed
networks), the same table as ``exchange feeds status``. Served by ``exchange serve`` (``/ops/feeds``)
and by the Airflow plugin (``/exchange/health``)."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

COLOURS = {"ok": "#1a7f37", "new": "#0969da", "degraded": "#9a6700", "late": "#cf222e", "failing": "#a40e26"}

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:24px;color:#1f2328}
h1{font-size:20px;margin:0 0 4px} p.meta{color:#59636e;margin:0 0 16px}
table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #d1d9e0;padding:6px 8px;text-align:left;
vertical-align:top} th{background:#f6f8fa;font-weight:600} td.num{text-align:right;white-space:nowrap}
.state{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600}
.why{color:#59636e;font-size:12px;margin-top:2px} .err{font-family:ui-monospace,monospace;font-size:12px;
white-space:pre-wrap;overflow-wrap:anywhere;max-width:36em} .counts span{margin-right:12px} td.when{white-space:nowrap}
"""


def _t(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return "–" if value is None or value == "" else escape(str(value))


def health_page(healths: list[Any], *, generated: dt.datetime, warehouse: str) -> str:
    counts: dict[str, int] = {}
    for h in healths:
        counts[h.state] = counts.get(h.state, 0) + 1
    rows = []
    for h in healths:
        colour = COLOURS.get(h.state, "#59636e")
        rows_text = "–" if h.last_rows is None else f"{h.last_rows:,}"
        usual_rows = "" if h.usual_rows is None else f" <span class=why>(usual {h.usual_rows:,.0f})</span>"
        ratio = "–" if h.last_reject_ratio is None else f"{h.last_reject_ratio:.1%}"
        usual_ratio = ("" if h.usual_reject_ratio is None
                       else f" <span class=why>(usual {h.usual_reject_ratio:.1%})</span>")
        error = ""
        if h.last_error:
            error = (f"<div class=err>{_t(h.last_error_stage)} · {_t(h.last_error_at)}\n{_t(h.last_error[:400])}</div>")
        reasons = "".join(f"<div class=why>{escape(r)}</div>" for r in h.reasons)
        rows.append(
            f"<tr><td><b>{escape(h.feed)}</b><div class=why>{_t(h.schedule)}</div></td>"
            f"<td><span class=state style='background:{colour}'>{escape(h.state)}</span>{reasons}</td>"
            f"<td class=when>{_t(h.last_success)}</td><td class=when>{_t(h.next_due)}</td>"
            f"<td class=num>{rows_text}{usual_rows}</td><td class=num>{ratio}{usual_ratio}</td>"
            f"<td>{error}</td><td>{escape(h.owner)}<div class=why>{_t(h.contact)}</div></td></tr>")
    summary = "".join(f"<span><span class=state style='background:{COLOURS.get(s, '#59636e')}'>{escape(s)}</span> "
                      f"{n}</span>" for s, n in sorted(counts.items()))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Feed health — Agency Data Exchange</title>"
        f"<meta http-equiv=refresh content=60><style>{STYLE}</style></head><body>"
        "<h1>Feed health</h1>"
        f"<p class=meta>{len(healths)} feeds · warehouse {escape(warehouse)} · generated {generated:%Y-%m-%d %H:%M} UTC"
        " · late = no new data within expect_every + grace · failing = the last attempt failed · degraded = the last"
        " batch far from usual</p>"
        f"<p class=counts>{summary}</p>"
        "<table><thead><tr><th>feed</th><th>state</th><th>last success</th><th>next due</th><th>last rows</th>"
        "<th>rejected</th><th>last error</th><th>owner / contact</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></body></html>")
