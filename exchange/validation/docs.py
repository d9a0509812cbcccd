"""GX Data Docs for auditors: one HTML page per batch under the reports directory.

The results stored here are the merged, masked results of ``BatchValidator``; the raw
per-row results (which hold full identifiers) are never written to the reports.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class DataDocs:
    """A GX file context rooted in ``reports_dir``; its local site is the auditors' docs."""

    def __init__(self, reports_dir: Path) -> None:
        import great_expectations as gx

        reports_dir.mkdir(parents=True, exist_ok=True)
        self.reports_dir = reports_dir
        self.context = gx.get_context(mode="file", project_root_dir=str(reports_dir))
        self.context.variables.progress_bars = {"globally": False, "metric_calculations": False}

    @property
    def site_dir(self) -> Path:
        return self.reports_dir / "gx" / "uncommitted" / "data_docs" / "local_site"

    def index(self) -> Path:
        return self.site_dir / "index.html"

    def publish(self, suite: Any, result: Any, *, batch_id: str, feed_id: str,
                run_time: dt.datetime) -> Path:
        """Store ``result`` for ``batch_id`` and render its page; return the page's path."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        self.context.suites.add_or_update(suite)
        run_id = RunIdentifier(run_name=batch_id, run_time=run_time)
        result.meta = {**(result.meta or {}), "run_id": run_id, "validation_time": run_time,
                       "active_batch_definition": {"datasource_name": "exchange",
                                                   "data_asset_name": feed_id}}
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
            run_id=run_id, batch_identifier=feed_id)
        self.context.validation_results_store.set(key, result)
        self.context.build_data_docs(resource_identifiers=[key])
        *folders, name = key.to_tuple()
        page = self.site_dir.joinpath("validations", *folders, f"{name}.html")
        if not page.exists():
            log.warning("GX did not write the expected page %s; pointing at the index", page)
            page = self.index()
        log.info("data docs for batch %s: %s", batch_id, page)
        return page


INDEX_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left}
th{background:#f4f4f4}.num{text-align:right}.loaded,.published{color:#0a7d20}.failed{color:#b00020}
"""


def write_index(reports_dir: Path, batches: list[dict[str, Any]], *, generated: dt.datetime) -> Path:
    """A self-contained index of every batch's report (no external scripts or styles, so it
    opens offline; GX's own index needs a CDN to render its table)."""
    import html

    rows = []
    for b in batches:
        page = b.get("report_path")
        link = "-"
        if page:
            try:
                rel = Path(page).resolve().relative_to(reports_dir.resolve())
                link = f'<a href="{html.escape(str(rel))}">validation result</a>'
            except ValueError:
                link = html.escape(str(page))
        cells = [html.escape(str(b.get(k) or "")) for k in ("feed", "batch_id")]
        state = html.escape(str(b.get("state") or ""))
        nums = [f'<td class="num">{int(b.get(k) or 0):,}</td>'
                for k in ("rows_in", "rows_loaded", "rows_quarantined")]
        ratio = b.get("reject_ratio")
        rows.append(f"<tr><td>{cells[0]}</td><td><code>{cells[1]}</code></td><td class=\"{state}\">{state}</td>"
                    f"{''.join(nums)}<td class=\"num\">{'' if ratio is None else f'{ratio:.1%}'}</td>"
                    f"<td>{html.escape(str(b.get('started_at') or ''))}</td><td>{link}</td>"
                    f"<td>{html.escape((b.get('error') or '')[:200])}</td></tr>")
    body = "\n".join(rows) or '<tr><td colspan="10">no batches yet</td></tr>'
    text = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Agency Data Exchange — validation reports</title><style>{INDEX_STYLE}</style></head><body>
<h1>Validation reports</h1>
<p>One row per batch, newest first. Each link opens the batch's Great Expectations validation result;
sample values are masked. Generated {generated:%Y-%m-%d %H:%M:%S} UTC.</p>
<table><thead><tr><th>feed</th><th>batch</th><th>state</th><th class="num">rows in</th><th class="num">loaded</th>
<th class="num">quarantined</th><th class="num">reject %</th><th>started (UTC)</th><th>report</th><th>error</th></tr>
</thead><tbody>
{body}
</tbody></table></body></html>
"""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "index.html"
    path.write_text(text, encoding="utf-8")
    return path
