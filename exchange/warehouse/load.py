"""Load a staged batch: quarantine rows always, valid rows by upsert with history.

Everything here runs on a connection inside the caller's transaction, so the runner can
commit the load and its ledger entry as one unit. Re-loading the same batch changes
nothing: quarantine rows already held are kept (never deleted), core rows are only touched
where the row hash differs, and a superseded version is copied to ``core.<entity>_history`` first.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from exchange.spec import faults
from exchange.spec.schema import SOURCE_AGENCY, SOURCE_RECORD_ID, EntitySchema
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.tables import EntityTables

log = logging.getLogger(__name__)



@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def ensure_tables(engine: Engine, schemas: Iterable[EntitySchema], *extra: MetaData) -> None:
    """Create or upgrade the warehouse for ``schemas`` (see ``exchange.warehouse.migrate``).

    ``extra`` MetaData (e.g. the ``audit`` tables, which the versioned migrations own) is
    accepted for callers that pass it; only tables it declares are compared.
    """
    from exchange.warehouse.migrate import migrate

    migrate(engine, schemas, *[md for md in extra if not _is_audit(md)])


def _is_audit(md: MetaData) -> bool:
    return all(t.schema == "audit" for t in md.tables.values())


def _insert(conn: Connection, table: Table, batches: Iterable[pa.RecordBatch], extra: dict[str, object]) -> int:
    return dialect_of(conn).bulk_insert(conn, table, batches, extra)


def load_quarantine(conn: Connection, tables: EntityTables, *, batch_id: str, agency: str,
                    batches: Iterable[pa.RecordBatch], now: dt.datetime) -> int:
    """Put the batch's staged rejects in quarantine; return how many were staged.

    Quarantined rows are never deleted: a new attempt of a batch that did not load (e.g. over its
    reject ratio) keeps the rows an earlier attempt quarantined, as they are, and adds the others.
    """
    q = tables.quarantine
    extra = {"_batch_id": batch_id, SOURCE_AGENCY: agency, "status": "open", "_quarantined_at": now}
    held = {(f, int(r)) for f, r in conn.execute(select(q.c._source_file, q.c._source_row)
                                                  .where(q.c._batch_id == batch_id))}
    if not held:
        return _insert(conn, q, batches, extra)
    staged = 0

    def not_held() -> Iterable[pa.RecordBatch]:
        nonlocal staged
        for b in batches:
            staged += b.num_rows
            keys = zip(b.column("_source_file").to_pylist(), b.column("_source_row").to_pylist(), strict=True)
            yield b.filter(pa.array([(f, r) not in held for f, r in keys], type=pa.bool_()))

    _insert(conn, q, not_held(), extra)
    return staged


def _stage_table(tables: EntityTables, prefix: str = "_stage", *extra: Column) -> Table:
    cols = [Column(c.name, c.type) for c in tables.core.columns]
    return Table(f"{prefix}_{tables.schema.name}", MetaData(), *cols, *extra, prefixes=["TEMPORARY"])


HELD = "_held"
"""The column of the delta table (:func:`_merge`) that says core holds an earlier version of the row."""


def _dialect_insert(conn: Connection) -> Any:
    return dialect_of(conn).insert


def _replace_changed(conn: Connection, core: Table, stage: Table, data_cols: list[str]) -> None:
    """An event table's upsert: the changed versions (already copied to history) deleted, then every staged
    row the table does not hold inserted — the new and the changed ones, each into its month's partition
    (a corrected time moves the record to its new month)."""
    same = and_(core.c[SOURCE_AGENCY] == stage.c[SOURCE_AGENCY], core.c[SOURCE_RECORD_ID] == stage.c[SOURCE_RECORD_ID])
    conn.execute(core.delete().where(select(stage.c[SOURCE_RECORD_ID]).where(same)
                                     .where(core.c._row_hash != stage.c._row_hash).exists()))
    held = select(core.c[SOURCE_RECORD_ID]).where(same).exists()
    conn.execute(core.insert().from_select(data_cols, select(*[stage.c[c] for c in data_cols]).where(~held)))


class CoreUpsert:
    """An upsert into ``core.<entity>`` in two steps on one connection: ``copy`` the valid rows (one bulk
    insert, which may run on another thread while the caller validates the next chunk), then ``finish``.

    When the agency has no rows in the table yet (its first load) there is nothing to compare or
    supersede: rows go straight into core (COPY on PostgreSQL); keys are unique within a batch
    (duplicates were quarantined), so no conflict is possible. Otherwise they go into a temporary stage
    table, and ``finish`` counts, keeps the superseded versions in history and upserts."""

    def __init__(self, conn: Connection, tables: EntityTables, *, batch_id: str, agency: str, now: dt.datetime,
                 unique_keys: bool = False) -> None:
        self.conn, self.tables, self.batch_id, self.agency, self.now = conn, tables, batch_id, agency, now
        core = tables.core
        self.event = tables.schema.event is not None
        if self.event:
            from exchange.warehouse.partitions import ensure_partitions

            ensure_partitions(conn, tables.schema.name, now.date())
        self.direct = unique_keys and conn.execute(
            select(core.c[SOURCE_AGENCY]).where(core.c[SOURCE_AGENCY] == agency).limit(1)).first() is None
        self.stage: Table | None = None
        if not self.direct:
            self.stage = _stage_table(tables)
            self.stage.drop(conn, checkfirst=True)
            self.stage.create(conn)
        self.copied = 0

    def copy(self, batches: Iterable[pa.RecordBatch]) -> int:
        """Bulk insert the rows (into core directly, or into the stage table); returns how many."""
        target = self.tables.core if self.stage is None else self.stage
        self.copied += _insert(self.conn, target, batches, {SOURCE_AGENCY: self.agency, "_batch_id": self.batch_id,
                                                            "_loaded_at": self.now})
        return self.copied

    def finish(self) -> UpsertCounts:
        if self.stage is None:
            log.info("core.%s: first load of %s, %s rows inserted", self.tables.schema.name, self.agency, self.copied)
            return UpsertCounts(inserted=self.copied)
        counts = _merge(self.conn, self.tables, self.stage, self.copied, self.batch_id, self.now, self.event)
        # on failure the transaction's rollback takes it; dropping it there would hide the error on PostgreSQL
        self.stage.drop(self.conn)
        log.info("core.%s: %s inserted, %s updated, %s unchanged", self.tables.schema.name,
                 counts.inserted, counts.updated, counts.unchanged)
        return counts


def upsert_core(conn: Connection, tables: EntityTables, *, batch_id: str, agency: str,
                batches: Iterable[pa.RecordBatch], now: dt.datetime, unique_keys: bool = False) -> UpsertCounts:
    """Upsert staged valid rows into ``core.<entity>``, keeping superseded versions (:class:`CoreUpsert`)."""
    upsert = CoreUpsert(conn, tables, batch_id=batch_id, agency=agency, now=now, unique_keys=unique_keys)
    upsert.copy(batches)  # a failure rolls the transaction back, and the temporary stage table with it
    return upsert.finish()


def _merge(conn: Connection, tables: EntityTables, stage: Table, total: int, batch_id: str, now: dt.datetime,
           event: bool) -> UpsertCounts:
    """The ``total`` staged rows into core. One join of the stage table with core sets the new and the changed rows
    apart (a temporary delta table; an agency's next full export is mostly unchanged rows, which are only
    counted); the versions the changed ones supersede are kept in history, then the delta is upserted (an
    event table: the changed versions replaced)."""
    core, hist = tables.core, tables.history
    data_cols = [c.name for c in core.columns]
    delta = _stage_table(tables, "_delta", Column(HELD, Boolean()))
    delta.drop(conn, checkfirst=True)
    delta.create(conn)
    on = and_(core.c[SOURCE_AGENCY] == stage.c[SOURCE_AGENCY],
              core.c[SOURCE_RECORD_ID] == stage.c[SOURCE_RECORD_ID])
    held = core.c[SOURCE_RECORD_ID].is_not(None)
    conn.execute(delta.insert().from_select(
        [*data_cols, HELD], select(*[stage.c[c] for c in data_cols], held).select_from(stage.outerjoin(core, on))
        .where(or_(~held, core.c._row_hash != stage.c._row_hash))))
    moved, changed = conn.execute(select(func.count(), func.coalesce(func.sum(
        case((delta.c[HELD], 1), else_=0)), 0)).select_from(delta)).one()
    counts = UpsertCounts(inserted=moved - changed, updated=changed, unchanged=total - moved)

    on = and_(core.c[SOURCE_AGENCY] == delta.c[SOURCE_AGENCY],
              core.c[SOURCE_RECORD_ID] == delta.c[SOURCE_RECORD_ID])
    superseded = (select(*[core.c[c] for c in data_cols],
                         # a typed literal, not CAST: SQLite's CAST(text AS DATETIME) keeps only the year
                         literal(now, hist.c._superseded_at.type).label("_superseded_at"),
                         func.cast(batch_id, hist.c._superseded_by.type).label("_superseded_by"))
                  .select_from(core.join(delta, on)))  # the new rows have no version in core
    conn.execute(hist.insert().from_select([*data_cols, "_superseded_at", "_superseded_by"], superseded))

    faults.point("load.upsert")
    if event:  # partitioned: no unique index on (agency, record id) alone, so no ON CONFLICT
        _replace_changed(conn, core, delta, data_cols)
    else:
        insert = _dialect_insert(conn)(core).from_select(data_cols, select(*[delta.c[c] for c in data_cols])
                                                         .where(True))
        update_cols = {c: insert.excluded[c] for c in data_cols if c not in (SOURCE_AGENCY, SOURCE_RECORD_ID)}
        conn.execute(insert.on_conflict_do_update(
            index_elements=[SOURCE_AGENCY, SOURCE_RECORD_ID], set_=update_cols,
            where=core.c._row_hash != insert.excluded._row_hash))
    delta.drop(conn)  # on failure the transaction's rollback takes it (it was created in it)
    return counts
