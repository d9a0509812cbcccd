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
