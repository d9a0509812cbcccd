"""Crash recovery: ``exchange run`` is killed with SIGKILL at every stage of a batch, then run again.

For each named fault point (``exchange.spec.faults``) a child process runs the feed on a 6,000-row
file read in 1,000-row chunks and stops there; the test checks that the run really is in the middle
of that work (a partial file being written, a COPY under way on the server, an open transaction),
kills the child with SIGKILL — no handler, no cleanup — and runs the feed again. Afterwards:

- no duplicates: every natural key once in ``core.person``; history only for rows that changed;
- no loss: rows in core + rows the batch quarantined = rows of the file;
- a consistent ledger: one ``audit.batch`` row for the file, published, rows_in = loaded +
  quarantined, two attempts (the killed one and the rerun), no batch in a non-terminal state; the
  hash-chained ledger intact, with exactly one manifest, validation and load entry for the batch;
- no partial file of the killed attempt left in staging.

``first`` runs load into an empty table (a plain COPY / INSERT into core); ``update`` runs first load
half of the rows with other names, so the killed run takes the upsert path (stage table, history).
Both warehouses: PostgreSQL (a fresh database per test) and the embedded SQLite. On PostgreSQL
``exchange run`` copies the valid rows while it validates (``exchange.pipeline.preload``): the
overlap tests (PostgreSQL only) kill it with that COPY under way in the middle of validation; the
``load.copy`` cases run with ``EXCHANGE_OVERLAP_LOAD=off``, the COPY in the load stage.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from exchange.audit import chain, records
from exchange.runner import run_feed
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from tests.conftest import write
from tests.integration.crash import Children, make_rows, q, sigkill, use_project, wait_for

ROWS, CHUNK, PRELOAD = 6000, 1000, 3000
FEED_ID = "police.residents"

CASES = [
    ("extract.batch", "first"),       # raw Parquet half written
    ("validate.chunk", "first"),      # valid / rejects Parquet half written
    ("stage.sealed", "first"),        # manifest written, not yet recorded
    ("load.copy", "first"),           # COPY into core under way
    ("load.copy", "update"),          # COPY into the stage table under way
    ("load.upsert", "update"),        # history written, upsert not yet run
    ("load.before_ledger", "update"),  # every row written, ledger entry and commit not yet
    ("load.committed", "first"),      # committed, not yet published
]


@pytest.fixture(params=["postgresql", "sqlite"])
def warehouse(request: pytest.FixtureRequest, project: Path, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Settings:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'warehouse' / 'exchange.db'}"
    return use_project(project, tmp_path, monkeypatch, url, batch_rows=CHUNK)


def preload(settings: Settings, csv: str) -> str:
    """The first half of the rows, every tenth with another name: the rerun updates those."""
    lines = csv.splitlines()[:PRELOAD + 1]
    for i in range(1, len(lines), 10):
        lines[i] = lines[i].replace(f",居民{i - 1},", f",旧名{i - 1},")
    write(settings.landing_dir / "police" / "r.csv", "\n".join(lines) + "\n")
    out = run_feed(FEED_ID, settings=settings)
    assert out.state == "published"
    return out.batch_id


def batch_folder(settings: Settings, skip: set[str]) -> Path:
    folders = [f for f in (settings.staging_dir / "police" / "residents").iterdir() if f.name not in skip]
    assert len(folders) == 1, folders
    return folders[0]


def assert_mid_work(point: str, settings: Settings, folder: Path, before: int, overlap: bool = False) -> None:
    """The child stopped in the middle of the work the point names, not before or after it."""
    pg = settings.warehouse_url.startswith("postgresql")
    state = q(settings, f"SELECT state FROM audit.batch WHERE batch_id = '{folder.name}'")
    partial = {f.name.split(".tmp-")[0] for f in folder.iterdir() if ".tmp-" in f.name and f.stat().st_size}
    present = {f.name for f in folder.iterdir()}
    journals = [] if pg else list(Path(make_url(settings.warehouse_url).database or "").parent.glob("*-journal"))
    backends = q(settings, "SELECT state, left(query, 4) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND state <> 'idle'") if pg else []
    if point == "extract.batch":  # after the first of six source batches, written to the unfinished file
        assert state == [("started",)] and ".raw.parquet" in partial and "raw.parquet" not in present
    elif overlap:  # the COPY of the first valid chunk under way; validation goes on (it may even be sealed)
        assert state in ([("extracted",)], [("validated",)], [("staged",)]), state
        assert q(settings, "SELECT count(*) FROM core.person") == [(before,)]
        # the preload's COPY is the one the point names; beside it validation goes on, and its stage may be
        # committing its ledger state on a connection of its own at this moment ("idle in transaction" between
        # two statements), which is not the load's work
        assert [b[:2] for b in backends if b[1] == "COPY"] == [("active", "COPY")], backends
    elif point == "validate.chunk":
        assert state == [("extracted",)] and {".valid.parquet", ".rejects.parquet"} <= partial
        assert "validation.json" not in present
    elif point == "stage.sealed":
        assert state == [("validated",)] and "manifest.json" in present
    elif point.startswith("load.") and point != "load.committed":
        assert state == [("staged",)]
        assert q(settings, "SELECT count(*) FROM core.person") == [(before,)]  # nothing committed yet
        if pg:
            want = ("active", "COPY") if point == "load.copy" else ("idle in transaction",)
            assert [b[:len(want)] for b in backends] == [want], backends
        else:
            assert journals, "no open SQLite write transaction"
    else:
        assert state == [("loaded",)] and q(settings, "SELECT count(*) FROM core.person") == [(ROWS - ROWS // 100,)]


@pytest.mark.parametrize(("point", "scenario"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_sigkill_then_rerun_loses_and_duplicates_nothing(warehouse: Settings, children: Children, tmp_path: Path,
                                                          point: str, scenario: str) -> None:
    _kill_then_rerun(warehouse, children, tmp_path, point, scenario, overlap=False)


@pytest.mark.parametrize("scenario", ["first", "update"])
def test_sigkill_during_the_copy_overlapping_validation(pg_url: str, project: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, children: Children,
                                                        scenario: str) -> None:
    """PostgreSQL only: SQLite loads after validating (one writer), there is no overlap to kill."""
    warehouse = use_project(project, tmp_path, monkeypatch, pg_url, batch_rows=CHUNK)
    _kill_then_rerun(warehouse, children, tmp_path, "load.copy", scenario, overlap=True)


def _kill_then_rerun(warehouse: Settings, children: Children, tmp_path: Path, point: str, scenario: str, *,
                     overlap: bool) -> None:
    csv, bad = make_rows(ROWS)
    earlier = {preload(warehouse, csv)} if scenario == "update" else set()
    before = PRELOAD - PRELOAD // 100 if earlier else 0  # rows in core before the killed run
    write(warehouse.landing_dir / "police" / "r.csv", csv)

    marker = tmp_path / "reached"
    env = {"EXCHANGE_OVERLAP_LOAD": "off"} if point == "load.copy" and not overlap else {}
    proc = children.spawn(FEED_ID, point=point, marker=marker, env=env)
    wait_for(marker, proc)
    folder = batch_folder(warehouse, earlier)
    assert_mid_work(point, warehouse, folder, before, overlap)
    sigkill(proc)

    out = run_feed(FEED_ID, settings=warehouse)
    assert (out.state, out.batch_id) == ("published", folder.name)
    # no duplicates, no loss
    assert q(warehouse, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [
        (ROWS - bad, ROWS - bad)]
    quarantined = q(warehouse, f"SELECT count(*), count(DISTINCT _source_row) FROM quarantine.person "
                               f"WHERE _batch_id = '{out.batch_id}'")
    assert quarantined == [(bad, bad)]
    assert ROWS - bad + quarantined[0][0] == ROWS
    changed = PRELOAD // 10 if scenario == "update" else 0
    assert q(warehouse, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person_history") == [
        (changed, changed)]
    # a consistent ledger
    batches = q(warehouse, "SELECT batch_id, state, rows_in, rows_loaded, rows_quarantined, attempts, error "
                           "FROM audit.batch ORDER BY started_at")
    assert [b[0] for b in batches] == [*earlier, out.batch_id]
    assert batches[-1][1:] == ("published", ROWS, ROWS - bad, bad, 2, None)
    assert all(b[1] == "published" and b[2] == b[3] + b[4] for b in batches)
    entries = q(warehouse, f"SELECT kind, count(*) FROM audit.ledger WHERE subject = '{out.batch_id}' "
                           "GROUP BY kind ORDER BY kind")
    assert entries == [("batch_load", 1), ("batch_manifest", 1), ("validation_result", 1)]
    engine = make_engine(warehouse.warehouse_url, root=warehouse.root)
    try:
        with engine.connect() as conn:
            assert chain.verify(conn).ok and records.crosscheck(conn) == []
    finally:
        engine.dispose()
    # the killed attempt's partial files are gone; the batch stays sealed
    assert not [f.name for f in folder.iterdir() if ".tmp-" in f.name or f.name.startswith(".keys")]
    assert (folder / "manifest.json").exists()
