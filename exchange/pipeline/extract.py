"""The extract stage: a source's rows, exactly as read (all strings), into ``raw.parquet`` and what
was read into ``extract.json``. The feed's source is its connector (:class:`ConnectorSource`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from connectors import connector_for
from exchange import staging
from exchange.audit import ledger
from exchange.pipeline.checking import Progress, source_columns_of
from exchange.pipeline.records import Extracted
from exchange.pipeline.stage import Opened, Stage
from exchange.pipeline.stamps import batch_id_for
from exchange.spec import faults

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun


class Extract(Stage):
    name = "extract"
    outputs = (staging.RAW, staging.EXTRACT)

    def __init__(self, opened: Opened) -> None:
        self.opened = opened

    def work(self, run: BatchRun, batch_id: str, progress: Progress | None) -> Extracted:
        folder = run.folder(batch_id)
        rows_in, columns = self.opened.write_raw(folder, progress)
        extracted = Extracted(batch_id=batch_id, feed=run.feed.feed_id, fingerprint=self.opened.fingerprint,
                              source=self.opened.describe(), new_state=self.opened.new_state(), rows_in=rows_in,
                              columns=columns, interval=self.opened.interval, requested_by=self.opened.requested_by,
                              notes=self.opened.notes())
        extracted.write(folder)
        return extracted

    def commit(self, run: BatchRun, conn: Connection, batch_id: str, done: Extracted) -> dict[str, Any]:
        return {"rows_in": done.rows_in, "staging_path": str(run.folder(batch_id))}


class ConnectorSource:
    """The feed's own source, through its connector (for incremental sources: a data interval)."""

    nothing = "nothing to extract"

    def __init__(self, interval: tuple[dt.datetime, dt.datetime] | None = None) -> None:
        self.interval = interval

    def open(self, run: BatchRun) -> Opened:
        with run.engine.connect() as conn:
            state = ledger.get_feed_state(conn, run.feed.feed_id)
        connector = connector_for(run.feed.source, base_dir=run.settings.landing_dir, feed_id=run.feed.feed_id,
                                  batch_rows=run.settings.batch_rows, state=state, interval=self.interval)
        fingerprint = connector.fingerprint()

        def write_raw(folder: Path, progress: Progress | None) -> tuple[int, list[str]]:
            return write_connector_raw(folder, connector, progress)

        return Opened(batch_id=batch_id_for(run.feed, run.schema, fingerprint), fingerprint=fingerprint,
                      describe=connector.describe, write_raw=write_raw, new_state=connector.new_state,
                      notes=connector.notes,
                      interval=[str(x) for x in self.interval] if self.interval else None)


def write_connector_raw(folder: Path, connector: Any, progress: Progress | None) -> tuple[int, list[str]]:
    """Every batch of the connector into ``raw.parquet``; a source without rows keeps its header, so
    validation can still check the mapping."""
    sink: staging.ParquetSink | None = None
    rows = 0
    try:
        for rb in connector.batches():
            if sink is None:
                sink = staging.ParquetSink(folder / staging.RAW, rb.schema)
            sink.write(rb)
            rows += rb.num_rows
            faults.point("extract.batch")
            if progress:
                progress("extract", rb.num_rows)
        if sink is None:
            schema = pa.schema([pa.field(c, pa.string()) for c in connector.columns()]
                               + [pa.field("_source_file", pa.string()), pa.field("_source_row", pa.int64()),
                                  pa.field("_parse_error", pa.string())])
            sink = staging.ParquetSink(folder / staging.RAW, schema)
        sink.close()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    return rows, source_columns_of(sink.schema.names)
